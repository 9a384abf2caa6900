"""TLS hunting: every pair of minima of a glass, screened, batched, counted honestly.

The protocol of Khomenko et al. (PRL 124, 225901, 2020) and Ciarella et al. (Nat. Commun. 14,
4229, 2023), in four steps per glass:

1. **Minima from dynamics** (:func:`collect_minima`): NVT MD at a low temperature T from the
   glass IS, quenched every ``quench_every`` steps; the distinct minima (identity.py), how often
   each was visited and how often the trajectory jumped directly between two of them. With
   ``split_minima``, observed transitions that moved several separate clusters of particles are
   split into one-cluster steps (:func:`split_transitions`): new minima of the same frame.
2. **All pairs, static features, prefilter** (:mod:`pelsim.landscape.pairs`): features of every
   pair of distinct minima; the physics bound on |dE| (a TLS needs |Delta| <= E < E_thr) and the
   empirical bound on the largest particle displacement leave the *pool*.
3. **Screening** (:func:`screen_pairs`): a cheap NEB band (:data:`SCREEN_NEB`, :data:`SCREEN_IMAGES`
   images, all pairs of all glasses through one :func:`pelsim.landscape.neb.neb_many` queue) and
   the 1D Schroedinger splitting of its profile. A band with one barrier and no interior minimum is
   a double well (DW). In ``iterations`` rounds the NEB budget goes to the pairs that a
   gradient-boosted classifier (is it a DW?) and regressor (log10 of its splitting) rank highest
   (:class:`PairRanker`, scikit-learn, trained on the pairs screened so far: active learning), and
   to a **control sample** drawn uniformly from the pool before the first round, screened whatever
   its rank, which measures the screen's recall instead of assuming it.
4. **Refinement** (:func:`hunt_glasses`): pairs whose screened splitting is below
   ``refine_factor`` x E_thr, and the edges of triangles of screened DWs (TWP candidates), are
   connected in full (:func:`pelsim.landscape.connect.connect`: CI-NEB with the searches' settings,
   saddle to max|F| 1e-10, Hessian check, both minima verified) and catalogued with method
   ``tls_hunt``; their parameters (and ``is_tls``) are the catalogue's, not the screen's.

Accuracy of the screen (measured, docs/landscape.md "TLS hunting"): the screened splitting of a
DW agrees with the refined one to the accuracy stated there; ``refine_factor`` is chosen so that
this error cannot move a TLS out of the refined set (tests/test_tls_hunt.py checks it on a real
glass).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from pelsim.errors import CalculationError, InputError
from pelsim.landscape.identity import find_minimum
from pelsim.landscape.neb import NEBParams, periodic_displacement
from pelsim.landscape.pairs import (
    FEATURES,
    feature_matrix,
    hessian_bound,
    pair_features,
    pair_indices,
    prefilter,
    prefilter_bounds,
)
from pelsim.landscape.routes import SCREEN_IMAGES, HuntParams

#: The screening band: the pair's DW-ness (one barrier, no interior minimum) and its splitting,
#: not a saddle to round-off. Loose force tolerance, few images, bounded steps.
SCREEN_NEB = NEBParams(fmax=0.05, max_steps=400, climb_after=0.1, dt_max=0.06)
#: interior minimum: an image lower than both neighbours by more than this (eps)
INTERIOR_MIN_TOL = 1e-6
#: a screening band with an image this far (eps) below both of its ends is retired after the chunk
#: in which that is seen: it holds a minimum lower than the pair's two, so it is no double well
#: whatever further relaxation does (images relax downhill; the band cannot climb out of that
#: basin), and its outcome (interior minimum) and that image (a new minimum of the glass) are
#: settled. On a quickstart glass 46 of 66 screening bands ran to the 400-step cap, 45 of them
#: interior-minimum bands (2026-12-06).
SCREEN_DEEP_INTERIOR = 1e-3


def settled_interior_minimum(E, _step: int = 0, margin: float = SCREEN_DEEP_INTERIOR) -> bool:
    """True when an interior image of a band lies more than ``margin`` below both ends."""
    E = np.asarray(E, float)
    return bool(E.size > 2 and E[1:-1].min() < min(E[0], E[-1]) - margin)


# screen outcome codes (table column ``outcome``)
NOT_SCREENED, DOUBLE_WELL, MULTI_WELL, NO_BARRIER, LEFT_REGION, FAILED = 0, 1, 2, 3, 4, 5
OUTCOMES = {
    NOT_SCREENED: "not screened",
    DOUBLE_WELL: "double well",
    MULTI_WELL: "interior minimum",
    NO_BARRIER: "no barrier",
    LEFT_REGION: "left the valid region",
    FAILED: "profile failed",
}
# selection codes (table column ``source``)
UNSELECTED, RANKED, CONTROL = 0, 1, 2


# ---------------------------------------------------------------------------------------- minima
@dataclass
class GlassMinima:
    """The distinct minima one exploration run visited.

    positions (M, N, d), energies (M,) (eps), max_force (M,); visits (M,): quenches that landed in
    each; transitions (M, M): direct jumps i -> j between consecutive quenches; sequence: the
    index of each quench's minimum, in order (the glass IS first)."""

    positions: np.ndarray
    energies: np.ndarray
    max_force: np.ndarray
    visits: np.ndarray
    transitions: np.ndarray
    sequence: list = field(default_factory=list)
    seconds: dict = field(default_factory=dict)
    #: minima added by split_transitions and from screening-band interiors
    from_splits: int = 0
    from_bands: int = 0
    #: minima of the pool's frame (MD + split), set by plan_hunt; later ones are band minima
    base: int | None = None

    @property
    def count(self) -> int:
        return len(self.energies)

    def append(self, positions, energies, max_force) -> None:
        """Add minima that no quench visited (no visits, no observed transitions)."""
        n = len(energies)
        if not n:
            return
        M0, M = self.count, self.count + n
        self.positions = np.concatenate(
            [self.positions, np.asarray(positions, float).reshape(n, *self.positions.shape[1:])]
        )
        self.energies = np.concatenate([self.energies, np.asarray(energies, float)])
        self.max_force = np.concatenate([self.max_force, np.asarray(max_force, float)])
        self.visits = np.concatenate([self.visits, np.zeros(n)])
        T = np.zeros((M, M))
        T[:M0, :M0] = self.transitions
        self.transitions = T


def minima_from_sequence(quenched, box=None) -> GlassMinima:
    """Distinct minima, visits and transition counts from a sequence of quenched (R, E, fmax)."""
    R: list = []
    E: list = []
    F: list = []
    seq: list[int] = []
    for r, e, f in quenched:
        k = find_minimum(e, r, E, R, box) if E else -1
        if k < 0:
            R.append(np.asarray(r, float))
            E.append(float(e))
            F.append(float(f))
            k = len(E) - 1
        seq.append(k)
    M = len(E)
    visits = np.bincount(np.asarray(seq, int), minlength=M).astype(float)
    T = np.zeros((M, M))
    for a, b in zip(seq[:-1], seq[1:], strict=True):
        if a != b:
            T[a, b] += 1
    return GlassMinima(np.asarray(R), np.asarray(E), np.asarray(F), visits, T, seq)


#: max|F| of the exploration's quenches before the distinct minima among them are polished to
#: 1e-10 (:func:`collect_minima`). Measured 2026-12-07 (KA N = 270, T = 0.35 snapshots, one core):
#: a quench to 1e-5 takes 330 L-BFGS steps (0.19 s), to 1e-10 560 (0.31 s); its energy is that of
#: the converged minimum to < 1e-9 eps, far inside the identity tolerance (identity.ENERGY_TOL).
LOOSE_FMAX = 1e-5


def collect_minima(
    IS,
    T: float,
    quenches: int,
    quench_every: int,
    kind: str = "smooth",
    seed: int = 0,
    progress=False,
    loose_fmax: float | None = LOOSE_FMAX,
) -> GlassMinima:
    """MD at T from the inherent structure ``IS`` (a Configuration), quenched every
    ``quench_every`` steps, ``quenches`` times (module docstring, step 1).

    Two stages (``loose_fmax``; None: every quench to 1e-10): each snapshot is quenched to
    max|F| <= loose_fmax, the distinct minima among those are found (identity.py) and only they
    are polished to 1e-10; the sequence is then rebuilt from the polished minima, so that two
    loose minima that polish into one are one minimum (with their visits and transitions summed).
    Most quenches revisit a known minimum, so this saves a third of the quench time."""
    from pelsim.prepare import quench, sample

    t0 = time.perf_counter()
    snaps = sample(IS, T, quenches, quench_every, kind=kind, seed=seed, chunk=quench_every, progress=progress)
    t1 = time.perf_counter()
    E_is = IS.info.get("energy")
    if E_is is None:
        IS, r0 = quench(IS, kind=kind)
        E_is = r0.energy
    first = (IS.positions, float(E_is), float(IS.info.get("max_force", 0.0)))
    tight = loose_fmax is None or loose_fmax <= 1e-10
    quenched = []
    for c in snaps:
        q, res = quench(c, kind=kind, fmax=1e-10 if tight else loose_fmax)
        if res.converged:
            quenched.append((q.positions, res.energy, res.max_force))
    if not tight and quenched:
        loose = minima_from_sequence(quenched, IS.box)
        polished = []
        for k in range(loose.count):
            q, res = quench(IS.copy(loose.positions[k]), kind=kind)
            polished.append((q.positions, res.energy, res.max_force) if res.converged else None)
        quenched = [polished[k] for k in loose.sequence if polished[k] is not None]
    out = minima_from_sequence([first, *quenched], IS.box)
    out.seconds = {"md": t1 - t0, "quench": time.perf_counter() - t1}
    return out


def split_transitions(mins: GlassMinima, box, budget: int, quench_fn, max_clusters: int = 4) -> int:
    """New minima between the ends of observed transitions that moved several separate clusters.

    At N ~ 1000 a stretch of MD between two quenches often holds several independent
    rearrangements in different parts of the box (docs/landscape.md "TLS hunting"); such a pair
    of minima is a chain of double wells, not one. For each observed transition i -> j (in the
    order first seen) whose displacement field has two or more clusters
    (:func:`pelsim.landscape.pairs.displacement_clusters`), each particle is given to the cluster
    of its nearest core particle (minimum image), and minimum i with the displacements of one
    cluster's particles applied is quenched (``quench_fn(R) -> (R, E, max_force)`` or None when
    it did not converge): one configuration per cluster, the ``max_clusters`` largest. A new
    distinct minimum joins ``mins`` (no visits, no transitions); its pairs with the two ends
    differ by one rearrangement. At most ``budget`` new minima. Returns their number.
    ``mins.from_splits`` counts them."""
    from pelsim.geometry import minimum_image
    from pelsim.landscape.identity import displacement_field
    from pelsim.landscape.pairs import displacement_clusters

    if budget <= 0:
        return 0
    box = None if box is None else np.asarray(box, dtype=float)
    seen, order = set(), []
    for a, b in zip(mins.sequence[:-1], mins.sequence[1:], strict=True):
        key = (min(a, b), max(a, b))
        if a != b and key not in seen:
            seen.add(key)
            order.append((a, b))
    newR, newE, newF = [], [], []
    for a, b in order:
        if len(newR) >= budget:
            break
        Ra, Rb = mins.positions[a], mins.positions[b]
        u = displacement_field(Ra, Rb, box, remove_drift=False)  # applied as is
        cl = displacement_clusters(Ra, u - u.mean(axis=0), box)  # clusters as in the features
        if len(cl) < 2:
            continue
        core = np.concatenate(cl)
        owner_of_core = np.repeat(np.arange(len(cl)), [len(c) for c in cl])
        sep = Ra[:, None, :] - Ra[None, core, :]
        if box is not None:
            sep = minimum_image(sep, box)
        owner = owner_of_core[np.argmin(np.einsum("ijk,ijk->ij", sep, sep), axis=1)]
        for c in range(min(len(cl), max_clusters)):
            q = quench_fn(Ra + u * (owner == c)[:, None])
            if q is None:
                continue
            R, E, F = q
            R = np.asarray(R, float) if box is None else np.mod(np.asarray(R, float), box)
            if find_minimum(E, R, list(mins.energies) + newE, list(mins.positions) + newR, box) >= 0:
                continue
            newR.append(R)
            newE.append(float(E))
            newF.append(float(F))
            if len(newR) >= budget:
                break
    mins.append(newR, newE, newF)
    mins.from_splits += len(newR)
    return len(newR)


# ------------------------------------------------------------------------------------- screening
def _band_outcome(band) -> int:
    if not band.valid:
        return LEFT_REGION
    E = np.asarray(band.energies)
    if band.interior_minima(INTERIOR_MIN_TOL):
        return MULTI_WELL
    ic = int(np.argmax(E))
    if ic == 0 or ic == len(E) - 1:
        return NO_BARRIER
    return DOUBLE_WELL


def screen_bands(
    bands, energies, hbar, box=None, masses=None, rtol: float = 1e-6, k_max: float | None = None
) -> list[dict]:
    """Outcome and tunneling parameters of relaxed screening bands (one energy per band).

    A DW's parameters come from its band profile (connect.path_profile: mass-weighted arc length,
    dV/ds, curvatures at the minima from Hessian-vector products) through
    :func:`pelsim.tunneling.dwp_parameters` (the catalogue's 1D solver), at ``rtol``. With ``k_max``
    (an upper bound on the mass-weighted Hessian's eigenvalues, :func:`pairs.hessian_bound`) a
    profile whose curvature at a minimum exceeds it is impossible (the curvature along a path is
    a Rayleigh quotient of the Hessian) and is counted as FAILED, as is a profile whose spline
    swings far outside the band's energies (:func:`_overshoots`)."""
    from pelsim.landscape.connect import path_profile
    from pelsim.landscape.twp import dwp_geometry
    from pelsim.tunneling import dwp_parameters

    disp = periodic_displacement(box) if box is not None else None
    out = []
    for band, energy in zip(bands, energies, strict=True):
        E = np.asarray(band.energies)
        rec = {
            "outcome": _band_outcome(band),
            "barrier": float(E.max() - E[0]),
            "screen_steps": int(band.steps),
            "screen_converged": bool(band.converged),
            "splitting": math.nan,
            "Delta": math.nan,
            "Delta0": math.nan,
            "V0": float(E.max() - min(E[0], E[-1])),
        }
        if rec["outcome"] == DOUBLE_WELL:
            try:
                kw = {} if disp is None else {"displacement": disp}
                prof = path_profile(energy, band.images, masses, **kw)
                if (k_max is not None and max(prof["curvature"]) > k_max) or _overshoots(prof):
                    rec["outcome"] = FAILED
                    out.append(rec)
                    continue
                geo = dwp_geometry(band.images[0], band.images[-1], box, masses)
                tp = dwp_parameters(
                    prof["s"], prof["V"], hbar, prof["dVds"], geo["d"], prof["curvature"], rtol=rtol
                )
                rec.update(
                    splitting=float(tp["splitting"]), Delta=float(tp["Delta"]), Delta0=float(tp["Delta0"])
                )
            except (InputError, CalculationError, ValueError, np.linalg.LinAlgError):
                rec["outcome"] = FAILED
        out.append(rec)
    return out


def _overshoots(prof, tol: float = 0.05) -> bool:
    """True when the Hermite spline through the band (energies and dV/ds at the images) swings
    beyond the images' energy range by more than ``tol`` of it: a dV/ds inconsistent with the
    energies (an unconverged, kinked band) makes the spline, and so the 1D levels, meaningless
    (seen: a well 1.2e3 eps below the band's lowest image)."""
    from pelsim.tunneling import Profile

    V = np.asarray(prof["V"], float)
    span = float(V.max() - V.min())
    x = np.linspace(prof["s"][0], prof["s"][-1], 4001)
    v = Profile(prof["s"], V, prof["dVds"]).spline(x)
    return bool(v.min() < V.min() - tol * span or v.max() > V.max() + tol * span)


def screen_pairs(
    energies,
    positions,
    pairs,
    hbar,
    box=None,
    masses=None,
    is_valid=None,
    n_images: int = SCREEN_IMAGES,
    params: NEBParams = SCREEN_NEB,
    batch: int = 1,
    devices=None,
    k_max: float | None = None,
    stop_early: bool = True,
):
    """Screening NEB on ``pairs`` (P, 2) of minima ``positions`` (M, N, d) of one glass (one
    energy), or of several glasses (``energies``, ``is_valid`` and ``positions`` lists with one
    entry per pair, positions then (P, 2, N, d)). All bands go through one
    :func:`pelsim.landscape.neb.neb_many` queue; with ``stop_early`` a band is retired once an
    image lies below both ends (:func:`settled_interior_minimum`). Returns (records, bands)."""
    from pelsim.landscape.neb import free_displacement, neb_many

    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    if len(pairs) == 0:
        return [], []
    per_pair = isinstance(energies, list | tuple)
    if per_pair:
        X = np.asarray(positions, float)
        Ra, Rb = X[:, 0], X[:, 1]
    else:
        X = np.asarray(positions, float)
        Ra, Rb = X[pairs[:, 0]], X[pairs[:, 1]]
    disp = free_displacement if box is None else periodic_displacement(box)
    bands = neb_many(
        energies,
        Ra,
        Rb,
        n_images,
        params,
        disp,
        is_valid=is_valid,
        batch=batch,
        devices=devices,
        stop_early=settled_interior_minimum if stop_early else None,
    )
    ens = list(energies) if per_pair else [energies] * len(bands)
    return screen_bands(bands, ens, hbar, box, masses, k_max=k_max), bands


# --------------------------------------------------------------------------------------- ranking
class PairRanker:
    """Active-learning ranker of pairs of minima (Ciarella et al. 2023): a gradient-boosted
    classifier of DW-ness and a gradient-boosted regressor of log10(splitting / E_thr) on the DWs,
    both scikit-learn ``HistGradientBoosting*`` on the static features of
    :mod:`pelsim.landscape.pairs`. The score of a pair is its estimated probability of being a
    TLS: P(DW) x P(log10 E/E_thr < 0), the latter from the regressor's prediction and the spread
    of its out-of-bag residuals (Gaussian). Before there are enough labels of both kinds the
    score is a physics prior: exp(-|dE| / E_thr) x exp(-dr1) (small asymmetry, compact moves).
    A prior that also favours one-rearrangement pairs, exp(-|dE| / (5 E_thr)) x exp(-dr1) x
    0.1^(n_clusters - 1), found twice the double wells on the exhaustively screened N = 1000 pools
    of benchmarks/bench_tls_hunt.py but the same TLS (2 of 2), and the main job (N = 270) found 3
    TLS with it instead of 5 (2026-12-04, docs/landscape.md): it is not the default. The
    classifier sees the cluster features either way."""

    def __init__(self, E_thr: float, seed: int = 0, min_labels: int = 12):
        self.E_thr = float(E_thr)
        self.seed = int(seed)
        self.min_labels = int(min_labels)
        self.clf = self.reg = None
        self.sigma = 1.0

    def prior(self, feats: dict) -> np.ndarray:
        return np.exp(-np.asarray(feats["abs_dE"]) / self.E_thr) * np.exp(-np.asarray(feats["dr1"]))

    def fit(self, X, is_dw, log_ratio) -> PairRanker:
        """X (n, F) features of screened pairs; is_dw (n,) bool; log_ratio (n,) log10(E / E_thr)
        (NaN where not a DW)."""
        import sklearn.ensemble  # noqa: F401  (loaded first: threadpool_limits acts on loaded libraries)
        from threadpoolctl import threadpool_limits

        # the training sets are small (hundreds of pairs): one thread is as fast, and OpenMP threads
        # spinning against the NEB's own threads slowed a fit 50-fold on 2 busy cores
        with threadpool_limits(1):
            return self._fit(X, is_dw, log_ratio)

    def _fit(self, X, is_dw, log_ratio) -> PairRanker:
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
        from sklearn.model_selection import cross_val_predict

        X = np.asarray(X, float)
        y = np.asarray(is_dw, bool)
        self.clf = self.reg = None
        if len(y) >= self.min_labels and 0 < y.sum() < len(y):
            self.clf = HistGradientBoostingClassifier(max_iter=150, learning_rate=0.1, random_state=self.seed)
            self.clf.fit(X, y)
        lr = np.asarray(log_ratio, float)
        ok = y & np.isfinite(lr)
        if ok.sum() >= self.min_labels:
            self.reg = HistGradientBoostingRegressor(max_iter=150, learning_rate=0.1, random_state=self.seed)
            pred = cross_val_predict(self.reg, X[ok], lr[ok], cv=min(4, int(ok.sum()) // 3))
            self.sigma = max(float(np.std(lr[ok] - pred)), 0.1)
            self.reg.fit(X[ok], lr[ok])
        return self

    def score(self, X, feats: dict) -> np.ndarray:
        import sklearn.ensemble  # noqa: F401
        from scipy.stats import norm
        from threadpoolctl import threadpool_limits

        X = np.asarray(X, float)
        prior = self.prior(feats)
        with threadpool_limits(1):
            p_dw = self.clf.predict_proba(X)[:, 1] if self.clf is not None else np.ones(len(X))
            if self.reg is not None:
                p_low = norm.cdf(-self.reg.predict(X) / self.sigma)
            else:
                p_low = prior
        return p_dw * p_low


# ------------------------------------------------------------------------------------ the hunt
@dataclass
class GlassHunt:
    """One glass of a hunt: its minima, the pair table and the pool/bounds."""

    glass: int
    conf: object
    energy: object
    is_valid: object
    minima: GlassMinima
    table: dict
    bounds: dict
    lambda_max: float
    control: np.ndarray  # pool indices of the control sample, in screening order
    kind: str = "smooth"
    #: sampling fraction of the control (control size / pool size at the plan): pairs with band
    #: minima join the control at the same rate (add_minima), so that the control stays a uniform
    #: sample of everything the pool ever held (0: they never do)
    control_rate: float = 0.0
    seed: int = 0


def _new_table(feats: dict, pool: np.ndarray) -> dict:
    P = len(feats["i"])
    t = {k: np.asarray(v) for k, v in feats.items()}
    t["pool"] = pool.astype(bool)
    t["source"] = np.zeros(P, np.int8)
    t["iteration"] = np.full(P, -1, np.int16)
    t["score"] = np.full(P, np.nan)
    t["outcome"] = np.zeros(P, np.int8)
    for k in ("barrier", "V0", "splitting", "Delta", "Delta0"):
        t[k] = np.full(P, np.nan)
    t["screen_steps"] = np.zeros(P, np.int32)
    t["refined"] = np.zeros(P, bool)
    t["refined_tls"] = np.zeros(P, bool)
    t["expanded"] = np.zeros(P, bool)  # a pair with a minimum relaxed from a band (not from MD)
    t["in_control"] = np.zeros(P, bool)  # drawn into the uniform control sample (screened or pending)
    return t


def plan_hunt(conf, glass: int, params: HuntParams, hbar: float, E_thr: float, kind="smooth", seed=0):
    """Steps 1-2 for one glass: quench, landscape energy, minima from MD, features, pool, control."""
    from pelsim.landscape.search import landscape_energy
    from pelsim.models import load_model
    from pelsim.prepare import quench

    IS, res = quench(conf, kind=kind)
    energy, is_valid = landscape_energy(IS, kind)
    mins = collect_minima(IS, params.T, params.quenches, params.quench_every, kind, seed)
    if params.split_minima:
        t0 = time.perf_counter()

        def quench_fn(R):
            q, res = quench(IS.copy(R), kind=kind)
            return (q.positions, res.energy, res.max_force) if res.converged else None

        split_transitions(mins, IS.box, params.split_minima, quench_fn)
        mins.seconds["split"] = time.perf_counter() - t0
    mins.base = mins.count  # minima of the pool's frame (MD + split); band minima come later
    masses = np.asarray(load_model(conf.model).masses)[conf.species]
    lam = hessian_bound(energy, mins.positions[: min(mins.count, 8)], masses)
    bounds = prefilter_bounds(E_thr, hbar, lam, params.zero_point_margin, params.dr1_max)
    feats = pair_features(mins.positions, mins.energies, conf.box, masses, mins.transitions, mins.visits)
    pool = prefilter(feats, bounds)
    table = _new_table(feats, pool)
    rng = np.random.default_rng(seed + 7919 * glass)
    idx = np.flatnonzero(pool)
    budget = params.iterations * params.per_iteration
    n_ctrl = min(len(idx), int(round(params.control_fraction * budget)))
    control = rng.choice(idx, size=n_ctrl, replace=False) if n_ctrl else np.zeros(0, np.int64)
    table["in_control"][control] = True
    rate = n_ctrl / len(idx) if (len(idx) and params.control_band_pairs) else 0.0
    return GlassHunt(
        glass, IS, energy, is_valid, mins, table, bounds.as_dict(), lam, control, kind=kind,
        control_rate=rate, seed=int(seed),
    )  # fmt: skip


def pair_energy(h: GlassHunt, i: int, j: int, min_columns: int = 0):
    """(energy, is_valid) exact on minima i and j of the glass (and on a band between them).

    Small systems use the all-pairs energy of the glass. With a fixed pair list (N > 400) the list
    is built at the centre of the two minima (:func:`pelsim.landscape.search.band_reference`) with
    skin max(1.5, 2 (radius + 0.25)) sigma as the re-centring of connect does: the minima of a long
    MD run lie far outside the list built at the glass IS. None when the two minima are too far
    apart for a list the box allows (at most 2 sigma of skin); such a pair is no single double well.
    Lists of one kernel differ only in data, so every pair reuses the compiled programs (pad with
    ``min_columns`` to share one shape bucket)."""
    if h.is_valid is None:
        return h.energy, None
    from pelsim.landscape.search import (
        PAIR_LIST_SKIN,
        RECENTRE_MARGIN,
        RECENTRE_MAX_SKIN,
        band_reference,
        pair_list_energy,
    )
    from pelsim.models import load_model

    X = h.minima.positions
    centre, radius = band_reference(np.stack([X[i], X[j]]), h.conf.box)
    need = max(PAIR_LIST_SKIN, 2.0 * (radius + RECENTRE_MARGIN))
    cap = min(RECENTRE_MAX_SKIN, 0.5 * float(np.min(h.conf.box)) - load_model(h.conf.model).rc_max - 1e-6)
    if need > cap:
        return None
    return pair_list_energy(h.conf, h.kind, centre, need, min_columns)


def _one_bucket(jobs_energies: list) -> list:
    """Rebuild the narrower pair lists of a round to the widest one's columns (one neb_many program)."""
    cols = [getattr(getattr(e[0], "kernel", None), "columns", None) for e in jobs_energies if e is not None]
    cols = [c for c in cols if c is not None]  # all-pairs kernels have no columns
    return max(cols) if cols and len(set(cols)) > 1 else 0


_NOT_SCREENED_REC = {
    "outcome": NOT_SCREENED,
    "barrier": math.nan,
    "V0": math.nan,
    "splitting": math.nan,
    "Delta": math.nan,
    "Delta0": math.nan,
    "screen_steps": 0,
}

_STATE_COLUMNS = (
    "source",
    "iteration",
    "score",
    "outcome",
    "barrier",
    "V0",
    "splitting",
    "Delta",
    "Delta0",
    "screen_steps",
    "refined",
    "refined_tls",
    "in_control",
)


def _record(table, rows, recs, source, iteration, scores):
    for r, rec, sc in zip(rows, recs, scores, strict=True):
        table["source"][r] = source
        table["iteration"][r] = iteration
        table["score"][r] = sc
        table["outcome"][r] = rec["outcome"]
        table["screen_steps"][r] = rec["screen_steps"]
        for k in ("barrier", "V0", "splitting", "Delta", "Delta0"):
            table[k][r] = rec[k]


def _training_set(hunts, E_thr):
    X, dw, lr = [], [], []
    for h in hunts:
        t = h.table
        done = t["source"] > 0
        X.append(feature_matrix({k: t[k][done] for k in FEATURES}))
        dw.append(t["outcome"][done] == DOUBLE_WELL)
        with np.errstate(divide="ignore", invalid="ignore"):
            lr.append(np.log10(np.maximum(t["splitting"][done], 1e-300) / E_thr))
    return np.concatenate(X), np.concatenate(dw), np.concatenate(lr)


def screen_round(hunts, iteration, params, ranker, hbar, batch=1, devices=None):
    """One active-learning round over all glasses: this round's share of each control sample, the
    control pairs with band minima drawn since the last round, and the top-ranked unscreened pool
    pairs, screened through one neb_many queue."""
    jobs = []  # (hunt, row, source, score)
    for h in hunts:
        t = h.table
        # the control sample is spread evenly over the rounds (np.array_split keeps its order)
        ctrl = np.array_split(np.asarray(h.control, np.int64), params.iterations)[iteration]
        # control pairs with band minima (add_minima) waiting for a screen: before any ranked pair
        pend = np.flatnonzero(t["in_control"] & t["expanded"] & (t["source"] == 0))
        ctrl = np.concatenate([ctrl, pend[: max(0, params.per_iteration - len(ctrl))]])
        nc = len(ctrl)
        feats = {k: t[k] for k in FEATURES}
        scores = ranker.score(feature_matrix(feats), feats)
        for r in ctrl:
            jobs.append((h, int(r), CONTROL, float(scores[r])))
        n_rank = max(0, params.per_iteration - nc)
        free = t["pool"] & (t["source"] == 0) & ~t["in_control"]  # control pairs: in their own round
        cand = np.flatnonzero(free)
        top = cand[np.argsort(-scores[cand], kind="stable")[:n_rank]]
        for r in top:
            jobs.append((h, int(r), RANKED, float(scores[r])))
    return _screen_jobs(hunts, jobs, iteration, params, hbar, batch, devices, expand=True)


def screen_control_backlog(hunts, params, hbar, batch=1, devices=None):
    """After the last round: screen the control pairs still waiting (pairs with minima of the last
    round's bands, drawn into the control by add_minima), so that the control stays uniform over
    the whole pool; no further band minima are added. Returns the number of pairs screened."""
    jobs = []
    for h in hunts:
        t = h.table
        for r in np.flatnonzero(t["in_control"] & (t["source"] == 0)):
            jobs.append((h, int(r), CONTROL, math.nan))
    return _screen_jobs(hunts, jobs, params.iterations, params, hbar, batch, devices, expand=False)


def _screen_jobs(hunts, jobs, iteration, params, hbar, batch, devices, expand: bool):
    """Screen ``jobs`` [(hunt, row, source, score)] through one neb_many queue and record them;
    with ``expand``, the interior minima of multi-well bands join their glass (params.interior_minima)."""
    ens = [pair_energy(h, int(h.table["i"][r]), int(h.table["j"][r])) for h, r, *_ in jobs]
    width = _one_bucket(ens)
    if width:
        ens = [
            None if e is None else pair_energy(h, int(h.table["i"][r]), int(h.table["j"][r]), width)
            for (h, r, *_), e in zip(jobs, ens, strict=True)
        ]
    for (h, r, src, sc), e in zip(jobs, ens, strict=True):
        if e is None:  # too far apart for any pair list the box allows: no single double well
            _record(h.table, [r], [dict(_NOT_SCREENED_REC, outcome=LEFT_REGION)], src, iteration, [sc])
    keep = [k for k, e in enumerate(ens) if e is not None]
    jobs = [jobs[k] for k in keep]
    ens = [ens[k] for k in keep]
    if not jobs:
        return 0
    X = np.stack(
        [
            np.stack([h.minima.positions[h.table["i"][r]], h.minima.positions[h.table["j"][r]]])
            for h, r, *_ in jobs
        ]
    )
    valids = None if ens[0][1] is None else [e[1] for e in ens]
    recs, bands = screen_pairs(
        [e[0] for e in ens],
        X,
        np.zeros((len(jobs), 2)),
        hbar,
        hunts[0].conf.box,
        None,  # masses: the KA models have unit masses (path profiles in sigma)
        valids,
        params.images,
        SCREEN_NEB,
        batch,
        devices,
        k_max=max(h.lambda_max for h in hunts),
    )
    for (h, r, src, sc), rec in zip(jobs, recs, strict=True):
        _record(h.table, [r], [rec], src, iteration, [sc])
    if expand and params.interior_minima:  # this round's bands only: not kept (N d P floats each)
        for h in hunts:
            multi = {
                r: (band, e)
                for (hh, r, *_), band, e in zip(jobs, bands, ens, strict=True)
                if hh is h and h.table["outcome"][r] == MULTI_WELL
            }
            expand_with_interior_minima(h, multi, params.interior_minima)
    return len(jobs)


def expand_with_interior_minima(h: GlassHunt, multi: dict, budget: int) -> int:
    """Relax the interior minima of screening bands to minima of the glass (max|F| 1e-10); the new
    ones join ``h.minima`` and their pairs with all minima join the table (features, prefilter) as
    unscreened pairs. A band through an interior minimum joins its ends through that minimum, so
    the new pairs (end, interior) are often single double wells that the MD quenches missed.
    ``multi``: table row -> (band, (energy, is_valid) of the band). Returns the number of new minima."""
    from pelsim.landscape.connect import is_inside, relax

    m = h.minima
    newR, newE, newF = [], [], []
    for band, (energy, is_valid) in multi.values():
        for k in band.interior_minima(INTERIOR_MIN_TOL):
            if len(newR) >= budget:
                break
            mn = relax(energy, band.images[k])
            if mn.max_force > 1e-8 or not is_inside(is_valid, mn.R):
                continue
            R = np.mod(mn.R, h.conf.box)
            allE = list(m.energies) + newE
            allR = list(m.positions) + newR
            if find_minimum(mn.energy, R, allE, allR, h.conf.box) < 0:
                newR.append(R)
                newE.append(mn.energy)
                newF.append(mn.max_force)
    m.from_bands += len(newR)
    return add_minima(h, newR, newE, newF)


def add_minima(h: GlassHunt, newR, newE, newF) -> int:
    """Append minima (positions, energies, max forces) to ``h.minima``; their pairs with all minima
    join the table (features, prefilter) as unscreened pairs, flagged ``expanded``; the state of
    the old pairs (screening results, selection) moves with them. Returns the number added."""
    m = h.minima
    if not len(newR):
        return 0
    M0 = m.count
    m.append(newR, newE, newF)
    M = m.count
    old = h.table
    I, J = pair_indices(M)  # row-major: the old pairs keep their order among the new rows
    remap = np.flatnonzero((I < M0) & (J < M0))  # new row of each old row
    known = np.zeros(len(I), bool)
    known[remap] = True  # their displacement clusters are unchanged: not recomputed
    feats = pair_features(
        m.positions, m.energies, h.conf.box, None, m.transitions, m.visits, skip_clusters=known
    )
    for k in ("n_clusters", "cluster_share"):
        feats[k][remap] = old[k]
    new = _new_table(feats, prefilter(feats, _bounds_of(h)))
    for k in _STATE_COLUMNS:
        new[k][remap] = old[k]
    n_base = m.base if m.base is not None else len(m.sequence) and (max(m.sequence) + 1)
    new["expanded"] = (new["i"] >= n_base) | (new["j"] >= n_base)
    if h.control_rate > 0:  # each new pool pair joins the control with the base control's rate
        fresh = np.ones(len(I), bool)
        fresh[remap] = False
        rows = np.flatnonzero(fresh & new["pool"])
        rng = np.random.default_rng([int(h.seed), int(h.glass), int(M)])
        new["in_control"][rows[rng.random(len(rows)) < h.control_rate]] = True
    h.table = new
    h.control = remap[h.control] if len(h.control) else h.control
    return len(newR)


def _bounds_of(h: GlassHunt):
    from pelsim.landscape.pairs import PrefilterBounds

    return PrefilterBounds(**h.bounds)


def refine_candidates(h: GlassHunt, params: HuntParams, E_thr: float) -> list[tuple[int, str]]:
    """Rows to refine: every screened TLS (splitting < E_thr), whatever the budget, then at most
    ``max_refine`` in all: the other screened DWs with splitting < refine_factor E_thr (lowest
    first), the edges of up to ``twp_edges`` triangles of screened DWs, then (with
    ``refine_other_dws``) the other screened DWs, lowest splitting first.

    Every screened TLS is refined because the statistics count only those the refinement
    confirms (:func:`glass_summary`): an 8-image band misses shallow minima next to the saddle,
    and on the soft spheres (N = 200, docs/published_tls.md) 17 of 28 refined screened TLS were
    such two-step paths. With a budget, a glass with many candidates counted its unrefined ones
    as TLS (one glass: 8 of its 11)."""
    import networkx as nx

    t = h.table
    dw = np.flatnonzero(t["outcome"] == DOUBLE_WELL)
    dw = dw[np.argsort(t["splitting"][dw], kind="stable")]
    cand = dw[t["splitting"][dw] < params.refine_factor * E_thr]
    rows = [(int(r), "tls") for r in cand]
    have = {r for r, _ in rows}
    if params.twp_edges:
        G = nx.Graph()
        for r in dw:
            G.add_edge(int(t["i"][r]), int(t["j"][r]), row=int(r))
        tri = [c for c in nx.enumerate_all_cliques(G) if len(c) == 3][: params.twp_edges]
        for a, b, c in tri:
            for u, v in ((a, b), (b, c), (a, c)):
                r = G.edges[u, v]["row"]
                if r not in have:
                    rows.append((r, "twp_edge"))
                    have.add(r)
    if params.refine_other_dws:
        rows += [(int(r), "dw") for r in dw if int(r) not in have]
    must = int(np.sum(t["splitting"][cand] < E_thr))  # cand is sorted: the TLS come first
    return rows[: max(must, params.max_refine)]


def refine_rows(h: GlassHunt, rows, catalogue, params: HuntParams, seed: int, kind: str, stats: dict):
    """Full connection (connect.py) of the given table rows into the catalogue (method tls_hunt)."""
    from pelsim.landscape.connect import connect, joins_directly
    from pelsim.landscape.search import MAX_NEBS_PER_PAIR, recentring
    from pelsim.landscape.steps import SEARCH_NEB, add_checked_step

    recentre = recentring(h.conf, kind) if h.is_valid is not None else None
    t = h.table
    for r, why in rows:
        i, j = int(t["i"][r]), int(t["j"][r])
        pe = pair_energy(h, i, j)
        if pe is None:
            continue
        energy, is_valid = pe
        steps = connect(
            energy,
            h.minima.positions[i],
            h.minima.positions[j],
            params.refine_images,
            SEARCH_NEB,
            box=h.conf.box,
            minimize_ends=False,
            max_depth=1,
            max_nebs=MAX_NEBS_PER_PAIR,
            is_valid=is_valid,
            recentre=recentre,
            stats=stats,
        )
        t["refined"][r] = True
        prov = {"glass": h.glass, "seed": seed, "protocol": "tls_hunt", "reason": why, "pair": [i, j]}
        # the pair is a TLS only if its refinement is one elementary step between its own two minima
        # that is a TLS: a refinement through an intermediate minimum makes the pair a chain, whose
        # TLS step (catalogued) belongs to another pair (counting it here counted one TLS for
        # every pair whose path crossed it: one soft-sphere glass, 6 pairs for 3 TLS)
        direct = joins_directly(
            steps, h.minima.energies[i], h.minima.positions[i], h.minima.energies[j], h.minima.positions[j],
            h.conf.box,
        )  # fmt: skip
        for st in steps:
            k, _why = add_checked_step(catalogue, st, "tls_hunt", h.glass, seed, prov, is_valid)
            if direct and k is not None and catalogue.dwp_rows[k]["is_tls"]:
                t["refined_tls"][r] = True


def glass_summary(h: GlassHunt, E_thr: float) -> dict:
    """Counts of one glass's hunt (the inputs of :func:`hunt_statistics`)."""
    t = h.table
    scr = t["source"] > 0
    dw = t["outcome"] == DOUBLE_WELL
    # a screened TLS counts unless its refinement is not one TLS step between the pair's own minima
    # (e.g. a shallow intermediate minimum next to the saddle that the 8-image band could not
    # resolve): the refinement has the last word
    rejected = dw & (t["splitting"] < E_thr) & t["refined"] & ~t["refined_tls"]
    tls = dw & (t["splitting"] < E_thr) & ~rejected
    ex = t["expanded"]
    # two strata, sampled at the same rate: the pool of the MD minima, and the pairs with band minima
    ctrl, rank = (t["source"] == CONTROL) & ~ex, (t["source"] == RANKED) & ~ex
    ectrl, erank = (t["source"] == CONTROL) & ex, (t["source"] == RANKED) & ex
    return {
        "glass": int(h.glass),
        "minima": int(h.minima.count),
        "minima_from_bands": int(h.minima.from_bands),
        "minima_from_splits": int(h.minima.from_splits),
        "quenches": int(len(h.minima.sequence)),
        "pairs": int(len(t["i"])),
        "pool": int((t["pool"] & ~ex).sum()),
        "expanded_pool": int((t["pool"] & ex).sum()),
        "expanded_screened": int((scr & ex).sum()),
        "expanded_dw": int((scr & ex & dw).sum()),
        "expanded_tls": int((scr & ex & tls).sum()),
        "expanded_control": int(ectrl.sum()),
        "expanded_control_dw": int((ectrl & dw).sum()),
        "expanded_control_tls": int((ectrl & tls).sum()),
        "expanded_ranked_tls": int((erank & tls).sum()),
        "control_pending": int((t["in_control"] & ~scr).sum()),
        "screened": int(scr.sum()),
        "screened_dw": int((scr & dw).sum()),
        "screened_tls": int((scr & tls).sum()),
        "control": int(ctrl.sum()),
        "control_dw": int((ctrl & dw).sum()),
        "control_tls": int((ctrl & tls).sum()),
        "ranked": int(rank.sum()),
        "ranked_dw": int((rank & dw).sum()),
        "ranked_tls": int((rank & tls).sum()),
        "refined": int(t["refined"].sum()),
        "screen_tls_rejected_by_refinement": int(rejected.sum()),
        "refined_tls_pairs": int(t["refined_tls"].sum()),
        "lambda_max": float(h.lambda_max),
        **{f"bound_{k}": v for k, v in h.bounds.items()},
        "seconds": dict(h.minima.seconds),
    }


def hunt_statistics(summaries: list[dict], n_particles: int, E_thr: float, bootstrap: int = 1000, seed=0):
    """Selection-aware TLS statistics over glasses.

    Two strata, sampled by the control at the same rate q (``GlassHunt.control_rate``): the pool of
    the MD minima (per glass P pairs, n_c of them in the control, t_c control TLS) and the pool
    pairs with minima relaxed from screening bands (P_x, n_x, t_x; ``expanded_*``, drawn into the
    control as they appear). The TLS in the pool are estimated as sum_g P t_c / n_c (per glass) +
    sum_g P_x * (sum t_x / sum n_x) (pooled over glasses: the band pairs of one glass are few, and
    q is the same everywhere); the screen's recall is the TLS it found outside the control over
    that estimate restricted to the pairs outside the control. n0 (TLS per particle per unit
    energy, eps^-1) is given two ways: ``n0_found`` from the TLS actually found (a lower bound) and
    ``n0_estimated`` from the control estimate (unbiased, noisy). Summaries without a control of
    the band pairs (older runs, ``control_band_pairs = false``) leave that stratum out of the
    estimate and the recall, as before. Errors: bootstrap over glasses (``bootstrap`` resamples);
    the recall also gets an exact 95 % interval (``recall_low``, ``recall_high``): it is the ratio
    of two Poisson rates, TLS per pair outside the control over TLS per pair in the control,
    pooled over glasses and strata (valid because both strata are sampled at the same rate;
    :func:`rate_ratio`). When the control TLS all sit in one glass the bootstrap cannot see the
    scatter between glasses (every resample holding that glass gives the same ratio, ~0 spread):
    ``recall_err`` is then NaN and the figure unreliable."""
    S = list(summaries)
    if not S:
        raise InputError("hunt_statistics needs at least one glass")

    def col(ss, k):
        return np.array([s.get(k, 0) for s in ss], float)

    def stats_of(ss):
        P, nc, tc = col(ss, "pool"), col(ss, "control"), col(ss, "control_tls")
        found, tr = col(ss, "screened_tls"), col(ss, "ranked_tls")
        Px, nx, tx = col(ss, "expanded_pool"), col(ss, "expanded_control"), col(ss, "expanded_control_tls")
        trx = col(ss, "expanded_ranked_tls")
        est = np.where(nc > 0, P * tc / np.maximum(nc, 1), np.nan)
        exp_rank = np.where(nc > 0, (P - nc) * tc / np.maximum(nc, 1), np.nan)
        found_out = tr.sum()
        expected_out = np.nansum(exp_rank)
        est_total = np.nansum(est) if np.isfinite(est).any() else np.nan
        if nx.sum() > 0:  # the band pairs' stratum, pooled over glasses
            rate_x = tx.sum() / nx.sum()
            est_total = (0.0 if np.isnan(est_total) else est_total) + Px.sum() * rate_x
            expected_out += (Px.sum() - nx.sum()) * rate_x
            found_out += trx.sum()
        norm = len(ss) * n_particles * E_thr
        return {
            "n0_found": found.sum() / norm,
            "n0_estimated": est_total / norm,
            "recall": found_out / expected_out if expected_out > 0 else np.nan,
            "tls_found": found.sum(),
            "tls_estimated_in_pool": est_total,
        }

    base = stats_of(S)
    rng = np.random.default_rng(seed)
    boots = [
        stats_of([S[k] for k in rng.integers(0, len(S), len(S))])
        for _ in range(bootstrap if len(S) > 1 else 0)
    ]
    out = {k: float(v) for k, v in base.items()}
    for k in base:
        vals = np.array([b[k] for b in boots], float)
        vals = vals[np.isfinite(vals)]
        out[f"{k}_err"] = float(np.std(vals)) if len(vals) > 1 else math.nan
    tot = lambda k: int(sum(s.get(k, 0) for s in S))
    with_x = tot("expanded_control") > 0  # the band pairs' stratum enters (see above)

    def both(k, ss=S):  # a count summed over the strata that enter (and over the glasses ss)
        return sum(s.get(k, 0) + (s.get(f"expanded_{k}", 0) if with_x else 0) for s in ss)

    control_glasses = int(sum(1 for s in S if both("control_tls", [s]) > 0))
    if control_glasses < 2:
        out["recall_err"] = math.nan
    n_ctl, t_ctl, k_out = both("control"), both("control_tls"), both("ranked_tls")
    out_exposure = float(both("pool") - n_ctl)
    if n_ctl > 0 and out_exposure > 0:
        rr = rate_ratio(k_out, out_exposure, t_ctl, n_ctl)
        out["recall_low"], out["recall_high"] = rr["ratio_low"], rr["ratio_high"]
    else:
        out["recall_low"], out["recall_high"] = 0.0, math.inf
    out.update(
        control_tls_glasses=control_glasses,
        glasses=len(S),
        pool=tot("pool"),
        screened=tot("screened"),
        screened_dw=tot("screened_dw"),
        control=tot("control"),
        control_tls=tot("control_tls"),
        control_dw=tot("control_dw"),
        ranked=tot("ranked"),
        ranked_tls=tot("ranked_tls"),
        refined=tot("refined"),
        screen_tls_rejected_by_refinement=tot("screen_tls_rejected_by_refinement"),
        expanded_pool=tot("expanded_pool"),
        expanded_screened=tot("expanded_screened"),
        expanded_dw=tot("expanded_dw"),
        expanded_tls=tot("expanded_tls"),
        expanded_control=tot("expanded_control"),
        expanded_control_tls=tot("expanded_control_tls"),
        expanded_control_dw=tot("expanded_control_dw"),
        n_particles=int(n_particles),
        E_thr=float(E_thr),
        reliable=bool(t_ctl >= 3 and control_glasses >= 2),
    )
    if t_ctl < 3:
        out["caveat"] = (
            f"only {t_ctl} TLS in the control sample: the recall and n0_estimated are "
            "not measured to better than a factor of a few"
        )
    elif control_glasses < 2:
        out["caveat"] = (
            f"the {t_ctl} TLS of the control sample all lie in one glass: the recall and "
            "n0_estimated rest on that glass, and their errors over glasses are not measured"
        )
    if np.isfinite(out["recall"]) and out["recall"] > 1:
        out["caveat"] = (out.get("caveat", "") + "; " if out.get("caveat") else "") + (
            f"the recall estimate {out['recall']:.2f} exceeds 1: the control sample's TLS rate is "
            "below that of the ranked pairs by chance, so the control underestimates the pool"
        )
    return out


def rate_ratio(k: int, exposure: float, k_ref: int, exposure_ref: float, confidence: float = 0.95) -> dict:
    """Ratio of two Poisson rates, (k / exposure) / (k_ref / exposure_ref), with an exact interval.

    Conditional on n = k + k_ref, k is binomial with p = r E / (r E + E_ref) (r the rate ratio):
    the Clopper-Pearson interval of p maps to an interval of r, conservative at any count (the
    standard exact test of two Poisson counts). ``p_lower`` is the one-sided p-value of the null
    r >= 1 against r < 1 (the depletion of TLS with stability: k the stable glasses' count)."""
    from scipy.stats import binomtest

    if not (exposure > 0 and exposure_ref > 0):
        raise InputError(f"rate_ratio: exposures must be > 0 (got {exposure}, {exposure_ref})")
    if k < 0 or k_ref < 0:
        raise InputError(f"rate_ratio: counts must be >= 0 (got {k}, {k_ref})")
    k, k_ref, n = int(k), int(k_ref), int(k) + int(k_ref)
    scale = exposure_ref / exposure
    out = {"k": k, "exposure": float(exposure), "k_ref": k_ref, "exposure_ref": float(exposure_ref)}
    if n == 0:
        return out | {"ratio": math.nan, "ratio_low": 0.0, "ratio_high": math.inf, "p_lower": 1.0}
    res = binomtest(k, n, exposure / (exposure + exposure_ref), alternative="less")
    ci = binomtest(k, n).proportion_ci(confidence_level=confidence, method="exact")
    odds = lambda p: p / (1.0 - p) * scale if p < 1.0 else math.inf  # noqa: E731
    return out | {
        "ratio": (k / exposure) / (k_ref / exposure_ref) if k_ref else math.inf,
        "ratio_low": odds(ci.low),
        "ratio_high": odds(ci.high),
        "p_lower": float(res.pvalue),
    }


def depletion_by_T_f(by_T_f: dict, confidence: float = 0.95) -> dict:
    """TLS found per glass at each preparation temperature against the least stable (highest T_f).

    ``by_T_f`` maps T_f (str or float) to :func:`hunt_statistics` of that T_f's glasses (same N,
    threshold and hunt protocol). For each other T_f: :func:`rate_ratio` of the TLS found per glass
    (exposure = glasses: n0_found ratio, since N and E_thr are common) and of the TLS per screened
    double well (exposure = screened DWs), each with its exact interval and one-sided p-value of
    depletion. The ratios compare what one protocol finds: with a fixed exploration budget they
    include the depletion "by the manner in which the landscape is probed" (fewer minima per glass
    in stable glasses), as in Khomenko et al. (2020)."""
    if not by_T_f:
        return {}
    keys = sorted(by_T_f, key=float)
    ref_key = keys[-1]
    ref = by_T_f[ref_key]
    out = {"reference_T_f": float(ref_key), "confidence": confidence, "vs_reference": {}}
    for key in keys[:-1]:
        s = by_T_f[key]
        per_glass = rate_ratio(s["tls_found"], s["glasses"], ref["tls_found"], ref["glasses"], confidence)
        if s["screened_dw"] > 0 and ref["screened_dw"] > 0:
            per_dw = rate_ratio(
                s["tls_found"], s["screened_dw"], ref["tls_found"], ref["screened_dw"], confidence
            )
        else:
            per_dw = None
        out["vs_reference"][f"{float(key):g}"] = {"tls_per_glass": per_glass, "tls_per_dw": per_dw}
    return out


def depletion_by_stability(summaries: list[dict], e_IS, confidence: float = 0.95) -> dict:
    """What the hunt finds per glass against the glass's own stability, its IS energy per particle.

    At small N the glass-to-glass spread of e_IS is comparable to the shift between preparation
    temperatures (polydisperse soft spheres, N = 200: sd 0.0065 at each T_f against 0.019 between
    T_f = 0.12 and 0.092; docs/published_tls.md), so the nominal T_f mixes stabilities. Here every
    glass is placed by its e_IS:

    - the glasses are split at the median e_IS (ties go to the upper half); for the TLS found, the
      screened DWs and the distinct minima per glass, :func:`rate_ratio` of the stable (lower) half
      against the less stable (upper) half, exposure = glasses, with its exact interval and
      one-sided p-value of depletion. The exact interval assumes independent (Poisson) events:
      DWs and minima cluster in glasses (one glass can hold a quarter of all DWs), so for them it
      is too narrow, and
    - the one-sided Mann-Whitney U test of the per-glass counts (stable half smaller), which
      needs no such assumption, and the Spearman rank correlation of each per-glass count with
      e_IS over all glasses (one-sided p of a positive correlation: fewer in stabler glasses).

    ``summaries``: per-glass :func:`glass_summary` dicts; ``e_IS``: their IS energies per particle.
    """
    from scipy.stats import mannwhitneyu, spearmanr

    S = list(summaries)
    e = np.asarray(e_IS, float)
    if len(S) != e.size:
        raise InputError(f"depletion_by_stability: {len(S)} glasses but {e.size} IS energies")
    if e.size < 4 or not np.all(np.isfinite(e)):
        raise InputError("depletion_by_stability needs >= 4 glasses with finite IS energies")
    med = float(np.median(e))
    stable = e < med
    if not stable.any():  # all equal
        raise InputError("depletion_by_stability: the IS energies do not differ")
    out = {
        "median_e_IS": med,
        "glasses_stable": int(stable.sum()),
        "glasses_unstable": int((~stable).sum()),
        "e_IS_stable_mean": float(e[stable].mean()),
        "e_IS_unstable_mean": float(e[~stable].mean()),
        "confidence": confidence,
    }
    for key, col in (("tls", "screened_tls"), ("screened_dw", "screened_dw"), ("minima", "minima")):
        x = np.array([s[col] for s in S], float)
        r = rate_ratio(int(x[stable].sum()), stable.sum(), int(x[~stable].sum()), (~stable).sum(), confidence)
        r["mean_stable"], r["mean_unstable"] = float(x[stable].mean()), float(x[~stable].mean())
        r["mannwhitney_p_lower"] = float(mannwhitneyu(x[stable], x[~stable], alternative="less").pvalue)
        if np.ptp(x) > 0:
            rho = spearmanr(e, x)
            p = float(rho.pvalue) / 2 if rho.statistic > 0 else 1.0 - float(rho.pvalue) / 2
            r["spearman_rho"], r["spearman_p_positive"] = float(rho.statistic), p
        else:
            r["spearman_rho"], r["spearman_p_positive"] = math.nan, 1.0
        out[key] = r
    dw_s, dw_u = out["screened_dw"]["k"], out["screened_dw"]["k_ref"]
    if dw_s > 0 and dw_u > 0:
        out["tls_per_dw"] = rate_ratio(out["tls"]["k"], dw_s, out["tls"]["k_ref"], dw_u, confidence)
    else:
        out["tls_per_dw"] = None
    return out


def hunt_glasses(
    confs,
    catalogue=None,
    params: HuntParams | None = None,
    glass: int = 0,
    seeds=None,
    kind: str = "smooth",
    unit_preset: str = "argon",
    tls_threshold_K: float = 1.0,
    out=None,
    neb_batch: int = 1,
    neb_devices=None,
    progress: bool = False,
):
    """The TLS hunt (module docstring) on several glasses of one system size, into one catalogue.

    Returns (catalogue, hunts, summary): ``hunts`` the per-glass :class:`GlassHunt` (pair tables),
    ``summary`` a dict with per-glass counts (``glasses``), :func:`hunt_statistics` (``statistics``)
    and timings."""
    from tqdm.auto import tqdm

    from pelsim.units import get_preset

    params = params or HuntParams()
    confs = list(confs)
    if not confs:
        raise InputError("hunt_glasses needs at least one glass")
    if len({c.n for c in confs}) > 1:
        raise InputError(f"hunt_glasses: the glasses differ in N ({sorted({c.n for c in confs})})")
    seeds = [glass + k for k in range(len(confs))] if seeds is None else list(seeds)
    preset = get_preset(unit_preset)
    hbar = preset.hbar
    E_thr = preset.energy_reduced(tls_threshold_K)
    t0 = time.perf_counter()
    hunts = [
        plan_hunt(c, glass + k, params, hbar, E_thr, kind, s)
        for k, (c, s) in enumerate(
            tqdm(list(zip(confs, seeds, strict=True)), disable=not progress, desc="minima")
        )
    ]
    t_plan = time.perf_counter() - t0
    ranker = PairRanker(E_thr, seed=seeds[0])
    for it in tqdm(range(params.iterations), disable=not progress, desc="screening rounds"):
        if it > 0:
            ranker.fit(*_training_set(hunts, E_thr))
        screen_round(hunts, it, params, ranker, hbar, neb_batch, neb_devices)
    screen_control_backlog(hunts, params, hbar, neb_batch, neb_devices)
    t_screen = time.perf_counter() - t0 - t_plan
    if catalogue is None:
        from pelsim.landscape.search import catalogue_for

        catalogue = catalogue_for(confs[0], kind, unit_preset, tls_threshold_K, out)
    rstats: dict = {}
    for h, s in zip(hunts, seeds, strict=True):
        catalogue.add_minimum(
            h.conf.positions, float(h.minima.energies[0]), 0.0, h.glass, {"protocol": "glass IS"}
        )
        if h.conf.diameters is not None:  # polydisperse: the glass's diameters (catalogue.configuration)
            catalogue.set_diameters(h.glass, h.conf.diameters)
        refine_rows(h, refine_candidates(h, params, E_thr), catalogue, params, s, kind, rstats)
    catalogue.find_twps()
    t_refine = time.perf_counter() - t0 - t_plan - t_screen
    summaries = [glass_summary(h, E_thr) for h in hunts]
    summary = {
        "params": asdict(params),
        "glasses": summaries,
        "statistics": hunt_statistics(summaries, confs[0].n, E_thr),
        "seconds": {"minima": t_plan, "screen": t_screen, "refine": t_refine},
        "E_thr": E_thr,
        "hbar": hbar,
    }
    if out:
        catalogue.save(out)
    return catalogue, hunts, summary


def write_pair_tables(path, hunts, summary) -> None:
    """Write every glass's pair table (features, pool, selection, screening outcome, refinement) to
    HDF5 atomically: group ``glass_<k>`` with one dataset per column, plus the minima energies,
    visits and transition counts; the summary as JSON in the root attribute ``summary``."""
    import json
    import os
    from pathlib import Path

    import h5py

    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with h5py.File(tmp, "w") as f:
        f.attrs["summary"] = json.dumps(summary, default=float)
        f.attrs["outcomes"] = json.dumps(OUTCOMES)
        for h in hunts:
            g = f.create_group(f"glass_{h.glass}")
            for k, v in h.table.items():
                g.create_dataset(k, data=np.asarray(v), compression="gzip")
            m = g.create_group("minima")
            m.create_dataset("energies", data=h.minima.energies)
            m.create_dataset("positions", data=h.minima.positions, compression="gzip", shuffle=True)
            m.create_dataset("visits", data=h.minima.visits)
            m.create_dataset("transitions", data=h.minima.transitions, compression="gzip")
            m.create_dataset("sequence", data=np.asarray(h.minima.sequence, np.int64))
    os.replace(tmp, path)


def read_pair_tables(path) -> tuple[dict, dict]:
    """(tables: glass -> column dict, summary) from :func:`write_pair_tables`."""
    import json

    import h5py

    with h5py.File(path, "r") as f:
        summary = json.loads(f.attrs["summary"])
        tables = {int(name.split("_")[1]): {k: g[k][()] for k in g if k != "minima"} for name, g in f.items()}
    return tables, summary


__all__ = [
    "write_pair_tables",
    "read_pair_tables",
    "HuntParams",
    "SCREEN_NEB",
    "SCREEN_IMAGES",
    "GlassMinima",
    "minima_from_sequence",
    "collect_minima",
    "screen_bands",
    "screen_pairs",
    "PairRanker",
    "GlassHunt",
    "plan_hunt",
    "screen_round",
    "screen_control_backlog",
    "refine_candidates",
    "refine_rows",
    "glass_summary",
    "hunt_statistics",
    "rate_ratio",
    "depletion_by_T_f",
    "depletion_by_stability",
    "hunt_glasses",
    "OUTCOMES",
]
