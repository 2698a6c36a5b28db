"""Errors that reach the user as one line.  The CLI maps each kind to an exit code."""


class LiveposeError(Exception):
    """Base class: the message is a complete sentence naming what and where."""

    exit_code = 1


class InputError(LiveposeError):
    """An input (image, video, annotation file) is missing, unreadable or malformed."""

    exit_code = 2


class ModelError(LiveposeError):
    """The model file or its card is missing, corrupt, or they contradict each other."""

    exit_code = 3


class OutputError(LiveposeError):
    """An output cannot be written (folder not writable, disk full)."""

    exit_code = 4
