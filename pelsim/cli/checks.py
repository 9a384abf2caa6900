"""Option checks shared by the ``pelsim`` subcommands, run before any work.

Each check raises :class:`pelsim.errors.InputError` (exit 2) naming the option and the
value, or :class:`pelsim.errors.EnvironmentFailure` (exit 3) for an output that cannot be
written; the dispatcher (:mod:`pelsim.cli`) prints it as one line.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

from pelsim.errors import InputError, environment_failure


def number_in(value: float, option: str, low: float, high: float, low_open: bool = True) -> float:
    """``value`` if it is finite and in (low, high] (``low_open``) or [low, high], else InputError."""
    ok = math.isfinite(value) and (value > low if low_open else value >= low) and value <= high
    if not ok:
        if math.isinf(high):
            where = f"{'>' if low_open else '>='} {low:g}"
        else:
            where = f"in {'(' if low_open else '['}{low:g}, {high:g}]"
        raise InputError(f"{option} must be a finite number {where}, got {value}")
    return value


def int_in(value: int, option: str, low: int, high: int) -> int:
    if not low <= value <= high:
        raise InputError(f"{option} must be an integer in [{low}, {high}], got {value}")
    return value


def writable_file(path: str | Path, option: str = "--out") -> Path:
    """Refuse, before any work, an output file that cannot be written.

    A directory given as the file is an InputError; a folder that cannot be created or
    written (read-only file system, permissions, full disk) an EnvironmentFailure. Probes
    with a temporary file beside the target (removed again); an existing file is opened
    for writing without being changed.
    """
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{option} {p} is a directory; give a file name")
    parent = p.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        if p.exists():
            os.close(os.open(p, os.O_WRONLY))
        fd, probe = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".probe", dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise environment_failure(exc, f"{option} {p} cannot be written") from None
    return p
