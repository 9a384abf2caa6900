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
* ``fire`` - FIRE (Bitzek et al., PRL 97, 170201 (2006)) with a cap on the per-particle
  step. Hand-written rather than ``jax_md.minimize.fire_descent`` because that one adds
  1e-6 to |F|^2 in the velocity mixing (wrong once |F| < 1e-3) and has no step cap
  (diverges on KA at dt_max = 0.05, see /work/shared/MEASURED.md).
* ``auto`` - L-BFGS, falling back to FIRE then L-BFGS again if the line search stalls.

``minimize(energy, R0)`` works for any energy, including analytic 2D test surfaces
(one particle in 2D: R of shape (1, 2)). ``energy`` may take extra arguments
(``energy(R, *args)``) so that a pair list can change without recompiling.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from pelsim.errors import InputError

__all__ = ["MinResult", "minimize", "fire", "lbfgs", "max_force"]


@dataclass
class MinResult:
    """Result of a minimisation.

    R: final positions (N, d); energy: E(R) (eps_AA); max_force: max_i |F_i|;
    steps: iterations (L-BFGS) or MD steps (FIRE); n_eval: energy+gradient evaluations;
    converged: max_force <= fmax; method: the method(s) used; time_s: wall time incl. compile.
    """

    R: np.ndarray
    energy: float
    max_force: float
    steps: int
    converged: bool
    method: str
    n_eval: int = 0
    time_s: float = 0.0
    stopped_invalid: bool = False
    memory: tuple | None = None
    info: dict | None = None


def max_force(G):
    """max_i |G_i| over rows of an (N, d) array (JAX)."""
    return jnp.sqrt(jnp.max(jnp.sum(G.reshape(G.shape[0], -1) ** 2, axis=-1)))


def _always_valid(R, *args):
    return jnp.bool_(True)


_CACHE: dict = {}


def _cached(key, build):
    if key not in _CACHE:
        if len(_CACHE) > 64:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = build()
    return _CACHE[key]


# ----------------------------------------------------------------------------- L-BFGS
def _build_lbfgs(energy, valid, m, max_step, c1, c2, max_ls):
    vg = jax.value_and_grad(energy)

    def two_loop(g, S, Y, rho, k):
        # circular buffer, newest at (k-1) % m; empty slots have rho = 0 and contribute nothing.
        # Unrolled over the m pairs (static m) after one gather into newest-first order:
        # measured ~2x cheaper per iteration than two lax.scan loops on XLA CPU.
        order = (k - 1 - jnp.arange(m)) % m  # newest first
        So, Yo, ro = S[order], Y[order], rho[order]
        q = g
        alphas = []
        for t in range(m):
            a = ro[t] * jnp.vdot(So[t], q)
            q = q - a * Yo[t]
            alphas.append(a)
        sy = jnp.vdot(So[0], Yo[0])
        yy = jnp.vdot(Yo[0], Yo[0])
        gamma = jnp.where((k > 0) & (yy > 0) & (sy > 0), sy / jnp.where(yy > 0, yy, 1.0), 1.0)
        r = gamma * q
        for t in reversed(range(m)):
            b = ro[t] * jnp.vdot(Yo[t], r)
            r = r + So[t] * (alphas[t] - b)
        return -r

    def run(R0, fmax, max_steps, args, memory):
        x0 = R0
        E0, g0 = vg(x0, *args)
        S0, Y0, rho0, k0 = memory
        dtype = x0.dtype
        state = dict(
            x=x0,
            E=E0,
            g=g0,
            S=S0,
            Y=Y0,
            rho=rho0,
            k=k0,
            it=jnp.int32(0),
            nev=jnp.int32(1),
            fails=jnp.int32(0),
            ok=valid(x0, *args),
        )

        def cond(s):
            return (
                (max_force(s["g"]) > fmax)
                & (s["it"] < max_steps)
                & (s["fails"] < 3)
                & s["ok"]
                & jnp.isfinite(s["E"])
            )

        def body(s):
            g = s["g"].reshape(-1)
            d = two_loop(g, s["S"], s["Y"], s["rho"], s["k"])
            dphi0 = jnp.vdot(g, d)
            bad = ~(dphi0 < 0) | (s["fails"] > 0)
            d = jnp.where(bad, -g, d)
            dphi0 = jnp.where(bad, -jnp.vdot(g, g), dphi0)
            dmax = jnp.sqrt(jnp.max(jnp.sum(d.reshape(x0.shape[0], -1) ** 2, axis=-1)))
            a_init = jnp.minimum(1.0, max_step / dmax)
            a_init = jnp.where(
                bad & (s["k"] == 0),
                jnp.minimum(a_init, 0.01 / jnp.maximum(dmax, 1e-300)) * jnp.where(s["it"] == 0, 1.0, 1.0),
                a_init,
            )
            a_init = jnp.where(bad, jnp.minimum(1.0, max_step / dmax), a_init)
            E0 = s["E"]
            tolE = 1e-11 * jnp.abs(E0) + 1e-14
            dshape = d.reshape(x0.shape)

            ls0 = dict(
                a=a_init,
                lo=jnp.zeros((), dtype),
                dlo=dphi0,
                Elo=E0,
                hi=jnp.asarray(jnp.inf, dtype),
                done=jnp.bool_(False),
                j=jnp.int32(0),
                E=E0,
                gnew=s["g"],
                xnew=s["x"],
            )

            def ls_cond(ls):
                return (~ls["done"]) & (ls["j"] < max_ls)

            def ls_body(ls):
                a = ls["a"]
                xn = s["x"] + a * dshape
                En, gn = vg(xn, *args)
                dphi = jnp.vdot(gn.reshape(-1), d)
                armijo = En <= E0 + c1 * a * dphi0 + tolE
                curv = jnp.abs(dphi) <= -c2 * dphi0
                fin = jnp.isfinite(En)
                accept = armijo & curv & fin
                too_far = (~armijo) | (dphi > 0) | (~fin)
                lo = jnp.where(too_far, ls["lo"], a)
                dlo = jnp.where(too_far, ls["dlo"], dphi)
                Elo = jnp.where(too_far, ls["Elo"], En)
                hi = jnp.where(too_far, a, ls["hi"])
                # secant zero of the directional derivative between lo and the trial point
                denom = dphi - ls["dlo"]
                sec = ls["lo"] - ls["dlo"] * (a - ls["lo"]) / jnp.where(denom != 0, denom, 1.0)
                sec = jnp.where(fin & (denom > 0), sec, jnp.nan)
                bracketed = jnp.isfinite(hi)
                lo_b, hi_b = lo + 0.1 * (hi - lo), hi - 0.1 * (hi - lo)
                a_br = jnp.where(jnp.isnan(sec), 0.5 * (lo + hi), jnp.clip(sec, lo_b, hi_b))
                a_ext = jnp.where(jnp.isnan(sec), 4.0 * a, jnp.clip(sec, 1.5 * a, 4.0 * a))
                a_new = jnp.where(bracketed, a_br, a_ext)
                return dict(
                    a=jnp.where(accept, a, a_new),
                    lo=lo,
                    dlo=dlo,
                    Elo=Elo,
                    hi=hi,
                    done=accept,
                    j=ls["j"] + 1,
                    E=jnp.where(accept, En, ls["E"]),
                    gnew=jnp.where(accept, gn, ls["gnew"]),
                    xnew=jnp.where(accept, xn, ls["xnew"]),
                )

            ls = jax.lax.while_loop(ls_cond, ls_body, ls0)
            acc = ls["done"]
            sv = (ls["xnew"] - s["x"]).reshape(-1)
            yv = (ls["gnew"] - s["g"]).reshape(-1)
            sy = jnp.vdot(sv, yv)
            store = acc & (sy > 1e-300)
            slot = s["k"] % m
            S = jnp.where(store, s["S"].at[slot].set(sv), s["S"])
            Y = jnp.where(store, s["Y"].at[slot].set(yv), s["Y"])
            rho = jnp.where(store, s["rho"].at[slot].set(1.0 / jnp.where(sy > 0, sy, 1.0)), s["rho"])
            k = jnp.where(store, s["k"] + 1, s["k"])
            # a failed search resets the memory and retries along -g
            S = jnp.where(acc, S, jnp.zeros_like(S))
            Y = jnp.where(acc, Y, jnp.zeros_like(Y))
            rho = jnp.where(acc, rho, jnp.zeros_like(rho))
            k = jnp.where(acc, k, 0)
            return dict(
                x=ls["xnew"],
                E=ls["E"],
                g=ls["gnew"],
                S=S,
                Y=Y,
                rho=rho,
                k=k,
                it=s["it"] + 1,
                nev=s["nev"] + ls["j"],
                fails=jnp.where(acc, 0, s["fails"] + 1),
                ok=valid(ls["xnew"], *args),
            )

        s = jax.lax.while_loop(cond, body, state)
        return (
            s["x"],
            s["E"],
            max_force(s["g"]),
            s["it"],
            s["nev"],
            s["ok"],
            (s["S"], s["Y"], s["rho"], s["k"]),
        )

    return jax.jit(run, static_argnums=())


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
    valid = valid or _always_valid
    fn = _cached(
        ("lbfgs", energy, valid, m, max_step, c1, c2, max_ls),
        lambda: _build_lbfgs(energy, valid, m, max_step, c1, c2, max_ls),
    )
    R0 = jnp.asarray(R0, dtype=jnp.float64 if jnp.asarray(R0).dtype != jnp.float32 else jnp.float32)
    if memory is None or memory[0].shape != (m, R0.size):
        memory = (
            jnp.zeros((m, R0.size), R0.dtype),
            jnp.zeros((m, R0.size), R0.dtype),
            jnp.zeros(m, R0.dtype),
            jnp.int32(0),
        )
    x, E, f, it, nev, ok, memory = fn(R0, fmax, max_steps, tuple(args), memory)
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
def _build_fire(energy, valid, dt_start, dt_max, max_disp, n_min, f_inc, f_dec, alpha_start, f_alpha):
    vg = jax.value_and_grad(energy)

    def run(R0, fmax, max_steps, args):
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
            v = s["v"]
            P = jnp.vdot(F, v)
            vnorm = jnp.sqrt(jnp.vdot(v, v))
            fnorm = jnp.sqrt(jnp.vdot(F, F))
            v = (1 - s["alpha"]) * v + s["alpha"] * F * vnorm / jnp.where(fnorm > 0, fnorm, 1.0)
            up = P > 0
            npos = jnp.where(up, s["npos"] + 1, 0)
            grow = up & (npos > n_min)
            dt = jnp.where(
                grow, jnp.minimum(s["dt"] * f_inc, dt_max), jnp.where(up, s["dt"], s["dt"] * f_dec)
            )
            alpha = jnp.where(grow, s["alpha"] * f_alpha, jnp.where(up, s["alpha"], alpha_start))
            v = jnp.where(up, v, jnp.zeros_like(v))
            # semi-implicit Euler (unit masses), per-particle step capped at max_disp
            v = v + dt * F
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
    valid = valid or _always_valid
    key = ("fire", energy, valid, dt_start, dt_max, max_disp, n_min, f_inc, f_dec, alpha_start, f_alpha)
    fn = _cached(
        key,
        lambda: _build_fire(
            energy, valid, dt_start, dt_max, max_disp, n_min, f_inc, f_dec, alpha_start, f_alpha
        ),
    )
    R0 = jnp.asarray(R0, dtype=jnp.float64 if jnp.asarray(R0).dtype != jnp.float32 else jnp.float32)
    x, E, f, it, nev, ok = fn(R0, fmax, max_steps, tuple(args))
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
    skin: float = 1.0,
    max_rebuilds: int = 200,
    max_steps: int = 20000,
    pairs: str = "dense",
) -> MinResult:
    """Minimise a KA-type configuration to its inherent structure (instantaneous quench, T -> 0).

    Uses the pair-list energy of :func:`pelsim.potentials.pair_list_energy`: the minimiser runs
    until max_i|F_i| <= fmax or until a particle has moved skin/2 from where the list was
    built; the list is then rebuilt from the current positions and minimisation continues.
    ``pairs="dense"`` (default) uses :func:`pelsim.potentials.dense_pair_energy` (analytic forces,
    measured ~3x cheaper per evaluation); ``pairs="padded"`` the autodiff pair-list energy.
    """
    from pelsim.models import load_model
    from pelsim.potentials import dense_pair_energy, dense_pair_list, padded_pair_list, pair_list_energy

    if pairs not in ("dense", "padded"):
        raise InputError(f"unknown pairs {pairs!r} (expected 'dense' or 'padded')")

    model = load_model(model)
    skin = min(skin, 0.5 * float(np.min(box)) - model.rc_max - 1e-3)  # small boxes: shrink the skin
    if skin < 0.05:
        raise InputError("box too small for the cutoff: use more particles")
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
