"""Verify, then promote: a backup taken to a staging location is restored
on a verification cluster; only when that restore passed is every object
of the backup copied to the target bucket, volume data included (the
backup's directory, its cStor snapshot objects and the restic repositories
of its namespaces). Timestamps are wall-clock UTC so a step
can compare them with the target bucket's LastModified."""
from __future__ import annotations

import datetime

from runner.dmaas.records import PromotionResult
from runner.driver.layout import BucketKeys


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def copy_keys(source_layout, keys, target_bucket, target_prefix):
    """Copies keys of the source location to the same places under `target_prefix`."""
    target = BucketKeys(target_prefix)
    written = []
    for key in keys:
        target_key = target.key(source_layout.relative(key))
        target_bucket.put(target_key, source_layout.bucket.get(key))
        written.append(target_key)
    return written


def promote(verification, source_layout, namespaces, target_bucket, target_prefix):
    """PromotionResult of a finished Verification: uploads only if it passed."""
    if not verification.passed:
        return PromotionResult(verified=False, uploaded=False, reason="; ".join(verification.problems),
                               verified_at=None, uploaded_at=None, state=verification.state,
                               prefix=target_prefix, verification=verification)
    verified_at = now()
    keys = source_layout.backup_object_keys(verification.backup, namespaces)
    written = copy_keys(source_layout, keys, target_bucket, target_prefix)
    return PromotionResult(verified=True, uploaded=True, reason=None, verified_at=verified_at,
                           uploaded_at=now(), state=verification.state, keys=written,
                           prefix=target_prefix, verification=verification)
