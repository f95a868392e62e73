"""`python -m runner.behave_process ARGS`: behave, as `dmaas run` starts it.

behave handles Ctrl-C once it runs (it stops, runs its after-hooks, writes
its formatters). A Ctrl-C that lands while it is still importing, which is
common when `--jobs` starts several at once, would print Python's traceback
instead; here it ends the process quietly with the usual 130.
"""
import sys

try:
    from behave.__main__ import main
except KeyboardInterrupt:
    sys.exit(130)

if __name__ == "__main__":
    sys.exit(main())
