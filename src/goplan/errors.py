"""Errors that the command line turns into one clear line and exit status 2."""


class GOPlanError(Exception):
    """Base class of every error goplan reports to a user without a traceback. Its message is always
    one line: text that spans several (a third-party message, a user's input) is joined with spaces."""

    def __init__(self, message: object = "") -> None:
        super().__init__(" ".join(part.strip() for part in str(message).splitlines() if part.strip()))


class DatasetError(GOPlanError):
    """A dataset file is missing, unreadable, malformed or inconsistent."""


class ConfigError(GOPlanError):
    """A setting is unknown or impossible."""


class TaskError(GOPlanError):
    """An unknown task or a task used with data of the wrong shape."""


class CheckpointError(GOPlanError):
    """A checkpoint or run directory is missing or corrupt."""


class NumericalError(GOPlanError):
    """A NaN or infinity appeared in a loss, weight or prediction."""


def first_line(exc: BaseException) -> str:
    """`Type: first line of the message`, for folding a third-party exception into a one-line error."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
