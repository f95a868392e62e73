"""Fixtures of the Velero contract tests (helpers live in velero_lab.py so
test modules import them by a name no other conftest shares)."""
from velero_lab import bucket, clusters, lab  # noqa: F401  (pytest fixtures)
