"""Parameter dataclasses of the search routes, and the campaign schema generated from them.

A route's settings are one frozen dataclass whose fields are declared with :func:`param` (default,
unit-carrying doc string, bounds). The dataclass checks itself on construction
(:func:`check_fields`, one :class:`~pelsim.errors.InputError` naming ``section.key``), and
:mod:`pelsim.campaign.config` builds the TOML schema of the route from it (:func:`schema_fields`),
so that the campaign keys, their defaults and the library defaults cannot disagree.
"""

from __future__ import annotations

import math
from dataclasses import MISSING, field, fields

from pelsim.errors import InputError


def param(default, doc: str, min=None, max=None, choices=None):  # noqa: A002 (schema vocabulary)
    """A dataclass field with its documentation and bounds (``min``/``max`` inclusive)."""
    return field(default=default, metadata={"doc": doc, "min": min, "max": max, "choices": choices})


def schema_fields(cls) -> dict:
    """name -> (type, default, min, max, choices, doc) of a :func:`param` dataclass."""
    out = {}
    for f in fields(cls):
        if f.default is MISSING:
            raise TypeError(f"{cls.__name__}.{f.name} has no default")
        m = f.metadata
        out[f.name] = (
            type(f.default),
            f.default,
            m.get("min"),
            m.get("max"),
            m.get("choices"),
            m.get("doc", ""),
        )
    return out


def check_fields(obj, section: str) -> None:
    """Type and bounds of every field of ``obj`` (a :func:`param` dataclass instance)."""
    for name, (typ, _default, lo, hi, choices, _doc) in schema_fields(type(obj)).items():
        v = getattr(obj, name)
        key = f"{section}.{name}"
        if typ is float and isinstance(v, int) and not isinstance(v, bool):
            object.__setattr__(obj, name, float(v))
            v = float(v)
        if isinstance(v, bool) != (typ is bool) or not isinstance(v, typ):
            raise InputError(f"{key} must be {typ.__name__}, got {type(v).__name__} {v!r}")
        if isinstance(v, float) and not math.isfinite(v):
            raise InputError(f"{key} must be finite, got {v}")
        if lo is not None and v < lo:
            raise InputError(f"{key} must be >= {lo}, got {v}")
        if hi is not None and v > hi:
            raise InputError(f"{key} must be <= {hi}, got {v}")
        if choices is not None and v not in choices:
            raise InputError(f"{key} must be one of {', '.join(map(str, choices))}, got {v!r}")


__all__ = ["param", "schema_fields", "check_fields"]
