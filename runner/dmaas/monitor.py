"""Monitor views, read from the clusters and buckets themselves (never
from what this process remembers); `dmaas monitor` shows them (runner/monitor_cli.py).

    plans:        one row per plan: team, plan, cluster, schedules, crons,
                  last run (max Schedule status.lastBackup) and next run
                  (the cron's next time after the last run, or after the
                  Schedule's creation: how Velero decides it)
    usage:        one row per team and bucket: backup_bytes under each of
                  the team's backups (backups/<name>/), volume_bytes of their
                  cStor snapshots (snapshots/backups/<name>/) and of the
                  restic/kopia repositories of the namespaces those backups
                  take; bytes = both; all as listed in the bucket
    connectivity: one row per cluster (GET /version, short timeout) and per
                  bucket (a listing): "connected" or "unreachable"

write_report(dir, views) writes DIR/monitor.json = {"views": {"plans": [...], "usage": [...],
"connectivity": [...]}}; format_table(title, rows) is their text form.
"""
from __future__ import annotations

import datetime
import json
from pathlib import Path

from croniter import croniter

from runner.dmaas import locations as loc
from runner.dmaas.discovery import BucketBackups
from runner.driver.layout import UPLOADERS
from runner.times import parse_time
from runner.dmaas.plans import PLAN_LABEL, TEAM_LABEL

CONNECT_TIMEOUT = 3


def _iso(value):
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def plans_view(clients):
    rows = {}
    for cluster, client in sorted(clients.items()):
        try:
            schedules = client.velero.schedules(label_selector=PLAN_LABEL)
        except Exception:           # an unreachable cluster shows in the connectivity view
            continue
        for schedule in schedules:
            labels = schedule["metadata"].get("labels") or {}
            key = (cluster, labels.get(PLAN_LABEL))
            row = rows.setdefault(key, {"team": labels.get(TEAM_LABEL), "plan": labels.get(PLAN_LABEL),
                                        "cluster": cluster, "schedules": [], "crons": [],
                                        "last_run": None, "next_run": None})
            cron = (schedule.get("spec") or {}).get("schedule")
            last = parse_time((schedule.get("status") or {}).get("lastBackup"))
            base = last or parse_time(schedule["metadata"].get("creationTimestamp"))
            upcoming = croniter(cron, base).get_next(datetime.datetime) if cron and base else None
            row["schedules"].append(schedule["metadata"]["name"])
            row["crons"].append(cron)
            if last and (row["last_run"] is None or last > row["last_run"]):
                row["last_run"] = last
            if upcoming and (row["next_run"] is None or upcoming < row["next_run"]):
                row["next_run"] = upcoming
    result = []
    for key in sorted(rows, key=lambda k: (rows[k]["team"] or "", rows[k]["plan"] or "", k[0])):
        row = rows[key]
        result.append(dict(row, schedules=",".join(sorted(row["schedules"])), crons="; ".join(sorted(row["crons"])),
                           last_run=_iso(row["last_run"]), next_run=_iso(row["next_run"])))
    return result


def _locations(clients):
    """Distinct locations (profile, prefix) named by the clusters' BSLs."""
    found = {}
    for client in clients.values():
        try:
            bsls = client.velero.list("BackupStorageLocation")
        except Exception:
            continue
        for bsl in bsls:
            location = loc.from_bsl(bsl)
            if location.profile:
                found.setdefault((location.profile, location.prefix), location)
    return list(found.values())


def usage_view(driver, clients, bucket_backups=None):
    reader = bucket_backups or BucketBackups(driver)
    rows = {}
    for location in _locations(clients):
        bucket = driver.bucket(location.profile)
        try:
            records = [r for r in reader.backups(location) if r.labels.get(TEAM_LABEL)]
            listing = bucket.list(location.prefix + "/" if location.prefix else "")
        except Exception:           # an unreachable bucket shows in the connectivity view
            continue
        sizes = {info.key: info.size for info in listing}
        layout = reader.layout(location)
        team_namespaces = {}
        for record in records:
            team = record.labels[TEAM_LABEL]
            row = rows.setdefault((team, location.profile), {"team": team, "bucket": location.profile,
                                                              "backups": 0, "backup_bytes": 0, "volume_bytes": 0})
            directory = layout.backup_dir(record.name)
            snapshots = layout.snapshot_dir(record.name)
            row["backups"] += 1
            row["backup_bytes"] += sum(size for key, size in sizes.items() if key.startswith(directory))
            row["volume_bytes"] += sum(size for key, size in sizes.items() if key.startswith(snapshots))
            team_namespaces.setdefault(team, set()).update(record.namespaces)
        for team, namespaces in team_namespaces.items():
            for namespace in namespaces:
                for uploader in UPLOADERS:
                    repo = layout.repository_dir(uploader, namespace)
                    rows[(team, location.profile)]["volume_bytes"] += sum(
                        size for key, size in sizes.items() if key.startswith(repo))
    return [dict(row, bytes=row["backup_bytes"] + row["volume_bytes"]) for _, row in sorted(rows.items())]


def connectivity_view(driver, clients, profiles):
    rows = []
    for cluster, client in sorted(clients.items()):
        up = client.reachable(timeout=CONNECT_TIMEOUT)
        rows.append({"kind": "cluster", "name": cluster, "status": "connected" if up else "unreachable",
                     "connected": up})
    for profile in sorted(profiles):
        up = driver.bucket(profile).reachable(timeout=CONNECT_TIMEOUT)
        rows.append({"kind": "bucket", "name": profile, "status": "connected" if up else "unreachable",
                     "connected": up})
    return rows


def views(driver, clients, profiles, bucket_backups=None):
    return {"plans": plans_view(clients), "usage": usage_view(driver, clients, bucket_backups),
            "connectivity": connectivity_view(driver, clients, profiles)}


def write_report(report_dir, view_data):
    path = Path(report_dir) / "monitor.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"views": view_data}, indent=2, sort_keys=True) + "\n")
    return path


def format_table(title, rows):
    if not rows:
        return f"{title}\n  (none)\n"
    columns = list(rows[0])
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    lines = [title, "  " + "  ".join(c.upper().ljust(widths[c]) for c in columns)]
    lines += ["  " + "  ".join(str(r.get(c, "") if r.get(c) is not None else "-").ljust(widths[c])
                               for c in columns) for r in rows]
    return "\n".join(lines) + "\n"
