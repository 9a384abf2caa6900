"""The ``pelsim`` command line.

Subcommands live in sibling modules, each exposing ``register(subparsers)``
that adds its parsers and sets ``func`` (a callable taking the parsed
namespace and returning an exit code). This file only dispatches and turns the
toolkit's errors into one line on stderr: :class:`pelsim.errors.InputError` exit 2,
:class:`~pelsim.errors.CalculationError` exit 1, :class:`~pelsim.errors.EnvironmentFailure`
exit 3 (``exit_code`` of :class:`~pelsim.errors.ToolkitError`).
"""

from __future__ import annotations

import argparse
import sys

from pelsim import __version__
from pelsim.cli import campaign, engine, landscape
from pelsim.device import select
from pelsim.errors import ToolkitError

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
        print(f"error: {exc}".splitlines()[0], file=sys.stderr)
        return exc.exit_code
    except FileNotFoundError as exc:
        print(f"error: file not found: {exc.filename or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
