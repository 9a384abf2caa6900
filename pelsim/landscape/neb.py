"""Climbing-image nudged elastic band (CI-NEB) for any JAX energy of positions.

Implements the improved-tangent NEB of Henkelman & Jonsson (J. Chem. Phys. 113,
9978 (2000)) with the climbing image of Henkelman, Uberuaga & Jonsson (ibid.
9901) and optional energy-weighted springs, minimised with FIRE on the whole
band. The images of a band are evaluated with ``jax.vmap``; many independent
bands (candidate IS pairs) of the same system are relaxed at once with a second
``vmap`` (:func:`neb_batch`). It produces the path profiles V(s) from which
:mod:`pelsim.tunneling` computes the DWP parameters of seed Eqs. 3-4.

Conventions
- ``energy(R) -> scalar`` for positions R of shape (N, d) (reduced units).
- ``displacement(Ra, Rb) -> Rb - Ra`` (minimum image for periodic boxes);
  :func:`periodic_displacement` builds it from a box.
- A band holds ``n_images`` movable images plus the two fixed endpoints:
  shape (n_images + 2, N, d).
- Forces are compared per particle: max_i |F_i| over the movable images.

FIRE is written here (not taken from jax-md or :mod:`pelsim.minimize`) because
it must act on the NEB force of a whole band (not the gradient of an energy), be
vmappable over bands, and cap the step length (jax-md's FIRE has no cap and
diverges on KA, see MEASURED.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache, partial

import jax
import jax.numpy as jnp
import numpy as np

from pelsim.errors import InputError


def free_displacement(Ra, Rb):
    """Rb - Ra without periodic boundaries."""
    return Rb - Ra


def periodic_displacement(box):
    """Minimum-image Rb - Ra in an orthorhombic box of lengths ``box`` (d,).

    Cached by box so that repeated NEBs in the same box reuse the compiled code.
    """
    return _periodic_displacement(tuple(float(b) for b in np.ravel(box)))


@lru_cache(maxsize=64)
def _periodic_displacement(box_t):
    box = jnp.asarray(box_t, dtype=jnp.float64)

    def disp(Ra, Rb):
        d = Rb - Ra
        return d - box * jnp.round(d / box)

    return disp


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
    """CI-NEB and FIRE settings (reduced units).

    k: spring constant (energy / length^2); with ``energy_weighted`` it is k_max
    and springs near the bottom of the band soften to ``k * k_min_ratio``.
    fmax: stop when the max per-particle NEB force over movable images < fmax.
    climb_after: climbing is switched on once the band force is below this (or
    from the start if 0). dt, dt_max, max_step: FIRE time steps and per-particle
    step cap (length). dt_max = 0.03 suits KA-BLJ (stiff repulsion, MEASURED.md: FIRE
    at 0.05 diverges; 0.1 took 9x more steps than 0.03 on a KA 2D band).
    optimizer: "fire" (default) or "lbfgs" (global L-BFGS on the band, ``memory`` pairs,
    first step ``h0`` F, memory reset when |F| grows by more than ``reset_growth``): 4.7x
    fewer steps than FIRE on a KA 3D N=1000 band and 10x on the three-well surface, but it
    does not converge on Mueller-Brown (stiff surface, soft springs), hence opt-in.
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
    optimizer: str = "fire"
    memory: int = 10
    h0: float = 0.01
    reset_growth: float = 2.0


def neb_force(energy, band, params: NEBParams, climb_on, displacement=free_displacement, E_ends=None):
    """NEB forces of a band (P, ...) -> (F (P, ...), E (P,), i_climb).

    Improved tangent; spring force along the tangent only; perpendicular part of
    the true force; the highest interior image climbs when ``climb_on``.
    Endpoint forces are zero (endpoints are fixed). ``E_ends`` = (E_first, E_last):
    the (fixed) endpoint energies, so that only the P - 2 movable images are evaluated.
    """
    if E_ends is None:
        E, G = jax.vmap(jax.value_and_grad(energy))(band)
        Ei, Fi = E[1:-1], -G[1:-1]
    else:
        Ei, Gi = jax.vmap(jax.value_and_grad(energy))(band[1:-1])
        Fi = -Gi
        E = jnp.concatenate([E_ends[0][None], Ei, E_ends[1][None]])
    P = band.shape[0]
    dplus = jax.vmap(displacement)(band[1:-1], band[2:])  # R_{i+1} - R_i
    dminus = jax.vmap(displacement)(band[:-2], band[1:-1])  # R_i - R_{i-1}
    Ep, Em = E[2:], E[:-2]
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
    i_climb = jnp.argmax(Ei)
    # A saddle lies above both minima: an interior maximum below the higher endpoint means the
    # barrier sits between that endpoint and its neighbour image, unresolved by the band. Climbing
    # would then push the image up along the tangent, through the endpoint and up the far wall of
    # its basin without bound (measured on a KA N=270 IS pair: E_ci - E_A = 116 eps after 5000
    # steps). So the image climbs only while it is the highest point of the band.
    above_ends = Ei[i_climb] > jnp.maximum(E[0], E[-1])
    is_climb = (jnp.arange(P - 2) == i_climb) & climb_on & above_ends
    f_ci = Fi - 2.0 * fpar.reshape(bshape) * tau
    f_neb = jnp.where(is_climb.reshape(bshape), f_ci, f_neb)
    zero = jnp.zeros_like(Fi[:1])
    return jnp.concatenate([zero, f_neb, zero]), E, i_climb + 1


def _band_max_force(F):
    """max per-particle |F| over a band (P, N, d); rows of a (P, n) band count as particles."""
    return jnp.max(jnp.linalg.norm(F, axis=-1))


def _cap_step(dx, max_step):
    """Scale dx so that no particle of any image moves more than max_step."""
    step_len = jnp.max(jnp.linalg.norm(dx.reshape(dx.shape[0], -1, dx.shape[-1]), axis=-1))
    return dx * jnp.minimum(1.0, max_step / jnp.maximum(step_len, 1e-300))


def _lbfgs_direction(F, S, Y, rho, n_mem, head):
    """H F by the L-BFGS two-loop recursion over the circular memory (S, Y, rho) (m, *F.shape).

    ``head`` is the slot the next pair goes to (newest = head - 1); only the ``n_mem`` newest
    slots are used. Initial inverse Hessian (s.y)/(y.y) of the newest pair.
    """
    m = S.shape[0]

    def back(i, c):  # newest -> oldest
        q, a = c
        j = (head - 1 - i) % m
        ai = jnp.where(i < n_mem, rho[j] * jnp.vdot(S[j], q), 0.0)
        return q - ai * Y[j], a.at[j].set(ai)

    q, a = jax.lax.fori_loop(0, m, back, (F, jnp.zeros(m, F.dtype)))
    jn = (head - 1) % m
    gamma = jnp.vdot(S[jn], Y[jn]) / jnp.maximum(jnp.vdot(Y[jn], Y[jn]), 1e-300)
    r = gamma * q

    def fwd(i, r):  # oldest -> newest
        j = (head - n_mem + i) % m
        b = rho[j] * jnp.vdot(Y[j], r)
        return jnp.where(i < n_mem, r + (a[j] - b) * S[j], r)

    return jax.lax.fori_loop(0, m, fwd, r)


def _relax_band(energy, band, params: NEBParams, displacement):
    """Relax one band (FIRE or L-BFGS); returns (band, E, i_climb, steps, fmax_reached, done)."""
    climb_start = params.climb and params.climb_after <= 0.0
    # the endpoints are fixed: evaluate them once, then only the movable images each step
    E_ends = (energy(band[0]), energy(band[-1]))

    def forces(x, climb_on):
        return neb_force(energy, x, params, climb_on, displacement, E_ends)

    F0, E0, ic0 = forces(band, climb_start)
    state0 = dict(
        x=band, F=F0, E=E0, ic=ic0, step=jnp.int32(0), climb=jnp.bool_(climb_start), fm=_band_max_force(F0)
    )
    if params.optimizer == "fire":
        state0.update(
            v=jnp.zeros_like(band),
            dt=jnp.float64(params.dt),
            alpha=jnp.float64(params.alpha0),
            npos=jnp.int32(0),
        )
    elif params.optimizer == "lbfgs":
        m = params.memory
        state0.update(
            S=jnp.zeros((m,) + band.shape, band.dtype),
            Y=jnp.zeros((m,) + band.shape, band.dtype),
            rho=jnp.zeros(m, band.dtype),
            n_mem=jnp.int32(0),
            head=jnp.int32(0),
        )
    else:
        raise InputError(f"unknown NEB optimizer {params.optimizer!r} (expected 'fire' or 'lbfgs')")

    def done(s):
        return (s["fm"] < params.fmax) & (s["climb"] | (not params.climb))

    def cond(s):
        return (~done(s)) & (s["step"] < params.max_steps)

    def fire_body(s):
        x, v, F = s["x"], s["v"], s["F"]
        power = jnp.vdot(F, v)
        fn = jnp.sqrt(jnp.vdot(F, F))
        vn = jnp.sqrt(jnp.vdot(v, v))
        v = (1.0 - s["alpha"]) * v + s["alpha"] * vn * F / jnp.maximum(fn, 1e-300)
        pos = power > 0.0
        npos = jnp.where(pos, s["npos"] + 1, 0)
        grow = pos & (npos > params.n_min)
        dt = jnp.where(
            grow,
            jnp.minimum(s["dt"] * params.f_inc, params.dt_max),
            jnp.where(pos, s["dt"], s["dt"] * params.f_dec),
        )
        alpha = jnp.where(grow, s["alpha"] * params.f_alpha, jnp.where(pos, s["alpha"], params.alpha0))
        v = jnp.where(pos, v, jnp.zeros_like(v))
        v = v + dt * F
        x = x + _cap_step(dt * v, params.max_step)
        climb = s["climb"] | (params.climb & (s["fm"] < params.climb_after))
        Fn, En, ic = forces(x, climb)
        return dict(
            x=x,
            v=v,
            F=Fn,
            E=En,
            ic=ic,
            dt=dt,
            alpha=alpha,
            npos=npos,
            step=s["step"] + 1,
            climb=climb,
            fm=_band_max_force(Fn),
        )

    def lbfgs_body(s):
        # Global L-BFGS on the band without line search (Sheppard, Terrell & Henkelman,
        # J. Chem. Phys. 128, 134106 (2008): fewer force calls than FIRE for NEB). The NEB force
        # is not a gradient, so: uphill directions (d.F <= 0) restart from h0 F, pairs with
        # s.y <= 0 are not stored, and the memory is cleared when the climbing image switches on.
        x, F = s["x"], s["F"]
        d = _lbfgs_direction(F, s["S"], s["Y"], s["rho"], s["n_mem"], s["head"])
        uphill = (jnp.vdot(d, F) <= 0.0) | (s["n_mem"] == 0)
        d = jnp.where(uphill, params.h0 * F, d)
        n_mem = jnp.where(uphill, 0, s["n_mem"])
        dx = _cap_step(d, params.max_step)
        x = x + dx
        climb = s["climb"] | (params.climb & (s["fm"] < params.climb_after))
        Fn, En, ic = forces(x, climb)
        y = F - Fn  # = grad_new - grad_old
        sy = jnp.vdot(dx, y)
        # the force field jumps when the climbing image switches on or moves to another image
        same_field = (climb == s["climb"]) & ((ic == s["ic"]) | ~climb)
        # trust safeguard (no line search): a step that makes |F| grow by more than
        # reset_growth restarts the memory (measured: without it the band wanders off on
        # Mueller-Brown, where springs (k = 1) and the surface (curvatures ~1e3) differ a lot)
        same_field = same_field & (jnp.vdot(Fn, Fn) <= params.reset_growth**2 * jnp.vdot(F, F))
        keep = (sy > 1e-12 * jnp.sqrt(jnp.vdot(dx, dx) * jnp.vdot(y, y))) & same_field
        head = s["head"]
        S = jnp.where(keep, s["S"].at[head].set(dx), s["S"])
        Y = jnp.where(keep, s["Y"].at[head].set(y), s["Y"])
        rho = jnp.where(keep, s["rho"].at[head].set(1.0 / jnp.where(keep, sy, 1.0)), s["rho"])
        m = params.memory
        n_mem = jnp.where(~same_field, 0, jnp.where(keep, jnp.minimum(n_mem + 1, m), n_mem))
        head = jnp.where(keep, (head + 1) % m, head)
        return dict(
            x=x,
            F=Fn,
            E=En,
            ic=ic,
            step=s["step"] + 1,
            climb=climb,
            fm=_band_max_force(Fn),
            S=S,
            Y=Y,
            rho=rho,
            n_mem=n_mem,
            head=head,
        )

    body = fire_body if params.optimizer == "fire" else lbfgs_body
    s = jax.lax.while_loop(cond, body, state0)
    return s["x"], s["E"], s["ic"], s["step"], s["fm"], done(s)


@partial(jax.jit, static_argnums=(0, 2, 3))
def _relax_one(energy, band, params, displacement):
    return _relax_band(energy, band, params, displacement)


@partial(jax.jit, static_argnums=(0, 2, 3))
def _relax_many(energy, bands, params, displacement):
    return jax.vmap(lambda b: _relax_band(energy, b, params, displacement))(bands)


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


_VALID_CACHE: dict = {}


def _band_validity(is_valid, bands):
    """is_valid over every image of (..., P, N, d) bands -> bool array (...)."""
    if is_valid is None:
        return np.ones(bands.shape[:-3], bool)
    flat = bands.reshape((-1,) + bands.shape[-2:])
    fn = _VALID_CACHE.get(is_valid)
    if fn is None:
        fn = _VALID_CACHE[is_valid] = jax.jit(jax.vmap(is_valid))
    ok = np.asarray(fn(flat)).reshape(bands.shape[:-2])
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

    ``energy`` and ``displacement`` must be hashable callables (they are static
    arguments of the jitted relaxation, so reuse the same objects to hit the
    compilation cache). ``is_valid(R) -> bool`` (optional, e.g. from
    :func:`pelsim.potentials.fixed_pair_energy`) is checked on every image of the final
    band and reported as ``NEBResult.valid``.
    """
    params = params or NEBParams()
    if band is None:
        if np.shape(Ra) != np.shape(Rb):
            raise InputError(f"NEB endpoints have different shapes {np.shape(Ra)} and {np.shape(Rb)}")
        band = interpolate(Ra, Rb, n_images, displacement)
    band = jnp.asarray(band, dtype=jnp.float64)
    _check_band(band, params)
    x, E, ic, steps, fm, ok = _relax_one(energy, band, params, displacement)
    x = np.asarray(x)
    return NEBResult(
        x, np.asarray(E), int(ic), int(steps), float(fm), bool(ok), bool(_band_validity(is_valid, x))
    )


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
    device is wide, e.g. a GPU). ``is_valid`` as in :func:`neb`.
    """
    params = params or NEBParams()
    Ras = jnp.asarray(Ras, dtype=jnp.float64)
    Rbs = jnp.asarray(Rbs, dtype=jnp.float64)
    if Ras.shape != Rbs.shape:
        raise InputError(f"NEB batch endpoints have different shapes {Ras.shape} and {Rbs.shape}")
    bands = jax.vmap(lambda a, b: interpolate(a, b, n_images, displacement))(Ras, Rbs)
    _check_band(bands, params, "bands")
    x, E, ic, steps, fm, ok = _relax_many(energy, bands, params, displacement)
    x, E = np.asarray(x), np.asarray(E)
    valid = _band_validity(is_valid, x)
    return [
        NEBResult(x[i], E[i], int(ic[i]), int(steps[i]), float(fm[i]), bool(ok[i]), bool(valid[i]))
        for i in range(x.shape[0])
    ]
