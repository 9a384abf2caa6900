"""Double-ended connection of two minima through verified saddles (elementary steps).

The pele/OPTIM ``DoubleEndedConnect`` idea, in its simplest recursive form:

1. minimise both endpoints (``pelsim.minimize``, max|F| <= fmax_min);
2. CI-NEB between them (neb.py);
3. if the band has an interior local minimum, minimise that image; when it is a
   new minimum, split the pair at it and recurse on both halves;
4. otherwise refine the climbing image to a saddle by eigenvector following
   (saddle.py), step +/- ``push`` along its negative mode, minimise both sides
   and identify the two minima (identity.py). A saddle whose two sides give two
   distinct minima is a verified elementary step (a DWP). If they are not the
   NEB endpoints, the remaining gaps are connected recursively.

Each verified step carries the path profile V(s) (mass-weighted arc length)
from which :mod:`pelsim.tunneling` computes V0, d, hbar*Omega and Delta0
(seed Eqs. 3-4): the band between the verified minima, with the climbing image
replaced by the refined saddle.

Energies that are exact only in a region (a fixed pair list, ``is_valid``) are re-centred, not
dropped: when a band, an interior minimum or a verified saddle leaves the region, the optional hook
``recentre(points) -> (energy, is_valid) | None`` builds an energy whose region covers those
points; the band continues from where it stopped (or is split at an interior minimum it already
shows), and everything downstream of it (split, recursion, saddle refinement, verification,
profile) uses that energy. Each step carries the check of the energy it was found with
(``ElementaryStep.is_valid``), so that a catalogue check uses the right one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import jax.numpy as jnp
import numpy as np

from pelsim.errors import InputError
from pelsim.geometry import free_displacement, periodic_displacement
from pelsim.landscape.identity import DISTANCE_TOL, ENERGY_TOL, same_minimum
from pelsim.landscape.neb import NEBParams, NEBResult, neb
from pelsim.landscape.saddle import StationaryResult, refine_saddle
from pelsim.system import band_value_and_grad
from pelsim.system import hvp as autodiff_hvp


@dataclass
class Minimum:
    """A local minimum: positions R, energy, max per-particle force."""

    R: np.ndarray
    energy: float
    max_force: float


@dataclass
class ElementaryStep:
    """A verified saddle between two distinct minima, with its path profile.

    profile: dict with ``s`` (mass-weighted arc length from min_a), ``V`` (energy
    relative to min_a) and ``dVds`` at the band images; ``images`` the band (P, N, d).
    ``is_valid``: the validity check of the energy the step was found with (None: exact
    everywhere, or not recorded); after a re-centring, the re-centred energy's check.
    """

    min_a: Minimum
    saddle: StationaryResult
    min_b: Minimum
    profile: dict
    images: np.ndarray
    verified: bool = True
    info: dict = field(default_factory=dict)
    is_valid: Callable | None = field(default=None, repr=False, compare=False)

    @property
    def barrier(self) -> float:
        return self.saddle.energy - self.min_a.energy

    @property
    def asymmetry(self) -> float:
        return self.min_b.energy - self.min_a.energy


def relax(energy, R, fmax: float = 1e-10) -> Minimum:
    """Minimise R with pelsim.minimize (L-BFGS, FIRE fallback)."""
    from pelsim.minimize import minimize

    res = minimize(energy, np.asarray(R, dtype=float), method="auto", fmax=fmax)
    return Minimum(np.asarray(res.R), float(res.energy), float(res.max_force))


def path_profile(energy, images, masses=None, displacement=free_displacement) -> dict:
    """Profile of a band: mass-weighted arc length s, V(s) - V(0), dV/ds at each image.

    s_k = sum_{j<k} |M^1/2 (R_{j+1} - R_j)| (chord lengths, minimum image); dV/ds from
    the gradient projected on the central-difference mass-weighted tangent.
    """
    images = jnp.asarray(images, dtype=jnp.float64)
    E, G = band_value_and_grad(energy, images)
    E, G = np.asarray(E), np.asarray(G)
    d = np.asarray(displacement(images[:-1], images[1:]))
    if masses is None:
        w = np.ones(images.shape[1:-1] + (1,)) if images.ndim > 2 else 1.0
    else:
        w = np.asarray(masses, dtype=float).reshape(-1, 1)
    dq = d * np.sqrt(w)  # mass-weighted displacements
    seg = np.sqrt(np.sum(dq.reshape(dq.shape[0], -1) ** 2, axis=1))
    s = np.concatenate([[0.0], np.cumsum(seg)])
    # tangent at each image (mass-weighted), gradient in mass-weighted coordinates g/sqrt(m)
    t = np.empty_like(np.asarray(images))
    t[0], t[-1] = dq[0], dq[-1]
    t[1:-1] = dq[:-1] + dq[1:]
    tn = np.sqrt(np.sum(t.reshape(t.shape[0], -1) ** 2, axis=1))
    t = t / tn.reshape((-1,) + (1,) * (t.ndim - 1))
    gq = G / np.sqrt(w)
    dVds = np.sum((gq * t).reshape(t.shape[0], -1), axis=1)
    dVds[0] = dVds[-1] = 0.0  # endpoints are minima
    # curvature d2V/ds2 at the two minima: the path leaves a minimum along a Hessian
    # eigenvector; the chord to the next image only approximates it, so take the Ritz
    # pair (Krylov space of the chord) with the largest overlap with the chord.
    curv = [_path_curvature(energy, images[0], t[0], w), _path_curvature(energy, images[-1], t[-1], w)]
    return {"s": s, "V": E - E[0], "dVds": dVds, "curvature": (curv[0], curv[1])}


def _path_curvature(energy, R, tq, w, m: int = 12) -> float:
    """Eigenvalue of the mass-weighted Hessian at minimum R whose eigenvector best matches tq."""
    R = jnp.asarray(R)
    shape = R.shape
    sw = np.broadcast_to(np.sqrt(w), shape).ravel()
    hvp = lambda v: autodiff_hvp(energy, R, v)
    t0 = np.asarray(tq, float).ravel()
    t0 = t0 / np.linalg.norm(t0)
    Q = [t0]
    HQ = []
    m = min(m, t0.size)
    for _ in range(m):
        v = Q[-1]
        hv = np.asarray(hvp(jnp.asarray((v / sw).reshape(shape)))).ravel() / sw
        HQ.append(hv)
        if len(Q) == m:
            break
        nxt = hv - sum((hv @ q) * q for q in Q)
        nxt -= sum((nxt @ q) * q for q in Q)  # re-orthogonalise
        nn = np.linalg.norm(nxt)
        if nn < 1e-10 * max(np.linalg.norm(hv), 1e-300):
            break
        Q.append(nxt / nn)
    Qm = np.array(Q[: len(HQ)]).T
    T = Qm.T @ np.array(HQ).T
    lam, U = np.linalg.eigh(0.5 * (T + T.T))
    k = int(np.argmax(np.abs(U[0])))  # overlap of Ritz vector with t0 (= first basis vector)
    return float(lam[k])


def verify_saddle(energy, saddle: StationaryResult, push: float = 0.01, fmax: float = 1e-10):
    """Minimise from the saddle +/- push along its negative mode -> (Minimum, Minimum).

    ``push`` is the largest particle displacement of the step (sigma).
    """
    mode = np.asarray(saddle.mode, dtype=float)
    big = np.max(np.linalg.norm(mode.reshape(-1, mode.shape[-1]), axis=-1))
    step = push * mode / big
    m_minus = relax(energy, saddle.R - step, fmax)
    m_plus = relax(energy, saddle.R + step, fmax)
    return m_minus, m_plus


def step_from_saddle(
    energy,
    saddle: StationaryResult,
    m1: Minimum,
    m2: Minimum,
    n_images: int = 12,
    params: NEBParams | None = None,
    box=None,
    masses=None,
    info=None,
) -> ElementaryStep:
    """Elementary step from a known saddle and its two minima: the path profile comes from
    two half-bands (m1 -> saddle, saddle -> m2, saddle fixed, no climbing) relaxed together
    with ``neb_batch``."""
    from dataclasses import replace

    from pelsim.landscape.neb import neb_batch

    params = replace(params or NEBParams(fmax=1e-3), climb=False)
    disp = free_displacement if box is None else periodic_displacement(box)
    half = max(1, n_images // 2)
    Rs = np.asarray(saddle.R)
    ra = np.stack([m1.R, Rs])
    rb = np.stack([Rs, m2.R])
    # make the saddle image continuous with each minimum under the minimum image convention
    ra[1] = m1.R + np.asarray(disp(jnp.asarray(m1.R), jnp.asarray(Rs)))
    rb[1] = Rs + np.asarray(disp(jnp.asarray(Rs), jnp.asarray(m2.R)))
    left, right = neb_batch(energy, ra, rb, half, params, disp)
    images = np.concatenate([left.images, right.images[1:]])
    images[half + 1] = Rs
    prof = path_profile(energy, images, masses, disp)
    return ElementaryStep(
        m1, saddle, m2, prof, images, True, dict(info or {}, profile_steps=int(left.steps + right.steps))
    )


def _tangent_at(images, i, displacement):
    a = np.asarray(displacement(jnp.asarray(images[i - 1]), jnp.asarray(images[i + 1])))
    return a / np.linalg.norm(a)


#: counts of the re-centring of one connect call (all recursion levels), see :func:`connect`
RECENTRE_STATS = ("recentred", "recentre_gave_up", "recentre_budget_spent", "invalid_branches")


def is_inside(is_valid, *Rs) -> bool:
    """True when every configuration R passes ``is_valid`` (None: exact everywhere)."""
    if is_valid is None:
        return True
    return all(bool(is_valid(jnp.asarray(R))) for R in Rs)


@dataclass
class _Recentring:
    """The re-centring hook of one connect call, shared by its whole recursion (budget, counts)."""

    fn: Callable | None
    budget: int
    stats: dict

    def __call__(self, *points):
        """(energy, is_valid) whose region covers all ``points`` (arrays (..., N, d)), or None (no
        hook, budget spent, or the hook gave up): the branch that asked then ends without steps."""
        new = None
        if self.fn is not None and self.stats["recentred"] >= self.budget:
            self.stats["recentre_budget_spent"] += 1
        elif self.fn is not None:
            shape = np.shape(points[0])[-2:]
            new = self.fn(np.concatenate([np.reshape(p, (-1,) + shape) for p in points]))
            self.stats["recentred" if new is not None else "recentre_gave_up"] += 1
        if new is None:
            self.stats["invalid_branches"] += 1
        return new


def joins_directly(
    steps, Ea, Ra, Eb, Rb, box=None, energy_tol: float = ENERGY_TOL, distance_tol: float = DISTANCE_TOL
) -> bool:
    """True when ``steps`` (a :func:`connect` result) is one elementary step whose two minima are
    (Ea, Ra) and (Eb, Rb), in either order: the pair is itself a double well, not a chain of them."""
    if len(steps) != 1:
        return False
    a, b = steps[0].min_a, steps[0].min_b
    same = lambda m, E, R: same_minimum(m.energy, m.R, E, R, box, energy_tol, distance_tol)  # noqa: E731
    return (same(a, Ea, Ra) and same(b, Eb, Rb)) or (same(a, Eb, Rb) and same(b, Ea, Ra))


def connect(
    energy,
    Ra,
    Rb,
    n_images: int = 16,
    params: NEBParams | None = None,
    box=None,
    masses=None,
    fmax_min: float = 1e-10,
    fmax_saddle: float = 1e-10,
    push: float = 0.01,
    energy_tol: float = ENERGY_TOL,
    distance_tol: float = DISTANCE_TOL,
    max_depth: int = 4,
    minimize_ends: bool = True,
    max_nebs: int = 0,
    is_valid=None,
    recentre=None,
    max_recentres: int = 2,
    stats: dict | None = None,
    band: NEBResult | None = None,
    _depth: int = 0,
    _nebs=None,
    _rc: _Recentring | None = None,
) -> list[ElementaryStep]:
    """Connect minima Ra and Rb through verified elementary steps (see module docstring).

    Returns the verified steps found (possibly fewer than needed to join Ra and Rb
    when ``max_depth`` or ``max_nebs`` is exhausted; each step is a valid DWP on its own).
    ``max_nebs`` (0 = no limit) bounds the NEBs of the whole recursion: unconverged bands split
    at spurious interior minima can otherwise multiply (KA N=1000, 16 images: > 17 min for one
    IS pair at depth 2, 2026-11-24).

    ``is_valid`` (optional, as in :func:`neb`): the region where ``energy`` is exact. A band that
    leaves it stops there (neb.py); an interior minimum or a verified saddle (or one of its two
    minima) found outside it is not used as is. Then ``recentre(points)`` (optional, e.g.
    :func:`pelsim.landscape.search.recentring`) is asked for an ``(energy, is_valid)`` whose region
    covers ``points`` (the band and the offending configurations): the band continues from where
    it stopped (``neb(..., band=)``; a stopped band that already shows an interior minimum is split
    there instead), the minimum is relaxed again or the saddle refined and
    verified again, and the branch goes on with that energy. Without a hook, when the hook
    returns None, or after ``max_recentres`` re-centrings (whole recursion), the branch ends
    without steps. Each re-centring compiles the jitted relaxations again (the energy is a static
    jit argument). ``band`` (optional): the relaxed first band Ra -> Rb (e.g. from
    :func:`pelsim.landscape.neb.neb_many`, which relaxes the first bands of many pairs at once),
    used instead of the first NEB; it needs ``minimize_ends=False`` (its ends are Ra and Rb).
    ``stats`` (optional dict): the counts of :data:`RECENTRE_STATS` are added to
    it. Every returned step's ``is_valid`` is the check of the energy it was found with.
    """
    params = params or NEBParams(fmax=1e-3)
    disp = free_displacement if box is None else periodic_displacement(box)
    same = lambda a, b: same_minimum(a.energy, a.R, b.energy, b.R, box, energy_tol, distance_tol)
    if band is not None and (minimize_ends or np.shape(band.images)[1:] != np.shape(Ra)):
        raise InputError("connect(band=...) needs minimize_ends=False and a band of Ra's shape")
    if _rc is None:
        if int(max_recentres) != max_recentres or max_recentres < 0:
            raise InputError(f"max_recentres must be an integer >= 0, got {max_recentres}")
        _rc = _Recentring(recentre, int(max_recentres), dict.fromkeys(RECENTRE_STATS, 0))
    A = relax(energy, Ra, fmax_min) if minimize_ends else Minimum(np.asarray(Ra), float(energy(Ra)), 0.0)
    B = relax(energy, Rb, fmax_min) if minimize_ends else Minimum(np.asarray(Rb), float(energy(Rb)), 0.0)
    nebs = [0] if _nebs is None else _nebs  # shared by the whole recursion
    kw = dict(
        n_images=n_images,
        params=params,
        box=box,
        masses=masses,
        fmax_min=fmax_min,
        fmax_saddle=fmax_saddle,
        push=push,
        energy_tol=energy_tol,
        distance_tol=distance_tol,
        max_depth=max_depth,
        minimize_ends=False,
        max_nebs=max_nebs,
        is_valid=is_valid,
        _depth=_depth + 1,
        _nebs=nebs,
        _rc=_rc,
    )
    try:
        if same(A, B) or _depth > max_depth or (max_nebs > 0 and nebs[0] >= max_nebs):
            return []
        nebs[0] += 1
        if band is None:
            band = neb(energy, A.R, B.R, n_images, params, disp, is_valid=is_valid)
        while True:
            if not band.valid:  # left the region: re-centre on the band where it stopped
                new = _rc(band.images)
                if new is None:
                    return []
                energy, is_valid = new
                kw["is_valid"] = is_valid
            inner = band.interior_minima()
            if inner:
                M = relax(energy, band.images[inner[0]], fmax_min)
                if not is_inside(is_valid, M.R):
                    new = _rc(band.images, M.R)
                    if new is None:
                        return []
                    energy, is_valid = new
                    kw["is_valid"] = is_valid
                    M = relax(energy, M.R, fmax_min)
                    if not is_inside(is_valid, M.R):
                        _rc.stats["invalid_branches"] += 1
                        return []
                if not same(M, A) and not same(M, B):
                    return connect(energy, A.R, M.R, **kw) + connect(energy, M.R, B.R, **kw)
            if band.valid:
                break
            # a stopped band without a new interior minimum: continue it with the re-centred energy.
            # A stopped band that shows one is split there instead: continued, the images of the
            # benchmark pair is2 -> is3 kept sliding into ever lower minima (7.8 -> 31 eps below is2
            # over 6 re-centrings, 74 s, no step); split, it gave 3 steps (docs/landscape.md)
            band = neb(energy, A.R, B.R, n_images, params, disp, band=band.images, is_valid=is_valid)
        return _steps_from_band(energy, A, B, band, disp, same, kw)
    finally:
        if stats is not None and _depth == 0:
            for k in RECENTRE_STATS:
                stats[k] = stats.get(k, 0) + _rc.stats[k]


def _steps_from_band(energy, A, B, band: NEBResult, disp, same, kw) -> list[ElementaryStep]:
    ic = band.i_climb
    if ic <= 0 or ic >= len(band.energies) - 1:
        return []
    is_valid, rc = kw["is_valid"], kw["_rc"]
    R0, direction = band.images[ic], _tangent_at(band.images, ic, disp)
    for _attempt in range(2):  # once more after a re-centring, from the saddle found
        sad = refine_saddle(energy, R0, direction=direction, fmax=kw["fmax_saddle"])
        if not sad.converged or sad.n_negative != 1:
            return []
        m1, m2 = verify_saddle(energy, sad, kw["push"], kw["fmax_min"])
        if is_inside(is_valid, sad.R, m1.R, m2.R):
            break
        new = rc(band.images, sad.R, m1.R, m2.R)
        if new is None:
            return []
        energy, is_valid = new
        kw["is_valid"] = is_valid
        R0, direction = sad.R, sad.mode
    else:
        rc.stats["invalid_branches"] += 1
        return []
    if same(m1, m2):
        return []
    # orient the step from the side closer to A
    if same(m2, A) or same(m1, B):
        m1, m2 = m2, m1
    if same(m1, A) and same(m2, B):
        images = np.array(band.images)
        images[ic] = sad.R
        images[0], images[-1] = m1.R, m2.R
        prof = path_profile(energy, images, kw["masses"], disp)
        return [ElementaryStep(m1, sad, m2, prof, images, True, {"neb_steps": band.steps}, is_valid)]
    # the saddle connects other minima: record it (profile from its two half-bands), fill the gaps
    step = step_from_saddle(
        energy,
        sad,
        m1,
        m2,
        kw["n_images"],
        kw["params"],
        kw["box"],
        kw["masses"],
        {"neb_steps": band.steps},
    )
    step.is_valid = is_valid
    steps = [step]
    if kw["_depth"] <= kw["max_depth"]:
        if not same(A, m1):
            steps = connect(energy, A.R, m1.R, **kw) + steps
        if not same(m2, B):
            steps = steps + connect(energy, m2.R, B.R, **kw)
    return steps
