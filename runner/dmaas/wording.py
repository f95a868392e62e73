"""Every text of Velero or a plugin that the runner looks for in what they
write (logs, results, statuses), with where upstream writes it. The runner
matches no other wording: the lab writes these same words, and
tests/runner/test_upstream_wording.py checks that no check of steps/,
runner/dmaas or runner/driver matches text only the lab writes.

A pattern here is a regular expression over one line of Velero's logrus
text log (`time=... level=info msg="..." key=value ...`)."""
from __future__ import annotations

import dataclasses
import re


@dataclasses.dataclass(frozen=True)
class UpstreamText:
    pattern: re.Pattern
    source: str                     # repository, release and file that write it
    example: str                    # a line as upstream writes it


# Velero's restore of a resource the target does not serve. v1.11-v1.13 log
# "Skipping restore of resource because it cannot be resolved via discovery"
# and skip it; v1.14 on log "resource cannot be resolved via discovery" and go
# on (each item then fails to create). Both at Info, the resource as a field.
UNRESOLVED_RESOURCE = UpstreamText(
    re.compile(r'msg="(?:Skipping restore of resource because it |resource )cannot be resolved via discovery"'
               r'.*?\bresource=("[^"]*"|\S+)'),
    "vmware-tanzu/velero v1.16.2 (and v1.12.4) pkg/restore/restore.go getOrderedResourceCollection",
    'time="2026-01-05T10:00:00Z" level=info msg="resource cannot be resolved via discovery" '
    'logSource="pkg/restore/restore.go:2222" resource=podsecuritypolicies.policy restore=velero/r1')

ALL = (UNRESOLVED_RESOURCE,)


def unresolved_resources(log_text):
    """The resources a restore log says Velero could not resolve, in order."""
    found = []
    for line in (log_text or "").splitlines():
        match = UNRESOLVED_RESOURCE.pattern.search(line)
        if match:
            resource = match.group(1).strip('"')
            if resource not in found:
                found.append(resource)
    return found
