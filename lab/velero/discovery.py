"""What the Velero server sees of its cluster's API: the snapshot its
discovery helper holds (pkg/discovery/helper.go). The server takes it when
it starts and refreshes it every 5 minutes after (pkg/cmd/server/server.go
initDiscoveryHelper: a hard-coded period, no flag in 1.16), and a restore
refreshes it right after it has created CustomResourceDefinitions
(pkg/restore/restore.go). A backup only knows the kinds of the last refresh:
one whose CRD came later is left out of every backup until the next refresh,
its custom resources and (since Velero adds a CRD for the custom resources it
backs up) the CRD too.

Here the periods run on the lab's virtual clock from the cluster's start;
a CRD is in the snapshot of a periodic refresh when it was created before
that refresh's instant (one made at the very instant, with the clock
standing still, counts as made after it)."""
import datetime
import threading

from lab.apiserver.registry import CRD_GROUP, CRD_PLURAL
from lab.clock import parse_time

REFRESH_PERIOD = datetime.timedelta(minutes=5)


class Discovery:
    def __init__(self, cluster):
        self.registry = cluster.registry
        self.store = cluster.store
        self.clock = cluster.clock
        self._lock = threading.Lock()
        self._started = self.clock.now()
        self._known = set()      # kinds taken whole by the start or a restore's refresh
        self.refresh()

    def refresh(self):
        """A refresh now: every kind the cluster serves at this moment."""
        with self._lock:
            self._known = {(t.group, t.plural) for t in self.registry.served()}

    def _last_periodic_refresh(self):
        periods = (self.clock.now() - self._started) // REFRESH_PERIOD
        return self._started + periods * REFRESH_PERIOD

    def served(self):
        """The ResourceTypes a backup started now resolves and lists."""
        refreshed = self._last_periodic_refresh()
        created = {}
        for crd in self.store.list(CRD_GROUP, CRD_PLURAL):
            spec = crd.get("spec") or {}
            key = (spec.get("group"), (spec.get("names") or {}).get("plural"))
            created[key] = parse_time(crd["metadata"]["creationTimestamp"])
        with self._lock:
            known = set(self._known)
        return [t for t in self.registry.served()
                if (t.group, t.plural) not in created        # a built-in kind
                or (t.group, t.plural) in known
                or created[(t.group, t.plural)] < refreshed]
