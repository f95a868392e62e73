"""End-to-end oracle tests (a package so its module names cannot clash with tests/driver)."""
