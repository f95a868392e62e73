"""The one exception the `dmaas` command turns into a one-line message."""


class UserError(Exception):
    """Bad input (a file, a field, a name): printed as one line, exit code 2."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))

    @property
    def message(self) -> str:
        return self.args[0]
