"""The toolkit's error classes; ``etm`` is the lowest layer, so the common base lives here.

Three kinds of failure, kept apart as ASE keeps its calculator errors apart:

- :class:`InputError`: the user's input is wrong (missing file, malformed config, NaN
  coordinates, an option out of range). The CLIs print ``error: <one line>`` on stderr and
  exit with :data:`EXIT_INPUT` (2).
- :class:`CalculationError`: the input was valid but a calculation failed or its outcome was
  rejected (no convergence, a step that joins a minimum to itself). Library code that expects
  such an outcome catches this class, never :class:`InputError`.
- :class:`EnvironmentFailure`: the machine refused (disk full, read-only or missing output
  folder, permissions, a scheduler that does not answer). The CLIs exit with
  :data:`EXIT_ENVIRONMENT` (3).

All three derive from :class:`ToolkitError`; ``pelsim.errors`` re-exports them.
"""

EXIT_INPUT = 2
EXIT_CALCULATION = 1
EXIT_ENVIRONMENT = 3


class ToolkitError(Exception):
    """Base of every error the toolkit raises on purpose; the message is one line."""

    exit_code = EXIT_CALCULATION


class InputError(ToolkitError, ValueError):
    """Bad user input; the message names the problem in one line."""

    exit_code = EXIT_INPUT


class CalculationError(ToolkitError, RuntimeError):
    """A calculation on valid input failed or its outcome was rejected."""

    exit_code = EXIT_CALCULATION


class EnvironmentFailure(ToolkitError, OSError):
    """The machine refused: disk full, read-only or missing output folder, permissions, network."""

    exit_code = EXIT_ENVIRONMENT
