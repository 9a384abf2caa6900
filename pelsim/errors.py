"""Errors that name a problem in the user's input.

Every CLI catches :class:`InputError` and prints one line ``error: ...`` on
stderr with exit code 2, never a traceback. Library code raises it for bad
input (missing file, malformed config, NaN or overlapping coordinates,
neighbor-list overflow that cannot be repaired, ...).
"""


class InputError(ValueError):
    """Bad user input; the message names the problem in one line."""


class ConvergenceError(RuntimeError):
    """An iterative method did not reach its stopping rule."""
