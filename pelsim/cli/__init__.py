"""The ``pelsim`` command line.

Subcommands live in sibling modules, each exposing ``register(subparsers)``
that adds its parsers and sets ``func`` (a callable taking the parsed
namespace and returning an exit code). This file only dispatches and turns
:class:`pelsim.errors.InputError` (and other expected failures) into one line
on stderr with exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from pelsim.errors import InputError

# module name -> description; each module registers its own subcommands
_SUBCOMMAND_MODULES = ("engine", "landscape", "campaign")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pelsim",
        description="Potential-energy-landscape simulation of glasses (KA-BLJ on jax-md).",
    )
    from pelsim import __version__

    parser.add_argument("--version", action="version", version=f"pelsim {__version__}")
    parser.add_argument(
        "--device",
        choices=("auto", "cpu", "gpu"),
        default="auto",
        help="JAX platform to run on (default: what JAX finds; a GPU when a CUDA build is installed)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _SUBCOMMAND_MODULES:
        try:
            mod = importlib.import_module(f"pelsim.cli.{name}")
        except ModuleNotFoundError as exc:  # a subcommand module not written yet
            if exc.name == f"pelsim.cli.{name}":
                continue
            raise
        mod.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        from pelsim.device import select

        select(args.device)
        return int(args.func(args) or 0)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"error: file not found: {exc.filename or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
