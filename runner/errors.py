"""The exceptions the `dmaas` command turns into one-line messages."""


class UserError(Exception):
    """Bad input (a file, a field, a name): printed as one line, exit code 2."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))

    @property
    def message(self) -> str:
        return self.args[0]

    @property
    def lines(self) -> list[str]:
        return [self.message]


class Problems(UserError):
    """Several problems found at once (preflight): one line each, exit code 2."""

    def __init__(self, problems: list[str]):
        super().__init__(f"{len(problems)} problem(s)")
        self._lines = [" ".join(p.split()) for p in problems]

    @property
    def lines(self) -> list[str]:
        return self._lines


class TargetError(UserError):
    """Bad profile or an unreachable target: one line naming the file/field/endpoint."""


class Unsupported(Exception):
    """The target cannot do what the scenario asks: the scenario is skipped
    with the reason (steps/steplib.py, features/environment.py)."""

    @property
    def reason(self) -> str:
        return str(self)
