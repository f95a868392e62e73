"""`python -m runner.behave_process ARGS`: behave, as `dmaas run` starts it.

The first interrupt, Ctrl-C or SIGTERM (a CI cancel, `timeout`) or SIGHUP (a
closed terminal), stops behave the way Ctrl-C does: the running step ends,
the after-hooks clean up, the formatters write what ran. Later ones are
ignored, so they cannot cut that cleanup short; `dmaas run` bounds it in
time instead. One that lands while behave is still importing, which is
common when `--jobs` starts several at once, ends the process quietly with
128 + the signal rather than Python's traceback.
"""
import signal
import sys

from runner.interrupts import received

INTERRUPTS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _ignore(_signum, _frame):
    pass


def _interrupt(signum, _frame):
    received.append(signum)
    # a no-op handler, not SIG_IGN: a second signal that arrived before this
    # line runs its Python handler later, and finding SIG_IGN there makes
    # CPython raise "OSError: Signal 2 ignored due to race condition"
    for each in INTERRUPTS:
        signal.signal(each, _ignore)
    raise KeyboardInterrupt


for _signum in INTERRUPTS:
    signal.signal(_signum, _interrupt)

try:
    from behave.__main__ import main
except KeyboardInterrupt:
    sys.exit(128 + received[0])

if __name__ == "__main__":
    code = main()
    # done: an interrupt now has nothing to stop, and one that lands in the
    # interpreter's shutdown would print "Exception ignored ... Traceback"
    for _signum in INTERRUPTS:
        signal.signal(_signum, _ignore)
    sys.exit(code)
