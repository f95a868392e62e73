"""The interrupts (Ctrl-C, SIGTERM, SIGHUP) a behave process took, kept
where its hooks see them: runner.behave_process records each, and
features/environment.py stops the run after a step that an interrupt
landed in, even when a library swallowed the KeyboardInterrupt it raised
(the kubernetes client's exec turns it into an ApiException of status 0,
and the step fails with whatever followed)."""

received: list[int] = []       # signal numbers, in order
