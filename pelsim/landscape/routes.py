"""The parameter dataclasses of the search routes (light: no JAX import).

Each route's settings are one frozen dataclass of :func:`pelsim.params.param` fields; the campaign
schema (``[search.<route>]``, :mod:`pelsim.campaign.config`) and the CLI options are generated from
it, so their names, defaults, bounds and documentation are the library's.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from pelsim.errors import InputError
from pelsim.params import check_fields, param

#: screening NEB images of the TLS hunt (pelsim.landscape.hunt.SCREEN_NEB)
SCREEN_IMAGES = 8


@dataclass(frozen=True)
class HuntParams:
    """Settings of the TLS hunt; the campaign's ``[search.tls_hunt]`` keys are generated from these
    fields (:mod:`pelsim.params`), with the same names, defaults, bounds and documentation."""

    T: float = param(0.25, "temperature of the exploration MD (reduced)", min=1e-3, max=5.0)
    quenches: int = param(150, "budget: quenches of the exploration MD per glass", min=1, max=100000)
    quench_every: int = param(
        100, "MD steps between quenches (a quench costs ~60x a 10-step MD chunk)", min=1, max=100000
    )
    iterations: int = param(4, "active-learning rounds of screening", min=1, max=1000)
    per_iteration: int = param(24, "budget: screening NEBs per glass and round", min=1, max=100000)
    control_fraction: float = param(
        0.25, "share of the screening budget given to the uniform control sample", min=0.0, max=1.0
    )
    images: int = param(SCREEN_IMAGES, "screening NEB images", min=3, max=64)
    refine_factor: float = param(
        3.0, "refine screened DWs whose splitting is below this multiple of the TLS threshold", min=1.0
    )
    max_refine: int = param(12, "budget: full connections per glass (TLS candidates, TWP edges)", min=0)
    refine_other_dws: bool = param(
        True,
        "spend the refinement budget left after TLS candidates and TWP edges on the other screened "
        "DWs (lowest splitting first); false: the strict protocol",
    )
    twp_edges: int = param(2, "triangles of screened DWs per glass whose edges are refined", min=0)
    dr1_max: float = param(2.0, "prefilter: largest single-particle displacement (sigma)", min=1e-3)
    zero_point_margin: float = param(1.5, "prefilter: factor on the zero-point bound of |dE|", min=1.0)
    refine_images: int = param(12, "NEB images of the refinement", min=3, max=64)
    interior_minima: int = param(
        16,
        "budget: new minima per glass and round relaxed from the interior minima of screening bands "
        "(they and their pairs join the pool; 0: off)",
        min=0,
    )

    def __post_init__(self):
        check_fields(self, "tls_hunt")

    @classmethod
    def from_dict(cls, d: dict) -> HuntParams:
        names = {f.name for f in fields(cls)}
        bad = sorted(set(d) - names - {"enabled"})
        if bad:
            raise InputError(f"unknown tls_hunt setting(s): {', '.join(bad)}")
        return cls(**{k: v for k, v in d.items() if k in names})


__all__ = ["HuntParams", "SCREEN_IMAGES"]
