"""Errors of pelsim: the toolkit's common classes (defined in :mod:`etm.errors`) and pelsim's own.

Every CLI catches :class:`ToolkitError` and prints one line ``error: ...`` on stderr, never a
traceback, with the class's ``exit_code`` (input 2, environment 3, calculation 1). Library code
raises :class:`InputError` for bad input (missing file, malformed config, NaN or overlapping
coordinates, neighbor-list overflow that cannot be repaired, ...) and
:class:`CalculationError` for failed or rejected calculations.
"""

from etm.errors import (
    EXIT_CALCULATION,
    EXIT_ENVIRONMENT,
    EXIT_INPUT,
    CalculationError,
    EnvironmentFailure,
    InputError,
    ToolkitError,
)

__all__ = [
    "EXIT_CALCULATION",
    "EXIT_ENVIRONMENT",
    "EXIT_INPUT",
    "CalculationError",
    "ConvergenceError",
    "EnvironmentFailure",
    "InputError",
    "RejectedStep",
    "ToolkitError",
]


class ConvergenceError(CalculationError):
    """An iterative method did not reach its stopping rule."""


class RejectedStep(CalculationError):
    """A found elementary step that the catalogue refuses: it joins a minimum to itself, or its
    path profile defines no DWP (fewer than two wells, a well without positive curvature).
    A physics outcome of a search, not bad input; the searches count it and go on."""


def environment_failure(exc: OSError, doing: str = "") -> EnvironmentFailure:
    """One-line :class:`EnvironmentFailure` from an OSError (disk full, read-only, permissions).

    ``doing`` says what was being done ("writing the campaign log"); the line names the file
    and the system's reason: ``writing the campaign log: out/log.jsonl: No space left on device``.
    """
    if isinstance(exc, EnvironmentFailure):
        return exc
    reason = exc.strerror or str(exc) or type(exc).__name__
    where = f"{exc.filename}: " if exc.filename else ""
    return EnvironmentFailure(f"{doing + ': ' if doing else ''}{where}{reason}")
