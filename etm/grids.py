"""Grid parsing for the etm CLI: ``--T``, ``--B``, ``--E`` and friends.

A grid is written as one value (``0.9``), a comma list (``0.1,0.2,0.5``) or
``start:stop:num`` (``num`` evenly spaced values from ``start`` to ``stop``
inclusive, as :func:`numpy.linspace`).  Output rows over a (T, B) grid are the full
Cartesian product with T as the outer and B as the inner index (:func:`outer_product`).
"""

from __future__ import annotations

import math

import numpy as np

from etm.errors import InputError

#: Largest grid a single CLI call will build (guards against typos like 0:1:1e9).
MAX_POINTS = 1_000_000


def _number(text: str, flag: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{flag}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise InputError(f"{flag}: {text!r} is not a finite number")
    return value


def parse_grid(text: str, flag: str = "grid") -> np.ndarray:
    """Parse a grid string into a float64 array (see module docstring for the forms).

    Raises :class:`InputError` naming ``flag`` for malformed text.
    """
    if text is None:
        raise InputError(f"{flag}: missing value")
    text = str(text).strip()
    if not text:
        raise InputError(f"{flag}: empty grid")
    if ":" in text:
        parts = text.split(":")
        if len(parts) != 3:
            raise InputError(f"{flag}: {text!r} is not start:stop:num")
        start, stop = _number(parts[0], flag), _number(parts[1], flag)
        try:
            num = int(parts[2])
        except ValueError:
            raise InputError(f"{flag}: number of points {parts[2]!r} in {text!r} is not an integer") from None
        if num < 1:
            raise InputError(f"{flag}: number of points must be >= 1, got {num}")
        if num > MAX_POINTS:
            raise InputError(f"{flag}: {num} points is more than the limit of {MAX_POINTS}")
        return np.linspace(start, stop, num, dtype=np.float64)
    items = text.split(",")
    if any(not s.strip() for s in items):
        raise InputError(f"{flag}: {text!r} has an empty item")
    return np.array([_number(s.strip(), flag) for s in items], dtype=np.float64)


def require_positive(values: np.ndarray, flag: str, unit: str = "") -> np.ndarray:
    """Raise :class:`InputError` unless every value is > 0."""
    bad = values[~(values > 0)]
    if bad.size:
        raise InputError(f"{flag} must be > 0{' ' + unit if unit else ''}, got {bad[0]:g}")
    return values


def require_nonnegative(values: np.ndarray, flag: str, unit: str = "") -> np.ndarray:
    """Raise :class:`InputError` unless every value is >= 0."""
    bad = values[~(values >= 0)]
    if bad.size:
        raise InputError(f"{flag} must be >= 0{' ' + unit if unit else ''}, got {bad[0]:g}")
    return values


#: Largest number of output rows (grid points of a Cartesian product) of one CLI call.
MAX_ROWS = 4_000_000


def outer_product(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flattened Cartesian product: ``a`` outer, ``b`` inner (rows a0b0, a0b1, ..., a1b0...)."""
    n = np.size(a) * np.size(b)
    if n > MAX_ROWS:
        raise InputError(f"the grids give {n} rows, more than the limit of {MAX_ROWS}")
    A, B = np.meshgrid(np.asarray(a, np.float64), np.asarray(b, np.float64), indexing="ij")
    return A.ravel(), B.ravel()
