"""What a Backup or Restore selects: Velero's include/exclude lists
(pkg/util/collections IncludesExcludes: `*` or empty includes everything,
an exclude always wins) and the resolution of resource names the way
Velero's discovery helper resolves them (plural, singular, short name or
kind, optionally qualified by group: "secrets", "deploy",
"deployments.apps", "ingresses.networking.k8s.io"); and Velero's checks of
such lists, with its messages."""
import fnmatch
import re


class IncludesExcludes:
    def __init__(self, includes=None, excludes=None):
        self.includes = list(includes or [])
        self.excludes = list(excludes or [])

    def includes_everything(self):
        return (not self.includes or "*" in self.includes) and not self.excludes

    def should_include(self, value):
        if any(fnmatch.fnmatchcase(value, pattern) for pattern in self.excludes):
            return False
        if not self.includes or "*" in self.includes:
            return True
        return any(fnmatch.fnmatchcase(value, pattern) for pattern in self.includes)


def group_resource(rtype):
    """Velero's group-resource string: `deployments.apps`, `configmaps`."""
    return f"{rtype.plural}.{rtype.group}" if rtype.group else rtype.plural


def resolve_resource(name, served, known=()):
    """The group-resource string a user-given resource name means on this
    server; else the one of `known` group-resources (e.g. those in a backup
    from another cluster) it names; else the name itself, lower-cased."""
    name = name.strip().lower()
    if name == "*":
        return name
    candidates = []
    for rtype in served:
        names = {rtype.plural, rtype.singular, rtype.kind.lower(), *rtype.short_names}
        for alias in names:
            if name == alias or (rtype.group and name == f"{alias}.{rtype.group}"):
                candidates.append(rtype)
                break
    if not candidates:
        return next((gr for gr in known if name in (gr, gr.split(".", 1)[0])), name)
    # core group first, as the RESTMapper prefers it for unqualified names
    candidates.sort(key=lambda rtype: rtype.group != "")
    return group_resource(candidates[0])


def resource_filter(includes, excludes, served, known=()):
    """IncludesExcludes over group-resource strings."""
    return IncludesExcludes([resolve_resource(n, served, known) for n in includes or []],
                            [resolve_resource(n, served, known) for n in excludes or []])


# Velero 1.16.2 pkg/util/collections/includes_excludes.go: the messages of
# ValidateIncludesExcludes and friends. Each walks Go string sets, whose List()
# is sorted: the same item given twice is one item, and errors come in order.
INCLUDES_STAR_ONLY = "includes list must either contain '*' only, or a non-empty list of items"
EXCLUDES_NO_STAR = "excludes list cannot contain '*'"
EXCLUDES_STAR_ONLY = "excludes list must either contain '*' only, or a non-empty list of items"
EXCLUDE_STAR_WITH_INCLUDES = "when exclude is '*', include cannot have value"
# k8s.io/apimachinery v0.31.3 pkg/util/validation IsDNS1123Label (ValidateNamespaceName)
DNS1123_LABEL_MAX = 63
DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_LABEL = re.compile(DNS1123_LABEL_FMT)                  # used with fullmatch, as Go's ^...$
DNS1123_SUBDOMAIN = re.compile(f"{DNS1123_LABEL_FMT}(\\.{DNS1123_LABEL_FMT})*")
DNS1123_LABEL_ERROR = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
                       "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
                       f"used for validation is '{DNS1123_LABEL_FMT}')")


def _overlap(includes, excludes):
    return [f"excludes list cannot contain an item in the includes list: {item}"
            for item in excludes if item in includes]


def validate_includes_excludes(includes, excludes):
    """Velero's ValidateIncludesExcludes: its error texts, in its order."""
    includes, excludes = sorted(set(includes or [])), sorted(set(excludes or []))
    errors = []
    if len(includes) > 1 and "*" in includes:
        errors.append(INCLUDES_STAR_ONLY)
    if "*" in excludes:
        errors.append(EXCLUDES_NO_STAR)
    return errors + _overlap(includes, excludes)


def validate_namespace_includes_excludes(includes, excludes):
    """Velero's ValidateNamespaceIncludesExcludes (Backups only): the list
    rules, then every name ("*" read as a letter) as a namespace name."""
    errors = validate_includes_excludes(includes, excludes)
    for name in sorted(set(includes or [])) + sorted(set(excludes or [])):
        errors += [f"invalid namespace {go_quote(name)}: {problem}" for problem in _namespace_name_problems(name)]
    return errors


def validate_scoped_includes_excludes(includes, excludes):
    """Velero's ValidateScopedIncludesExcludes (the cluster-scoped and
    namespace-scoped resource lists of a Backup)."""
    includes, excludes = sorted(set(includes or [])), sorted(set(excludes or []))
    errors = []
    if len(includes) > 1 and "*" in includes:
        errors.append(INCLUDES_STAR_ONLY)
    if len(excludes) > 1 and "*" in excludes:
        errors.append(EXCLUDES_STAR_ONLY)
    if includes and "*" in excludes:
        errors.append(EXCLUDE_STAR_WITH_INCLUDES)
    return errors + _overlap(includes, excludes)


def _namespace_name_problems(name):
    """validateNamespaceName: "" means no namespace and passes; "*" is a wildcard."""
    if name == "":
        return []
    name = name.replace("*", "x")
    problems = []
    if len(name) > DNS1123_LABEL_MAX:
        problems.append(f"must be no more than {DNS1123_LABEL_MAX} characters")
    if not DNS1123_LABEL.fullmatch(name):
        problems.append("must not contain dots" if DNS1123_SUBDOMAIN.fullmatch(name) else DNS1123_LABEL_ERROR)
    return problems


_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
               "\v": "\\v", "\\": "\\\\", '"': '\\"'}


def go_quote(text):
    """Go's %q of a string (strconv.Quote): double quotes, backslash escapes
    for quotes, backslashes and control characters, printable Unicode kept."""
    out = []
    for char in text:
        if char in _GO_ESCAPES:
            out.append(_GO_ESCAPES[char])
        elif char.isprintable() or char == " ":
            out.append(char)
        elif ord(char) < 0x80:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) < 0x10000:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    return '"' + "".join(out) + '"'
