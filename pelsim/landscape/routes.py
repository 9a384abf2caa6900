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


class _Route:
    """Shared behaviour of the route dataclasses: checked on construction, built from a TOML table."""

    SECTION = ""

    def __post_init__(self):
        check_fields(self, self.SECTION)

    @classmethod
    def from_dict(cls, d: dict):
        names = {f.name for f in fields(cls)}
        bad = sorted(set(d) - names - {"enabled"})
        if bad:
            raise InputError(f"unknown {cls.SECTION} setting(s): {', '.join(bad)}")
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass(frozen=True)
class IsPairsParams(_Route):
    """``[search.is_pairs]``: IS pairs from low-T MD (consecutive transitions, optional closing)."""

    SECTION = "is_pairs"
    T: float = param(0.3, "MD temperature of the IS-pair discovery run", min=0.0)
    md_steps: int = param(2000, "budget: MD steps (md_steps / quench_every quenches)", min=1, max=10**9)
    quench_every: int = param(50, "steps between quenches", min=1)
    images: int = param(12, "NEB images", min=3)
    close_max_displacement: float = param(
        0.0,
        "also connect non-consecutive distinct ISs whose largest particle displacement is <= this "
        "(sigma), closing triangles (TWPs); 0 = off",
        min=0.0,
    )

    def search_kwargs(self) -> dict:
        """The keyword arguments of :func:`pelsim.landscape.search.search_glass` for this route."""
        return dict(
            T=self.T,
            n_samples=max(self.md_steps // self.quench_every, 1),
            interval=self.quench_every,
            n_images=self.images,
            close_max_displacement=self.close_max_displacement,
        )


@dataclass(frozen=True)
class SingleEndedParams(_Route):
    """``[search.single_ended]``: saddle searches from the IS along its softest modes."""

    SECTION = "single_ended"
    n_modes: int = param(4, "budget: softest modes followed (both signs) from the IS", min=1)
    images: int = param(12, "NEB images of the connections", min=3)

    def search_kwargs(self) -> dict:
        return dict(n_modes=self.n_modes, n_images=self.images)


@dataclass(frozen=True)
class IntraBasinParams(_Route):
    """``[search.intra_basin]``: valleys inside the IS basin (seed section 8)."""

    SECTION = "intra_basin"
    n_modes: int = param(2, "budget: soft modes whose relaxed profiles are mapped", min=1)
    images: int = param(12, "NEB images of the connections", min=3)
    dim: int = param(
        1, "1: a profile along each soft mode; 2: the map over the plane of the two softest", min=1, max=2
    )
    q_max: float = param(1.0, "largest soft-mode amplitude mapped (sigma)", min=1e-3)
    points: int = param(11, "grid points per axis (odd)", min=3, max=41)
    basins: int = param(
        1,
        "budget: basins explored breadth-first (1: the IS's alone; then those of the valley minima reached)",
        min=1,
    )

    def __post_init__(self):
        super().__post_init__()
        if self.points % 2 == 0:
            raise InputError(f"intra_basin.points must be odd, got {self.points}")

    def search_kwargs(self) -> dict:
        return dict(
            valley_modes=self.n_modes,
            n_images=self.images,
            valley_dim=self.dim,
            valley_q_max=self.q_max,
            valley_points=self.points,
            valley_basins=self.basins,
        )


@dataclass(frozen=True)
class ExploreParams(_Route):
    """``[search.explore]``: breadth-first neighbourhood exploration from the glass IS
    (pelsim.landscape.explore.explore_neighbourhood; off by default)."""

    SECTION = "explore"
    max_depth: int = param(1, "budget: generations of minima expanded from the IS", min=0)
    max_minima: int = param(12, "budget: minima expanded", min=1)
    max_searches: int = param(60, "budget: single-ended searches", min=1)
    max_seconds: float = param(600.0, "budget: wall time per glass (s)", min=1.0)
    n_modes: int = param(2, "softest modes searched (both signs) per minimum", min=0)
    n_random: int = param(2, "random directions on the soft-mode particles", min=0)
    n_edge_random: int = param(3, "random directions per known DWP (its moving particles)", min=0)
    max_barrier: float = param(1.0, "saddles higher above the minimum are not verified", min=1e-6)
    search_max_steps: int = param(150, "activation budget of one search", min=1)
    close_max_displacement: float = param(
        0.45, "triangle closing: largest particle displacement (sigma)", min=1e-6
    )
    max_closing: int = param(10, "budget: triangle-closing connections", min=0)
    images: int = param(12, "NEB images of the connections", min=3)

    def search_kwargs(self) -> dict:
        budget = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "images"}
        return dict(n_images=self.images, explore=dict(budget, n_images=self.images))


@dataclass(frozen=True)
class HuntParams(_Route):
    """Settings of the TLS hunt; the campaign's ``[search.tls_hunt]`` keys are generated from these
    fields (:mod:`pelsim.params`), with the same names, defaults, bounds and documentation."""

    SECTION = "tls_hunt"
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
    max_refine: int = param(
        12,
        "budget: full connections per glass (TLS candidates up to refine_factor E_thr, TWP edges); "
        "the screened TLS (below E_thr) are all refined beyond it",
        min=0,
    )
    refine_other_dws: bool = param(
        True,
        "spend the refinement budget left after TLS candidates and TWP edges on the other screened "
        "DWs (lowest splitting first); false: the strict protocol",
    )
    twp_edges: int = param(2, "triangles of screened DWs per glass whose edges are refined", min=0)
    dr1_max: float = param(2.0, "prefilter: largest single-particle displacement (sigma)", min=1e-3)
    zero_point_margin: float = param(1.5, "prefilter: factor on the zero-point bound of |dE|", min=1.0)
    refine_images: int = param(12, "NEB images of the refinement", min=3, max=64)
    split_minima: int = param(
        0,
        "budget: new minima per glass quenched from observed transitions that moved several "
        "separate clusters, one cluster at a time (they join the pool's frame; 0: off)",
        min=0,
    )
    control_band_pairs: bool = param(
        True,
        "draw the pool pairs with band minima into the control sample at the rate of the first "
        "control, so that the control (and the recall, n0 estimated) covers them too",
    )
    interior_minima: int = param(
        16,
        "budget: new minima per glass and round relaxed from the interior minima of screening bands "
        "(they and their pairs join the pool; 0: off)",
        min=0,
    )


#: the routes of ``[search]``: name -> (parameter dataclass, enabled by default)
ROUTES = {
    "is_pairs": (IsPairsParams, True),
    "single_ended": (SingleEndedParams, True),
    "intra_basin": (IntraBasinParams, True),
    "explore": (ExploreParams, False),
    "tls_hunt": (HuntParams, False),
}

__all__ = [
    "ROUTES",
    "HuntParams",
    "IsPairsParams",
    "SingleEndedParams",
    "IntraBasinParams",
    "ExploreParams",
    "SCREEN_IMAGES",
]
