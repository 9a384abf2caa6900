"""Local minimisation of any JAX energy function of positions, to inherent structures.

Stopping rule: the largest per-particle force max_i |F_i| (eps_AA/sigma_AA, the force
on particle i being a row of -dE/dR with R of shape (N, d)) <= ``fmax``, default 1e-10 in
float64. Two methods, both one jitted ``lax.while_loop`` (no Python loop per step):

* ``lbfgs`` - limited-memory BFGS (two-loop recursion, Nocedal & Wright Alg. 7.4) with a
  line search on the *directional derivative* (strong Wolfe curvature, secant zoom).
  Armijo is only applied with a round-off allowance on E, so that the search keeps
  working when energy differences fall below float64 precision (~1e-12 |E|). That is
  why scipy's L-BFGS-B stalls at max|F| ~ 1e-6 on KA (docs/engine.md); LAMMPS CG
  reaches 1e-10 the same gradient-based way.
* ``fire`` - FIRE (Bitzek et al., PRL 97, 170201 (2006); the update rule of :mod:`pelsim.fire`)
  with a cap on the per-particle step. Hand-written rather than ``jax_md.minimize.fire_descent``
  because that one adds 1e-6 to |F|^2 in the velocity mixing (wrong once |F| < 1e-3) and has no
  step cap (diverges on KA at dt_max = 0.05, see /work/shared/MEASURED.md).
* ``auto`` - L-BFGS, falling back to FIRE then L-BFGS again if the line search stalls.

``minimize(energy, R0)`` works for any energy, including analytic 2D test surfaces
(one particle in 2D: R of shape (1, 2)). ``energy`` may take extra arguments
(``energy(R, *args)``) so that a pair list can change without recompiling.

``quench(model, box, species, R0)`` - the inherent structure of a KA-type glass - runs by default
:func:`pelsim.quench.device_quench`: the same L-BFGS iteration (:func:`lbfgs_steps`) with the
pair-list checks and rebuilds inside one jitted program, optionally after a float32 pre-stage.
"""

from __future__ import annotations

import time
from functools import cache

import jax
import jax.numpy as jnp
import numpy as np

from pelsim.cache import BoundedCache
from pelsim.errors import InputError
from pelsim.fire import fire_update
from pelsim.lbfgs import MinResult, empty_memory, lbfgs_active, lbfgs_steps, max_force
from pelsim.system import as_pytree

__all__ = [
    "MinResult",
    "minimize",
    "fire",
    "lbfgs",
    "max_force",
    "lbfgs_steps",
    "empty_memory",
    "lbfgs_active",
]


def _always_valid(R, *args):
    return jnp.bool_(True)


_CACHE = BoundedCache(64)


def _cached(key, build):
    if key not in _CACHE:
        _CACHE[key] = build()
    return _CACHE[key]


# ----------------------------------------------------------------------------- L-BFGS
@cache
def _lbfgs_program(m, max_step, c1, c2, max_ls):
    """The jitted L-BFGS loop for one set of hyperparameters. The energy and the validity check are
    pytree *arguments* (:mod:`pelsim.system`): one compilation per energy kernel and shape, shared
    by every glass and pair list of that bucket."""

    def run(energy, valid, R0, fmax, max_steps, args, memory):
        vg = jax.value_and_grad(lambda x, args: energy(x, *args))
        init, step = lbfgs_steps(vg, m, max_step, c1, c2, max_ls)
        s = init(R0, args, memory)
        s["ok"] = valid(R0, *args)

        def cond(s):
            return lbfgs_active(s, fmax, max_steps) & s["ok"]

        def body(s):
            s = step(s, args)
            s["ok"] = valid(s["x"], *args)
            return s

        s = jax.lax.while_loop(cond, body, s)
        return (
            s["x"],
            s["E"],
            max_force(s["g"]),
            s["it"],
            s["nev"],
            s["ok"],
            (s["S"], s["Y"], s["rho"], s["k"]),
        )

    return jax.jit(run)


def lbfgs(
    energy,
    R0,
    fmax=1e-10,
    max_steps=20000,
    args=(),
    valid=None,
    m=10,
    max_step=0.2,
    c1=1e-4,
    c2=0.9,
    max_ls=25,
    memory=None,
):
    """L-BFGS to max_i|F_i| <= fmax. Returns a :class:`MinResult`.

    ``memory`` (the ``result.memory`` of a previous call on the same energy surface, e.g. before
    a pair-list rebuild) continues the curvature pairs instead of restarting from steepest descent.
    """
    t0 = time.perf_counter()
    fn = _lbfgs_program(m, max_step, c1, c2, max_ls)
    energy, valid = as_pytree(energy), as_pytree(valid or _always_valid)
    R0 = jnp.asarray(R0, dtype=jnp.float64 if jnp.asarray(R0).dtype != jnp.float32 else jnp.float32)
    if memory is None or memory[0].shape != (m, *R0.shape):
        memory = empty_memory(m, R0)
    memory = tuple(jnp.asarray(a, R0.dtype) for a in memory[:3]) + (jnp.int32(memory[3]),)
    x, E, f, it, nev, ok, memory = fn(energy, valid, R0, fmax, max_steps, tuple(args), memory)
    f = float(f)
    res = MinResult(
        np.asarray(x),
        float(E),
        f,
        int(it),
        bool(f <= fmax),
        "lbfgs",
        int(nev),
        time.perf_counter() - t0,
        not bool(ok),
        memory,
    )
    return res


# ----------------------------------------------------------------------------- FIRE
@cache
def _fire_program(dt_start, dt_max, max_disp, n_min, f_inc, f_dec, alpha_start, f_alpha):
    """The jitted FIRE loop for one set of hyperparameters (energy and validity are pytree arguments,
    as in :func:`_lbfgs_program`)."""

    rule = dict(
        dt_max=dt_max, n_min=n_min, f_inc=f_inc, f_dec=f_dec, alpha_start=alpha_start, f_alpha=f_alpha
    )

    def run(energy, valid, R0, fmax, max_steps, args):
        vg = jax.value_and_grad(energy)
        E0, g0 = vg(R0, *args)
        dtype = R0.dtype
        s0 = dict(
            x=R0,
            v=jnp.zeros_like(R0),
            E=E0,
            g=g0,
            dt=jnp.asarray(dt_start, dtype),
            alpha=jnp.asarray(alpha_start, dtype),
            npos=jnp.int32(0),
            it=jnp.int32(0),
            ok=valid(R0, *args),
        )

        def cond(s):
            return (max_force(s["g"]) > fmax) & (s["it"] < max_steps) & s["ok"] & jnp.isfinite(s["E"])

        def body(s):
            F = -s["g"]
            v, dt, alpha, npos = fire_update(F, s["v"], s["dt"], s["alpha"], s["npos"], **rule)
            # semi-implicit Euler (unit masses), per-particle step capped at max_disp; unlike the
            # NEB band (pelsim.landscape.neb), the velocity is scaled down with a capped move
            dx = dt * v
            dnorm = jnp.sqrt(jnp.max(jnp.sum(dx.reshape(dx.shape[0], -1) ** 2, axis=-1)))
            scale = jnp.minimum(1.0, max_disp / jnp.where(dnorm > 0, dnorm, 1.0))
            x = s["x"] + dx * scale
            E, g = vg(x, *args)
            return dict(
                x=x, v=v * scale, E=E, g=g, dt=dt, alpha=alpha, npos=npos, it=s["it"] + 1, ok=valid(x, *args)
            )

        s = jax.lax.while_loop(cond, body, s0)
        return s["x"], s["E"], max_force(s["g"]), s["it"], s["it"] + 1, s["ok"]

    return jax.jit(run)


def fire(
    energy,
    R0,
    fmax=1e-10,
    max_steps=100000,
    args=(),
    valid=None,
    dt_start=0.005,
    dt_max=0.025,
    max_disp=0.1,
    n_min=5,
    f_inc=1.1,
    f_dec=0.5,
    alpha_start=0.1,
    f_alpha=0.99,
):
    """FIRE to max_i|F_i| <= fmax (dt in LJ time units, max_disp in sigma_AA)."""
    t0 = time.perf_counter()
    fn = _fire_program(dt_start, dt_max, max_disp, n_min, f_inc, f_dec, alpha_start, f_alpha)
    energy, valid = as_pytree(energy), as_pytree(valid or _always_valid)
    R0 = jnp.asarray(R0, dtype=jnp.float64 if jnp.asarray(R0).dtype != jnp.float32 else jnp.float32)
    x, E, f, it, nev, ok = fn(energy, valid, R0, fmax, max_steps, tuple(args))
    f = float(f)
    res = MinResult(
        np.asarray(x),
        float(E),
        f,
        int(it),
        bool(f <= fmax),
        "fire",
        int(nev),
        time.perf_counter() - t0,
        not bool(ok),
    )
    return res


def minimize(
    energy,
    R0,
    method: str = "auto",
    fmax: float = 1e-10,
    max_steps: int | None = None,
    args=(),
    valid=None,
    memory=None,
    **options,
) -> MinResult:
    """Minimise ``energy(R, *args)`` from R0 (N, d) to max_i |F_i| <= fmax.

    method: "lbfgs", "fire" or "auto" (L-BFGS; on a stalled line search FIRE to 1e3 fmax then
    L-BFGS again). ``valid(R, *args)`` (optional JAX bool) stops the loop early when it turns
    False, e.g. a fixed pair list whose skin is exhausted (``result.stopped_invalid``).
    ``memory``: L-BFGS curvature pairs from a previous result on the same surface.
    """
    R0 = np.asarray(R0)
    if R0.ndim != 2:
        raise InputError(f"positions must have shape (N, d), got {R0.shape}")
    if not np.all(np.isfinite(R0)):
        raise InputError("positions contain NaN or inf")
    if fmax <= 0:
        raise InputError("fmax must be positive")
    if method == "lbfgs":
        return lbfgs(energy, R0, fmax, max_steps or 20000, args, valid, memory=memory, **options)
    if method == "fire":
        return fire(energy, R0, fmax, max_steps or 200000, args, valid, **options)
    if method != "auto":
        raise InputError(f"unknown minimisation method {method!r} (expected fire, lbfgs or auto)")
    max_steps = max_steps or 20000
    t0 = time.perf_counter()
    res = lbfgs(energy, R0, fmax, max_steps, args, valid, memory=memory)
    used, steps, nev = ["lbfgs"], res.steps, res.n_eval
    for _ in range(3):
        if res.converged or res.stopped_invalid or steps >= max_steps:
            break
        res = fire(energy, res.R, max(fmax * 1e3, 1e-8), max_steps, args, valid)
        used.append("fire")
        steps, nev = steps + res.steps, nev + res.n_eval
        if res.stopped_invalid:
            break
        res = lbfgs(energy, res.R, fmax, max_steps, args, valid)
        used.append("lbfgs")
        steps, nev = steps + res.steps, nev + res.n_eval
    res.steps, res.n_eval, res.method = steps, nev, "+".join(used)
    res.time_s = time.perf_counter() - t0
    return res


def quench(
    model,
    box,
    species,
    R0,
    kind: str = "smooth",
    fmax: float = 1e-10,
    method: str = "auto",
    skin: float | None = None,
    max_rebuilds: int = 200,
    max_steps: int = 20000,
    pairs: str = "device",
    f32_fmax: float | None = None,
) -> MinResult:
    """Minimise a KA-type configuration to its inherent structure (instantaneous quench, T -> 0).

    ``pairs="device"`` (default): :func:`pelsim.quench.device_quench`, the whole L-BFGS quench with
    its pair-list checks and rebuilds in one jitted program (skin default 0.3; above
    ``DEVICE_MAX_N`` particles the host path below, as the device rebuild is O(N^2)); ``f32_fmax`` adds a
    float32 pre-stage down to that max|F| (faster; may end in a different, nearby minimum than pure
    float64). With method "auto", a stalled line search falls back to FIRE (host-side lists) to
    1e3 fmax and then L-BFGS again; method "fire" uses FIRE only.

    ``pairs="dense"`` / ``"padded"``: the host-side loop of the earlier code, kept as a reference:
    pair lists built on the host (:func:`pelsim.potentials.dense_pair_list` / ``padded_pair_list``,
    default skin 0.3), the minimiser running until max_i|F_i| <= fmax or until a particle has moved
    skin/2, then a rebuild from the current positions.
    """
    from pelsim.models import load_model

    if pairs not in ("device", "dense", "padded"):
        raise InputError(f"unknown pairs {pairs!r} (expected 'device', 'dense' or 'padded')")
    if method not in ("auto", "lbfgs", "fire"):
        raise InputError(f"unknown minimisation method {method!r} (expected fire, lbfgs or auto)")
    if fmax <= 0:
        raise InputError("fmax must be positive")
    model = load_model(model)
    skin = 0.3 if skin is None else float(skin)
    skin = min(skin, 0.5 * float(np.min(box)) - model.rc_max - 1e-3)  # small boxes: shrink the skin
    if skin < 0.05:
        raise InputError("box too small for the cutoff: use more particles")
    from pelsim.quench import DEVICE_MAX_N, device_quench

    if pairs == "device" and len(species) > DEVICE_MAX_N:
        pairs = "dense"  # O(N^2) on-device rebuilds: host KD-tree lists for very large systems
    if pairs != "device" or method == "fire":
        return _quench_host(model, box, species, R0, kind, fmax, method, skin, max_rebuilds, max_steps, pairs)
    t0 = time.perf_counter()
    res = device_quench(model, box, species, R0, kind, fmax, skin, max_steps, f32_fmax)
    used, steps, nev, info = ["lbfgs"], res.steps, res.n_eval, dict(res.info)
    for _ in range(3 if method == "auto" else 0):
        if res.converged or steps >= max_steps:
            break
        # stalled line search: FIRE on host-side lists, then the device L-BFGS again
        res = _quench_host(
            model,
            box,
            species,
            res.R,
            kind,
            max(fmax * 1e3, 1e-8),
            "fire",
            skin,
            max_rebuilds,
            max_steps,
            "dense",
        )
        used.append("fire")
        steps, nev = steps + res.steps, nev + res.n_eval
        res = device_quench(model, box, species, res.R, kind, fmax, skin, max(max_steps - steps, 1))
        used.append("lbfgs")
        steps, nev = steps + res.steps, nev + res.n_eval
        info["rebuilds"] += res.info["rebuilds"]
    res.steps, res.n_eval, res.method, res.info = steps, nev, "+".join(used), info
    res.time_s = time.perf_counter() - t0
    return res


def _quench_host(model, box, species, R0, kind, fmax, method, skin, max_rebuilds, max_steps, pairs):
    """Quench with pair lists rebuilt on the host between jitted minimiser calls (see :func:`quench`)."""
    from pelsim.potentials import dense_pair_energy, dense_pair_list, padded_pair_list, pair_list_energy

    if pairs == "device":
        pairs = "dense"
    energy, valid = _cached(
        (
            "pairE",
            model.name,
            model.eps.tobytes(),
            model.sigma.tobytes(),
            model.rc_factor,
            tuple(np.asarray(box, float).ravel()),
            np.asarray(species).tobytes(),
            kind,
            skin,
            pairs,
        ),
        lambda: (dense_pair_energy if pairs == "dense" else pair_list_energy)(
            model, box, species, kind, skin
        ),
    )
    t0 = time.perf_counter()
    R = np.asarray(R0, float)
    steps = nev = 0
    methods = []
    memory = None
    columns = 0
    for _ in range(max_rebuilds):
        if pairs == "dense":
            plist = dense_pair_list(model, box, species, R, skin, min_columns=columns)
            columns = plist[0].shape[1]  # never shrink: no recompiles
        else:
            plist = padded_pair_list(model, box, species, R, skin)
        # the surface is the same after a rebuild: L-BFGS keeps its curvature memory
        res = minimize(energy, R, method, fmax, max_steps, args=(plist,), valid=valid, memory=memory)
        memory = res.memory
        steps, nev = steps + res.steps, nev + res.n_eval
        methods.append(res.method)
        R = res.R
        if not res.stopped_invalid:
            break
    res.steps, res.n_eval, res.time_s = steps, nev, time.perf_counter() - t0
    res.method = methods[-1] if len(set(methods)) == 1 else "+".join(dict.fromkeys(methods))
    res.info = {"rebuilds": len(methods) - 1}
    return res
