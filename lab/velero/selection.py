"""What a Backup or Restore selects: Velero's include/exclude lists
(pkg/util/collections IncludesExcludes: `*` or empty includes everything,
an exclude always wins) and the resolution of resource names the way
Velero's discovery helper resolves them (plural, singular, short name or
kind, optionally qualified by group: "secrets", "deploy",
"deployments.apps", "ingresses.networking.k8s.io")."""
import fnmatch


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


def validate_includes_excludes(includes, excludes, what):
    """Velero's validation errors for an include/exclude pair."""
    errors = []
    if "*" in (excludes or []):
        errors.append(f"excludes list must not contain '*' ({what})")
    for item in set(includes or []) & set(excludes or []):
        errors.append(f"excludes list cannot contain an item in the includes list: {item} ({what})")
    return errors
