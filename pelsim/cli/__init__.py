"""The ``pelsim`` command line.

Subcommands live in sibling modules, each exposing ``register(subparsers)``
that adds its parsers and sets ``func`` (a callable taking the parsed
namespace and returning an exit code). This file only dispatches and turns every
foreseeable failure into one line ``error: ...`` on stderr, never a traceback, with the
exit code of its kind: 2 bad input (:class:`pelsim.errors.InputError`, a missing file),
1 a failed calculation (:class:`~pelsim.errors.CalculationError`), 3 the environment
(:class:`~pelsim.errors.EnvironmentFailure`, and any other OSError or MemoryError: disk
full, read-only file system, permissions, out of memory), 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys

from pelsim import __version__
from pelsim.cli import campaign, engine, landscape
from pelsim.device import select
from pelsim.errors import EXIT_ENVIRONMENT, EXIT_INPUT, ToolkitError, environment_failure

#: the modules that register subcommands, in the order of ``pelsim --help``
_SUBCOMMAND_MODULES = (engine, landscape, campaign)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pelsim",
        description="Potential-energy-landscape simulation of glasses (KA-BLJ on jax-md).",
    )
    parser.add_argument("--version", action="version", version=f"pelsim {__version__}")
    parser.add_argument(
        "--device",
        choices=("auto", "cpu", "gpu"),
        default="auto",
        help="JAX platform to run on (default: what JAX finds; a GPU when a CUDA build is installed)",
    )
    parser.set_defaults(func=None)  # a (sub)command without an action prints the help
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in _SUBCOMMAND_MODULES:
        mod.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.func is None:
        parser.print_help()
        return 2
    try:
        select(args.device)
        return int(args.func(args) or 0)
    except ToolkitError as exc:
        return _fail(exc, exc.exit_code)
    except FileNotFoundError as exc:
        return _fail(f"file not found: {exc.filename or exc}", EXIT_INPUT)
    except OSError as exc:
        return _fail(environment_failure(exc), EXIT_ENVIRONMENT)
    except MemoryError as exc:
        return _fail(f"out of memory ({exc})", EXIT_ENVIRONMENT)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _fail(message, code: int) -> int:
    """Print ``error: <message>`` as one line on stderr; return the exit code."""
    print("error: " + " ".join(str(message).split()), file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
