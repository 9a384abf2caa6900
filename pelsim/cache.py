"""A bounded dictionary for the per-energy caches of compiled helpers.

The landscape code compiles helpers per energy function (jitted gradients, Hessian-vector
products, dimer operators, validity checks) and keeps them in dictionaries keyed by the energy.
A search that re-centres its pair list builds a new energy each time (connect.py), so an
unbounded cache would keep every compiled program, and the pair list it closes over, alive for a
whole campaign. ``BoundedCache`` forgets the oldest entry beyond ``maxsize``.
"""

from __future__ import annotations

__all__ = ["BoundedCache"]


class BoundedCache(dict):
    """dict that drops its oldest entry (insertion order) when a new key would exceed ``maxsize``."""

    def __init__(self, maxsize: int = 64):
        super().__init__()
        if maxsize < 1:
            raise ValueError(f"BoundedCache needs maxsize >= 1, got {maxsize}")
        self.maxsize = maxsize

    def __setitem__(self, key, value):
        if key not in self:
            while len(self) >= self.maxsize:
                del self[next(iter(self))]
        super().__setitem__(key, value)
