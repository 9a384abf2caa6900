"""Climbing-image nudged elastic band (CI-NEB) for any JAX energy of positions.

Implements the improved-tangent NEB of Henkelman & Jonsson (J. Chem. Phys. 113,
9978 (2000)) with the climbing image of Henkelman, Uberuaga & Jonsson (ibid.
9901) and optional energy-weighted springs. The whole band is relaxed by a safeguarded global
L-BFGS (default) that hands over to FIRE when its quasi-Newton model fails, or by FIRE alone
(see :func:`_relax_band`). The images of a band are evaluated with ``jax.vmap``; many
independent bands (candidate IS pairs) of the same system are relaxed at once with a second
``vmap`` (:func:`neb_batch`), or served from a queue over batch slots and devices
(:func:`neb_many`: finished bands are replaced at once, so no band waits for the slowest).
It produces the path profiles V(s) from which :mod:`pelsim.tunneling` computes the DWP
parameters of seed Eqs. 3-4.

Conventions
- ``energy(R) -> scalar`` for positions R of shape (N, d) (reduced units).
- ``displacement(Ra, Rb) -> Rb - Ra`` (minimum image for periodic boxes);
  :func:`pelsim.geometry.periodic_displacement` builds it from a box (importable from here too).
- A band holds ``n_images`` movable images plus the two fixed endpoints:
  shape (n_images + 2, N, d).
- Forces are compared per particle: max_i |F_i| over the movable images.

The optimizer loops are written here (not taken from jax-md, scipy or :mod:`pelsim.minimize`)
because they must act on the NEB force of a whole band (not the gradient of an energy), be
vmappable over bands, and cap the step length (jax-md's FIRE has no cap and diverges on KA, see
MEASURED.md). Their L-BFGS direction and memory are pelsim's one L-BFGS (:mod:`pelsim.lbfgs`),
their FIRE update pelsim's one FIRE (:mod:`pelsim.fire`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from pelsim.errors import InputError
from pelsim.fire import fire_update
from pelsim.geometry import free_displacement, periodic_displacement  # noqa: F401 (the NEB's displacements)
from pelsim.lbfgs import lbfgs_direction, store_pair
from pelsim.system import as_pytree


def max_atom_force(F):
    """max_i |F_i| over the particles of F (..., N, d); a 1D vector counts as one particle."""
    F = jnp.asarray(F)
    if F.ndim == 1:
        return jnp.linalg.norm(F)
    return jnp.max(jnp.linalg.norm(F, axis=-1))


def interpolate(Ra, Rb, n_images: int, displacement=free_displacement):
    """Linear band from Ra to Rb: (n_images + 2, *Ra.shape), endpoints included."""
    if n_images < 1:
        raise InputError(f"NEB needs at least one movable image, got {n_images}")
    Ra = jnp.asarray(Ra, dtype=jnp.float64)
    d = displacement(Ra, jnp.asarray(Rb, dtype=jnp.float64))
    t = jnp.linspace(0.0, 1.0, n_images + 2).reshape((-1,) + (1,) * Ra.ndim)
    return Ra[None] + t * d[None]


@dataclass(frozen=True)
class NEBParams:
    """CI-NEB and optimizer settings (reduced units).

    k: spring constant (energy / length^2); with ``energy_weighted`` it is k_max
    and springs near the bottom of the band soften to ``k * k_min_ratio``.
    fmax: stop when the max per-particle NEB force over movable images < fmax.
    climb_after: climbing is switched on once the band force is below this (or
    from the start if 0).
    optimizer: "lbfgs" (default): safeguarded global L-BFGS on the band (``memory`` pairs, first
    step ``h0`` F, per-particle step cap ``lbfgs_max_step``, memory cleared when |F| grows by more
    than ``reset_growth`` in one step), handing over to FIRE after ``lbfgs_max_failures`` failed
    steps (see :func:`_relax_band`). Measured steps against FIRE: 246 vs 1139 on the KA 3D N=1000
    benchmark band (fmax 1e-3; L-BFGS caps 0.01 / 0.02 / 0.03 / 0.05 sigma: 281 / 246 / 270 / 316
    steps), 110 vs 534 on another pair of that run, 75 vs 621 on the three-well surface, 1148 vs
    1283 and 3116 vs 2900 (energy-weighted) on Mueller-Brown (fmax 1e-6, both after falling back
    to FIRE), 234 vs 603 on the Mueller-Brown band through the intermediate minimum (fmax 1e-2).
    "fire": FIRE only. dt, dt_max, max_step: FIRE time steps and per-particle step cap (length)
    (also used by the fallback). dt_max = 0.03 suits KA-BLJ (stiff repulsion, MEASURED.md: FIRE at
    0.05 diverges; 0.1 took 9x more steps than 0.03 on a KA 2D band).
    """

    k: float = 1.0
    climb: bool = True
    energy_weighted: bool = False
    k_min_ratio: float = 0.1
    fmax: float = 1e-5
    climb_after: float = 0.5
    max_steps: int = 20000
    dt: float = 0.01
    dt_max: float = 0.03
    max_step: float = 0.1
    n_min: int = 5
    f_inc: float = 1.1
    f_dec: float = 0.5
    alpha0: float = 0.1
    f_alpha: float = 0.99
    optimizer: str = "lbfgs"
    memory: int = 10
    h0: float = 0.01
    reset_growth: float = 2.0
    lbfgs_max_failures: int = 50
    lbfgs_max_step: float = 0.02


def neb_force(energy, band, params: NEBParams, climb_on, displacement=free_displacement, E_ends=None):
    """NEB forces of a band (P, ...) -> (F (P, ...), E (P,), i_climb).

    Improved tangent; spring force along the tangent only; perpendicular part of
    the true force; the highest interior image climbs when ``climb_on``.
    Endpoint forces are zero (endpoints are fixed). ``E_ends`` = (E_first, E_last):
    the (fixed) endpoint energies, so that only the P - 2 movable images are evaluated.
    """
    E, Fi = _image_forces(energy, band, E_ends)
    climbs = _climbing_mask(E, climb_on)
    return _project(band, E, Fi, climbs, params, displacement), E, jnp.argmax(E[1:-1]) + 1


def _image_forces(energy, band, E_ends=None):
    """Energies (P,) of the band and true forces (P - 2, ...) of its movable images."""
    if E_ends is None:
        E, G = jax.vmap(jax.value_and_grad(energy))(band)
        return E, -G[1:-1]
    Ei, Gi = jax.vmap(jax.value_and_grad(energy))(band[1:-1])
    return jnp.concatenate([E_ends[0][None], Ei, E_ends[1][None]]), -Gi


def _climbing_mask(E, climb_on):
    """(P - 2,) bool: the movable image that climbs (none, or the highest interior image).

    A saddle lies above both minima: an interior maximum below the higher endpoint means the
    barrier sits between that endpoint and its neighbour image, unresolved by the band. Climbing
    would then push the image up along the tangent, through the endpoint and up the far wall of
    its basin without bound (measured on a KA N=270 IS pair: E_ci - E_A = 116 eps after 5000
    steps). So the image climbs only while it is the highest point of the band.
    """
    Ei = E[1:-1]
    i_climb = jnp.argmax(Ei)
    above_ends = Ei[i_climb] > jnp.maximum(E[0], E[-1])
    return (jnp.arange(Ei.shape[0]) == i_climb) & climb_on & above_ends


def _project(band, E, Fi, climbs, params: NEBParams, displacement):
    """NEB force (P, ...) of a band from its energies E (P,) and true image forces Fi (P - 2, ...);
    the images where ``climbs`` (P - 2,) is True get the climbing-image force."""
    dplus = jax.vmap(displacement)(band[1:-1], band[2:])  # R_{i+1} - R_i
    dminus = jax.vmap(displacement)(band[:-2], band[1:-1])  # R_i - R_{i-1}
    Ei, Ep, Em = E[1:-1], E[2:], E[:-2]
    bshape = (-1,) + (1,) * (band.ndim - 1)
    up = (Ep > Ei) & (Ei > Em)
    down = (Ep < Ei) & (Ei < Em)
    dvmax = jnp.maximum(jnp.abs(Ep - Ei), jnp.abs(Em - Ei))
    dvmin = jnp.minimum(jnp.abs(Ep - Ei), jnp.abs(Em - Ei))
    wp = jnp.where(Ep > Em, dvmax, dvmin)
    wm = jnp.where(Ep > Em, dvmin, dvmax)
    mixed = dplus * wp.reshape(bshape) + dminus * wm.reshape(bshape)
    tau = jnp.where(up.reshape(bshape), dplus, jnp.where(down.reshape(bshape), dminus, mixed))
    axes = tuple(range(1, band.ndim))
    tnorm = jnp.sqrt(jnp.sum(tau * tau, axis=axes))
    tau = tau / jnp.maximum(tnorm, 1e-300).reshape(bshape)
    lp = jnp.sqrt(jnp.sum(dplus * dplus, axis=axes))
    lm = jnp.sqrt(jnp.sum(dminus * dminus, axis=axes))
    if params.energy_weighted:
        # Henkelman-Jonsson variable springs: k_max near the top of the band.
        eref = jnp.maximum(E[0], E[-1])
        emax = jnp.max(E)
        eseg = jnp.maximum(E[:-1], E[1:])  # P-1 segments
        kmin = params.k * params.k_min_ratio
        w = jnp.clip((eseg - eref) / jnp.maximum(emax - eref, 1e-300), 0.0, 1.0)
        kseg = jnp.where(eseg > eref, params.k - (params.k - kmin) * (1.0 - w), kmin)
        fspring = kseg[1:] * lp - kseg[:-1] * lm
    else:
        fspring = params.k * (lp - lm)
    fpar = jnp.sum(Fi * tau, axis=axes)
    f_neb = Fi - fpar.reshape(bshape) * tau + fspring.reshape(bshape) * tau
    f_ci = Fi - 2.0 * fpar.reshape(bshape) * tau
    f_neb = jnp.where(climbs.reshape(bshape), f_ci, f_neb)
    zero = jnp.zeros_like(Fi[:1])
    return jnp.concatenate([zero, f_neb, zero])


def _band_max_force(F):
    """max per-particle |F| over a band (P, N, d); rows of a (P, n) band count as particles."""
    return jnp.max(jnp.linalg.norm(F, axis=-1))


def _cap_step(dx, max_step):
    """Scale dx so that no particle of any image moves more than max_step."""
    step_len = jnp.max(jnp.linalg.norm(dx.reshape(dx.shape[0], -1, dx.shape[-1]), axis=-1))
    return dx * jnp.minimum(1.0, max_step / jnp.maximum(step_len, 1e-300))


def _relax_band(energy, band, params: NEBParams, displacement, is_valid=None):
    """Relax one band (L-BFGS with FIRE fallback, or FIRE only).

    Returns (band, E, i_climb, steps, fmax_reached, done).
    """
    s = _advance(energy, _init_state(energy, band, params, displacement), params, displacement, is_valid)
    return _summary(s, params)


def _summary(s, params: NEBParams):
    return s["x"], s["E"], jnp.argmax(s["E"][1:-1]) + 1, s["step"], s["fm"], _done(s, params)


def _done(s, params: NEBParams):
    return (s["fm"] < params.fmax) & (s["climb"] | (not params.climb))


def _inside(is_valid, band):
    """Every image of ``band`` passes ``is_valid`` (a JAX bool; True without a check)."""
    return jnp.bool_(True) if is_valid is None else jnp.all(jax.vmap(is_valid)(band))


def _field(energy, x, climb_on, E_ends):
    E, Fi = _image_forces(energy, x, E_ends)
    return E, Fi, _climbing_mask(E, climb_on)


def _init_state(energy, band, params: NEBParams, displacement):
    """The optimizer state of a band before its first step (see :func:`_advance`)."""
    climb_start = params.climb and params.climb_after <= 0.0
    # the endpoints are fixed: evaluate them once, then only the movable images each step
    E_ends = (energy(band[0]), energy(band[-1]))
    E0, Fi0, c0 = _field(energy, band, climb_start, E_ends)
    F0 = _project(band, E0, Fi0, c0, params, displacement)
    m = params.memory if params.optimizer == "lbfgs" else 1
    return dict(
        x=band,
        F=F0,
        E=E0,
        E_ends=jnp.stack(E_ends),
        climbs=c0,
        step=jnp.int32(0),
        stop_at=jnp.int32(params.max_steps),
        climb=jnp.bool_(climb_start),
        fm=_band_max_force(F0),
        # FIRE
        v=jnp.zeros_like(band),
        dt=jnp.float64(params.dt),
        alpha=jnp.float64(params.alpha0),
        npos=jnp.int32(0),
        # L-BFGS: circular memory, restart scale h, failed steps, still active
        S=jnp.zeros((m,) + band.shape, band.dtype),
        Y=jnp.zeros((m,) + band.shape, band.dtype),
        rho=jnp.zeros(m, band.dtype),
        G=jnp.zeros((m, m), band.dtype),  # G[t, u] = s_t . y_u (pelsim.lbfgs.store_pair)
        n_mem=jnp.int32(0),
        head=jnp.int32(0),
        h=jnp.float64(params.h0),
        fails=jnp.int32(0),
        lbfgs=jnp.bool_(params.optimizer == "lbfgs"),
        # the L-BFGS band with the lowest max force (FIRE restarts from it)
        best=dict(x=band, F=F0, E=E0, climbs=c0, fm=_band_max_force(F0), climb=jnp.bool_(climb_start)),
    )


def _advance(energy, state, params: NEBParams, displacement, is_valid=None):
    """Relax a band from ``state`` until it has converged, has taken ``state["stop_at"]`` steps
    (at most ``params.max_steps``) or, with ``is_valid``, an image has left the valid region.
    The state carries everything the optimizers need, so a relaxation cut into pieces
    (:func:`neb_many` runs bands in chunks of steps) follows the same trajectory as one piece.

    L-BFGS (``optimizer="lbfgs"``): global L-BFGS on the whole band without line search, after
    Sheppard, Terrell & Henkelman, J. Chem. Phys. 128, 134106 (2008) (fewer force calls than FIRE
    for NEB). The NEB force is not the gradient of an energy, so it is safeguarded:
    - a direction that is not downhill (d.F <= 0) restarts the memory with a steepest-descent
      step scaled by the last curvature s.y / y.y (Sheppard et al.'s restart);
    - every step is capped at ``lbfgs_max_step`` per particle (their max move);
    - the curvature pair y = F(x) - F(x + s) is taken in the force field of the previous step
      (same climbing image), so the climbing image may switch on or move to another image
      without corrupting or resetting the memory (the earlier version reset the memory on every
      switch: on the benchmark KA band the highest image alternated and the run never converged);
    - a pair with s.y <= 0 is not stored; a step that makes |F| (same field) grow by more than
      ``reset_growth`` clears the memory;
    - after ``lbfgs_max_failures`` such failed steps the quasi-Newton model is judged invalid
      for this band and the rest of the relaxation is done by FIRE, from the band with the lowest
      max force seen so far (measured on Mueller-Brown: soft springs along a path with large
      parallel forces make the NEB Jacobian strongly non-symmetric; L-BFGS alone wandered or
      diverged in some settings, and FIRE started from the last L-BFGS band diverged once).
    Everything stays inside one ``lax.while_loop`` (both proposals are computed every step; the
    force evaluation, the expensive part, is shared), so the loop jits and vmaps over bands.
    """
    use_lbfgs = params.optimizer == "lbfgs"
    m = params.memory if use_lbfgs else 1
    E_ends = (state["E_ends"][0], state["E_ends"][1])

    def field(x, climb_on):
        return _field(energy, x, climb_on, E_ends)

    def cond(s):
        go = (~_done(s, params)) & (s["step"] < jnp.minimum(s["stop_at"], params.max_steps))
        # a band that has left the region where the energy is exact (e.g. a fixed pair list's
        # radius) stops at once: its later steps would follow a wrong energy (measured on a KA
        # N=1000 pair: 1000 steps, 20 s, after the band had left the list; docs/landscape.md)
        return go & _inside(is_valid, s["x"])

    def fire_step(s):
        # the FIRE rule of pelsim.fire; the band keeps its velocity when the move is capped
        v, dt, alpha, npos = fire_update(
            s["F"],
            s["v"],
            s["dt"],
            s["alpha"],
            s["npos"],
            dt_max=params.dt_max,
            n_min=params.n_min,
            f_inc=params.f_inc,
            f_dec=params.f_dec,
            alpha_start=params.alpha0,
            f_alpha=params.f_alpha,
        )
        return _cap_step(dt * v, params.max_step), dict(v=v, dt=dt, alpha=alpha, npos=npos)

    def lbfgs_step(s):
        F = s["F"]
        # H F over the n_mem newest pairs; head is the slot the next pair goes to
        d = lbfgs_direction(F, s["S"], s["Y"], s["rho"], s["G"], (s["head"] - 1) % m, s["n_mem"])
        restart = (jnp.vdot(d, F) <= 0.0) | (s["n_mem"] == 0)
        d = jnp.where(restart, s["h"] * F, d)
        return _cap_step(d, params.lbfgs_max_step), jnp.where(restart, 0, s["n_mem"])

    def body(s):
        x, F, on = s["x"], s["F"], s["lbfgs"]
        dx_f, fire_new = fire_step(s)
        if use_lbfgs:
            dx_l, n_mem = lbfgs_step(s)
            dx = jnp.where(on, dx_l, dx_f)
        else:
            dx = dx_f
        x = x + dx
        climb = s["climb"] | (params.climb & (s["fm"] < params.climb_after))
        En, Fi, climbs = field(x, climb)
        Fn = _project(x, En, Fi, climbs, params, displacement)
        new = dict(
            x=x,
            F=Fn,
            E=En,
            E_ends=s["E_ends"],
            climbs=climbs,
            step=s["step"] + 1,
            stop_at=s["stop_at"],
            climb=climb,
            fm=_band_max_force(Fn),
        )
        if use_lbfgs:
            # FIRE stays at rest while L-BFGS is active
            rest = dict(
                v=jnp.zeros_like(x),
                dt=jnp.float64(params.dt),
                alpha=jnp.float64(params.alpha0),
                npos=jnp.int32(0),
            )
            new.update({k: jnp.where(on, rest[k], fire_new[k]) for k in fire_new})
            # curvature pair in the field of the previous step (same climbing image)
            Fs = _project(x, En, Fi, s["climbs"], params, displacement)
            y = F - Fs
            sy = jnp.vdot(dx, y)
            yy = jnp.vdot(y, y)
            keep = sy > 1e-12 * jnp.sqrt(jnp.vdot(dx, dx) * yy)
            grew = jnp.vdot(Fs, Fs) > params.reset_growth**2 * jnp.vdot(F, F)
            head = s["head"]
            S, Y, rho, G = store_pair(s["S"], s["Y"], s["rho"], s["G"], head, dx, y, sy, keep)
            new.update(
                S=S,
                Y=Y,
                rho=rho,
                G=G,
                n_mem=jnp.where(grew, 0, jnp.where(keep, jnp.minimum(n_mem + 1, m), n_mem)),
                head=jnp.where(keep, (head + 1) % m, head),
                h=jnp.where(keep, sy / jnp.maximum(yy, 1e-300), s["h"]),
            )
            fails = s["fails"] + (on & (grew | ~keep)).astype(jnp.int32)
            on_next = on & (fails < params.lbfgs_max_failures)
            better = on & (new["fm"] < s["best"]["fm"])
            new["best"] = {k: jnp.where(better, new[k], b) for k, b in s["best"].items()}
            # hand-over to FIRE: restart from the best band, not from where L-BFGS failed
            # (measured on a Mueller-Brown band: FIRE from the last L-BFGS band diverged)
            switch = on & ~on_next
            new.update({k: jnp.where(switch, b, new[k]) for k, b in new["best"].items()})
            new.update(fails=fails, lbfgs=on_next)
        else:
            new.update(fire_new)
            lbfgs_keys = ("S", "Y", "rho", "G", "n_mem", "head", "h", "fails", "lbfgs", "best")
            new.update({k: s[k] for k in lbfgs_keys})
        return new

    return jax.lax.while_loop(cond, body, state)


# The energy and the validity check are pytree arguments (pelsim.system): one compilation per
# energy kernel and shape bucket, whatever glass or pair list; params and displacement are static.
@partial(jax.jit, static_argnums=(2, 3))
def _relax_one(energy, band, params, displacement, is_valid=None):
    return _relax_band(energy, band, params, displacement, is_valid)


@partial(jax.jit, static_argnums=(2, 3))
def _relax_many(energy, bands, params, displacement, is_valid=None):
    return jax.vmap(lambda b: _relax_band(energy, b, params, displacement, is_valid))(bands)


@dataclass
class NEBResult:
    """A relaxed band. ``energies`` (P,), ``images`` (P, N, d); ``i_climb`` is the
    climbing (highest) image; ``max_force`` the max per-particle NEB force; ``valid`` is False
    when an ``is_valid`` check was given and some image of the final band fails it (e.g. a
    particle left the skin of a fixed pair list: the energies are then not to be trusted)."""

    images: np.ndarray
    energies: np.ndarray
    i_climb: int
    steps: int
    max_force: float
    converged: bool
    valid: bool = True

    @property
    def barrier(self) -> float:
        """E_max - E_first (reduced energy)."""
        return float(self.energies[self.i_climb] - self.energies[0])

    def interior_minima(self, tol: float = 1e-8) -> list[int]:
        """Interior images lower than both neighbours by more than ``tol``."""
        E = self.energies
        return [i for i in range(1, len(E) - 1) if E[i] < E[i - 1] - tol and E[i] < E[i + 1] - tol]


def _check_band(bands, params: NEBParams, name="band"):
    if not np.all(np.isfinite(np.asarray(bands))):
        raise InputError(f"NEB {name} contains NaN or inf coordinates")
    if params.optimizer not in ("fire", "lbfgs"):
        raise InputError(f"unknown NEB optimizer {params.optimizer!r} (expected 'fire' or 'lbfgs')")
    if params.memory < 1 or params.lbfgs_max_step <= 0 or params.max_step <= 0:
        raise InputError(
            f"NEB optimizer needs memory >= 1 and positive step caps, got memory={params.memory}, "
            f"lbfgs_max_step={params.lbfgs_max_step}, max_step={params.max_step}"
        )


@jax.jit
def _images_valid(is_valid, images):
    return jax.vmap(is_valid)(images)


def band_validity(is_valid, bands):
    """is_valid over every image of (..., P, N, d) bands -> bool array (...)."""
    if is_valid is None:
        return np.ones(bands.shape[:-3], bool)
    flat = jnp.asarray(bands).reshape((-1,) + bands.shape[-2:])
    ok = np.asarray(_images_valid(as_pytree(is_valid), flat)).reshape(bands.shape[:-2])
    return ok.all(axis=-1)


def neb(
    energy,
    Ra,
    Rb,
    n_images: int = 16,
    params: NEBParams | None = None,
    displacement=free_displacement,
    band=None,
    is_valid=None,
) -> NEBResult:
    """CI-NEB between fixed endpoints Ra and Rb (minimise them first: see connect.py).

    ``energy``: a pytree energy (:mod:`pelsim.system`; compiled once per kernel and shape) or a
    plain hashable function (compiled per function object); ``displacement`` a hashable callable
    (static). ``is_valid(R) -> bool`` (optional, e.g. from
    :func:`pelsim.potentials.fixed_pair_energy`; jittable) is checked on every image
    after every step: the relaxation stops as soon as an image fails it, and the final band's
    check is reported as ``NEBResult.valid``.
    """
    params = params or NEBParams()
    if band is None:
        if np.shape(Ra) != np.shape(Rb):
            raise InputError(f"NEB endpoints have different shapes {np.shape(Ra)} and {np.shape(Rb)}")
        band = interpolate(Ra, Rb, n_images, displacement)
    band = jnp.asarray(band, dtype=jnp.float64)
    _check_band(band, params)
    energy, is_valid = as_pytree(energy), as_pytree(is_valid)
    x, E, ic, steps, fm, ok = _relax_one(energy, band, params, displacement, is_valid)
    x = np.asarray(x)
    return NEBResult(
        x, np.asarray(E), int(ic), int(steps), float(fm), bool(ok), bool(band_validity(is_valid, x))
    )


def _pair_bands(Ras, Rbs, n_images, params: NEBParams, displacement):
    """The interpolated, checked bands (P, n_images + 2, N, d) of P endpoint pairs (P, N, d)."""
    Ras = jnp.asarray(Ras, dtype=jnp.float64)
    Rbs = jnp.asarray(Rbs, dtype=jnp.float64)
    if Ras.shape != Rbs.shape or Ras.ndim != 3:
        raise InputError(
            f"NEB batch endpoints must both be (P, N, d) of the same shape, got {Ras.shape} and {Rbs.shape}"
        )
    bands = jax.vmap(lambda a, b: interpolate(a, b, n_images, displacement))(Ras, Rbs)
    _check_band(bands, params, "bands")
    return bands


def neb_batch(
    energy,
    Ras,
    Rbs,
    n_images: int = 16,
    params: NEBParams | None = None,
    displacement=free_displacement,
    is_valid=None,
) -> list[NEBResult]:
    """CI-NEB on B independent pairs at once (``vmap`` over bands of the same system).

    Ras, Rbs: (B, N, d). Each band stops moving when it has converged; the batch
    runs until all have converged or ``max_steps`` (so on a CPU the batch costs B times the
    slowest band: batching pays where the per-step cost is dominated by overhead or the
    device is wide, e.g. a GPU). ``is_valid`` as in :func:`neb`. For many bands of unequal
    length use :func:`neb_many`, which refills the slot of a finished band.
    """
    params = params or NEBParams()
    bands = _pair_bands(Ras, Rbs, n_images, params, displacement)
    energy, is_valid = as_pytree(energy), as_pytree(is_valid)
    x, E, ic, steps, fm, ok = _relax_many(energy, bands, params, displacement, is_valid)
    x, E = np.asarray(x), np.asarray(E)
    valid = band_validity(is_valid, x)
    return [
        NEBResult(x[i], E[i], int(ic[i]), int(steps[i]), float(fm[i]), bool(ok[i]), bool(valid[i]))
        for i in range(x.shape[0])
    ]


@partial(jax.jit, static_argnums=(2, 3, 4))
def _init_many(energy, bands, params, displacement, per_slot=False):
    """Initial states of B bands; ``per_slot``: energy is a stack of B energies (one per band:
    several glasses in one batch), else one energy for all."""
    if per_slot:
        return jax.vmap(lambda e, b: _init_state(e, b, params, displacement))(energy, bands)
    return jax.vmap(lambda b: _init_state(energy, b, params, displacement))(bands)


@partial(jax.jit, static_argnums=(2, 3, 5))
def _advance_many(energy, states, params, displacement, is_valid=None, per_slot=False):
    """Advance B band states; returns (states, summaries, valid): every field the scheduler
    reads is computed here, so one chunk costs one dispatch and one small device->host copy.
    ``per_slot``: energy (and is_valid) are stacks of B, one per slot (bands of several glasses)."""
    first = lambda t: jax.tree_util.tree_map(lambda a: a[0], t)
    if not per_slot:
        adv = lambda e, v, st: _advance(energy, st, params, displacement, is_valid)
        inside = lambda v, x: _inside(is_valid, x)
    else:
        adv = lambda e, v, st: _advance(e, st, params, displacement, v)
        inside = lambda v, x: _inside(v, x)
    if states["step"].shape[0] == 1:
        # one slot: no vmap. A vmapped while_loop selects the whole state (L-BFGS memory
        # included, ~10 MB at N = 1000) after every step, and the batch axis of 1 reaches the energy
        e1, v1 = (first(energy), first(is_valid)) if per_slot else (energy, is_valid)
        s = jax.tree_util.tree_map(lambda a: a[None], adv(e1, v1, first(states)))
        ok = inside(v1, s["x"][0])[None]
    else:
        if per_slot:
            s = jax.vmap(adv)(energy, is_valid, states)
            ok = jax.vmap(inside)(is_valid, s["x"])
        else:
            s = jax.vmap(lambda st: adv(None, None, st))(states)
            ok = jax.vmap(lambda x: inside(None, x))(s["x"])
    return s, jax.vmap(lambda st: _summary(st, params))(s), ok


def _stack(trees):
    """Stack equal-structure pytrees (energies of glasses in one bucket) along a new axis 0."""
    if trees[0] is None:
        return None
    return jax.tree_util.tree_map(lambda *xs: jnp.stack([jnp.asarray(x) for x in xs]), *trees)


@jax.jit
def _merge(mask, new, old):
    """Slot-wise select of two stacked band states (mask: (B,) bool, True takes ``new``)."""
    return jax.tree_util.tree_map(
        lambda n, o: jnp.where(mask.reshape((-1,) + (1,) * (o.ndim - 1)), n, o), new, old
    )


@jax.jit
def _take(states, idx):
    return jax.tree_util.tree_map(lambda a: a[idx], states)


def _device_list(devices):
    avail = jax.devices()
    if devices is None:
        return avail[:1]
    if isinstance(devices, int):
        if not 1 <= devices <= len(avail):
            raise InputError(
                f"neb_many: {devices} devices asked for, {len(avail)} available ({avail}); on a CPU set "
                'jax.config.update("jax_num_cpu_devices", n) before JAX\'s first computation, or '
                "XLA_FLAGS=--xla_force_host_platform_device_count=n"
            )
        return avail[:devices]
    return list(devices)


def neb_many(
    energy,
    Ras,
    Rbs,
    n_images: int = 16,
    params: NEBParams | None = None,
    displacement=free_displacement,
    is_valid=None,
    batch: int = 1,
    chunk: int = 100,
    devices=None,
    progress: bool = False,
    stop_early=None,
) -> list[NEBResult]:
    """CI-NEB on many independent pairs of one system: a queue of bands served by
    ``batch`` slots on each of ``devices``, in chunks of ``chunk`` steps.

    ``stop_early(energies, step) -> bool`` (optional, host side): asked after every chunk with a
    running band's image energies; True retires the band as it is (unconverged), e.g. a
    screening band whose outcome is already settled (hunt.py: an image below both ends).

    Ras, Rbs: (P, N, d) endpoints of P pairs (any P). ``energy`` (and ``is_valid``) is one energy
    for all pairs (one glass's pair list), or a sequence of P energies of one shape bucket (pairs of
    several glasses of one N: :func:`pelsim.landscape.search.search_glasses`); then a batch of
    slots holds bands of different glasses, their systems stacked as data. Each device
    (``devices``: a count or a list of JAX devices, default the first one) relaxes ``batch``
    bands at once (``vmap`` of the band relaxation). After every chunk the bands that have
    converged, reached ``max_steps`` or left the valid region (``is_valid``, as in
    :func:`neb`) are retired and their slots are refilled from the queue; when the queue is
    empty the batch is compacted to the next power of two that holds the bands still running.
    Unlike :func:`neb_batch`, a batch therefore never waits for its slowest band, and a long
    band does not hold up the others.

    Each band follows the same trajectory as :func:`neb` on it (the optimizer state is carried
    whole across chunks; tested to round-off). Returns the results in input order.

    Devices are served by one host thread each (JAX releases the GIL while a computation runs).
    On a GPU ``batch`` is the throughput knob (the images of all slots are evaluated by one
    kernel). On a CPU one band already keeps the cores busy: measured on 2 cores (KA 3D N=1000,
    8 bands, benchmarks/bench_neb.py) 1.06x / 1.11x / 1.17x / 0.91x the sequential time for
    batch x devices 1x1 / 1x2 / 4x1 / 2x2 (CPU devices need
    ``jax.config.update("jax_num_cpu_devices", n)`` before JAX's first computation).
    """
    import queue
    import threading

    params = params or NEBParams()
    if batch < 1 or chunk < 1:
        raise InputError(f"neb_many needs batch >= 1 and chunk >= 1, got batch={batch}, chunk={chunk}")
    devs = _device_list(devices)
    if np.shape(Ras)[:1] == (0,):
        return []
    bands = np.asarray(_pair_bands(Ras, Rbs, n_images, params, displacement))
    P = bands.shape[0]
    per_slot = isinstance(energy, list | tuple)
    if per_slot:
        if len(energy) != P or (isinstance(is_valid, list | tuple) and len(is_valid) != P):
            raise InputError(
                f"neb_many: {P} pairs need {P} energies (and validity checks), got {len(energy)}"
            )
        energies = [as_pytree(e) for e in energy]
        valids = [as_pytree(v) for v in (is_valid if isinstance(is_valid, list | tuple) else [is_valid] * P)]
        if (
            len({jax.tree_util.tree_structure(e) for e in energies}) > 1
            or len({jax.tree_util.tree_structure(v) for v in valids}) > 1
        ):
            raise InputError("neb_many: the energies of one call must share one kernel and shape bucket")
    else:
        energy, is_valid = as_pytree(energy), as_pytree(is_valid)
    todo: queue.Queue = queue.Queue()
    for k in range(P):
        todo.put(k)
    results: list = [None] * P
    errors: list = []
    from tqdm.auto import tqdm

    bar = tqdm(total=P, disable=not progress, desc="NEB bands", unit="band")
    lock = threading.Lock()

    def take():
        try:
            return todo.get_nowait()
        except queue.Empty:
            return None

    def serve(dev):
        size = batch
        slots = [take() for _ in range(size)]
        if all(k is None for k in slots):
            return
        k_fill = next(k for k in slots if k is not None)
        put = lambda a: jax.device_put(a, dev)

        def slot_data(ks):  # (energy, is_valid) of the slots ks: one shared, or stacked per slot
            if not per_slot:
                return energy, is_valid
            ks = [k_fill if k is None else k for k in ks]
            return put(_stack([energies[k] for k in ks])), put(_stack([valids[k] for k in ks]))

        def init(ks):  # states of the bands ks (None: a filler band that will not step)
            e, _ = slot_data(ks)
            stacked = put(np.stack([bands[k_fill if k is None else k] for k in ks]))
            return _init_many(e, stacked, params, displacement, per_slot)

        states = init(slots)
        e_slots, v_slots = slot_data(slots)
        while True:
            # the queue is empty once a slot is: compact the batch to the smallest power of two
            # that holds the running bands (a vmapped loop steps every slot while one runs)
            active = [i for i, k in enumerate(slots) if k is not None]
            new_size = size
            while new_size > 1 and len(active) <= new_size // 2:
                new_size //= 2
            if new_size < size:  # one compile per power of two
                keep = active + [i for i, k in enumerate(slots) if k is None][: new_size - len(active)]
                states = _take(states, put(np.asarray(keep)))
                slots = [slots[i] for i in keep]
                size = new_size
                e_slots, v_slots = slot_data(slots)
            step = np.asarray(states["step"])
            # empty slots do not step (their while loop is over at once)
            stop = np.where([k is None for k in slots], step, np.minimum(step + chunk, params.max_steps))
            states = dict(states, stop_at=put(stop.astype(np.int32)))
            states, summ, valid = _advance_many(e_slots, states, params, displacement, v_slots, per_slot)
            x, E, ic, st, fm, ok = (np.asarray(a) for a in summ)
            valid = np.asarray(valid)
            fresh = []
            for i, k in enumerate(slots):
                if k is None:
                    continue
                if (
                    ok[i]
                    or st[i] >= params.max_steps
                    or not valid[i]
                    or (stop_early is not None and stop_early(E[i], int(st[i])))
                ):
                    results[k] = NEBResult(
                        x[i], E[i], int(ic[i]), int(st[i]), float(fm[i]), bool(ok[i]), bool(valid[i])
                    )
                    with lock:
                        bar.update(1)
                    slots[i] = take()
                    if slots[i] is not None:
                        fresh.append(i)
            if all(k is None for k in slots):
                return
            if fresh:
                new = init([slots[i] if i in fresh else None for i in range(size)])
                states = _merge(put(np.isin(np.arange(size), fresh)), new, states)
                e_slots, v_slots = slot_data(slots)

    def run(dev):
        try:
            serve(dev)
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
            errors.append(e)

    threads = [threading.Thread(target=run, args=(d,), daemon=True) for d in devs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    bar.close()
    if errors:
        raise errors[0]
    return results
