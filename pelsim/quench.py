"""Inherent-structure quench of a multi-species LJ glass as ONE jitted program.

The L-BFGS iterations of :func:`pelsim.minimize.lbfgs_steps`, the pair-list validity check and
the pair-list rebuilds all run on device inside one ``lax.while_loop`` (an outer loop of list
rebuilds around an inner loop of evaluations): no host round trip per rebuild. Stopping rule
as in :mod:`pelsim.minimize`: max_i |F_i| <= fmax (default 1e-10, float64).

Hand-written pieces, each chosen by measurement at N=1000 (benchmarks/bench_minimize.py, 2-core CPU):

* Pair list: a dense (N, M) matrix of neighbor indices within r_c,ab + skin (both directions),
  with the per-slot parameters (1/sigma_ab^2, 8 eps_ab/sigma_ab^2, 2 eps_ab) gathered ONCE per
  rebuild. The force kernel then gathers only positions: ~1.8x cheaper per evaluation than
  :func:`pelsim.potentials.dense_neighbor_forces`, which gathers species and tables every call.
  Padded slots point at another particle with 1/sigma^2 = 1e6, so they are far outside the
  cutoff and need no mask.
* Rebuild: brute force over all N candidates in blocks of rows (O(N^2) work, bounded memory),
  stable compaction by a prefix count (bit words + popcount) and a scatter: ~4 ms per rebuild
  at N=1000 on XLA CPU. When the two largest displacements since the last build sum to the
  skin or more, the list is rebuilt at the *trial* point before it is evaluated, so every
  evaluation uses a complete list (17% fewer rebuilds than the usual max displacement > skin/2
  test, over 6 KA N=1000 quenches).
* Capacity: M is sized on the host from the largest neighbor count at R0 (x 1.1, multiple of
  8). A rebuild that finds a longer row sets a sticky overflow flag; the program then stops
  before any evaluation with that list, and the host reruns from the last accepted point with
  a larger M (never continuing with a wrong list).
* Optional float32 pre-stage (``f32_fmax``): the rough descent in float32 (cheaper kernel),
  then float64 from there to fmax, keeping the L-BFGS memory.
"""

from __future__ import annotations

import dataclasses
import time

import jax
import jax.numpy as jnp
import numpy as np

from pelsim.errors import InputError
from pelsim.geometry import minimum_image
from pelsim.lbfgs import MinResult, empty_memory, lbfgs_active, lbfgs_steps, max_force
from pelsim.neighbors import two_largest_sum

__all__ = ["device_quench", "list_capacity", "DEVICE_MAX_N"]

# Rebuilds are brute force, O(N^2) per rebuild: above this size pelsim.minimize.quench uses the
# host-side KD-tree lists instead.
DEVICE_MAX_N = 20000

_PAD_ISG = 1e6  # 1/sigma^2 of padded slots: s = 1e6 r^2 is far outside any cutoff


@dataclasses.dataclass(frozen=True)
class _Spec:
    """Static description of one compiled quench program (hashable: the jit cache key)."""

    n: int
    box: tuple
    ns: int
    eps: tuple  # eps_ab, flattened (ns * ns)
    isg: tuple  # 1/sigma_ab^2
    rl2: tuple  # (r_c,ab + skin)^2
    coeffs: tuple  # (c0, c2, c4) of the reduced pair potential
    sc2: float  # (r_c/sigma)^2
    skin: float
    M: int  # row capacity of the pair list
    block: int  # rows per block in a rebuild
    dtype: str
    m: int
    max_step: float

    @property
    def dt(self):
        return jnp.dtype(self.dtype)


def _prefix_count(ok):
    """Exclusive prefix count of a boolean (B, C) array along axis 1.

    Through 32-bit words and popcounts (all elementwise): measured 0.8 ms for (1000, 1000) on XLA
    CPU against 11 ms for ``jnp.cumsum`` (an associative scan) and 44 ms for log-step shifted adds.
    """
    B, C = ok.shape
    W = -(-C // 32)
    sh = jnp.arange(32, dtype=jnp.uint32)
    okw = jnp.pad(ok, ((0, 0), (0, W * 32 - C))).reshape(B, W, 32).astype(jnp.uint32)
    bits = jnp.sum(okw << sh, axis=-1, dtype=jnp.uint32)
    pc = jax.lax.population_count(bits).astype(jnp.int32)
    before = jnp.cumsum(pc, axis=1) - pc  # W ~ N/32 words: cheap
    below = jax.lax.population_count(bits[..., None] & ((jnp.uint32(1) << sh) - jnp.uint32(1)))
    return (before[..., None] + below.astype(jnp.int32)).reshape(B, W * 32)[:, :C]


def _rows_mask(spec, R, sp, ii):
    """(B, N) mask of the neighbors within r_c,ab + skin of the rows ii (self excluded)."""
    box = spec.box  # python floats: weak types keep float32 arrays float32
    d2 = 0.0
    for k in range(R.shape[1]):
        x = R[ii, k][:, None] - R[None, :, k]
        x = minimum_image(x, box[k], 1.0 / box[k])
        d2 = d2 + x * x
    t = sp[ii][:, None] * spec.ns + sp[None, :]
    rl2 = jnp.asarray(spec.rl2, R.dtype)[t]
    return (d2 < rl2) & (jnp.arange(spec.n)[None, :] != ii[:, None])


def _blocks(spec, fn):
    """Apply fn to row blocks [i0, i0 + B) (clamped at N - 1) and concatenate the first N rows."""
    B = spec.block
    starts = jnp.arange(0, spec.n, B)
    out = jax.lax.map(lambda i0: fn(jnp.minimum(i0 + jnp.arange(B), spec.n - 1)), starts)
    return out


def _max_count(spec, R, sp):
    """Largest number of neighbors within r_c,ab + skin of any particle (jittable)."""
    counts = _blocks(spec, lambda ii: jnp.max(jnp.sum(_rows_mask(spec, R, sp, ii), axis=1)))
    return jnp.max(counts)


def _build(spec, R, sp):
    """Pair list at R: (jj, isg, e8, e2) each (N, M), and the largest row length found."""
    n, M = spec.n, spec.M
    cand = jnp.arange(n, dtype=jnp.int32)

    def rows(ii):
        ok = _rows_mask(spec, R, sp, ii)
        pos = _prefix_count(ok)
        pos = jnp.where(ok & (pos < M), pos, M)
        out = jnp.full((ii.size, M + 1), n, jnp.int32)
        out = out.at[jnp.arange(ii.size)[:, None], pos].set(jnp.broadcast_to(cand, ok.shape))
        return out[:, :M], jnp.max(jnp.sum(ok, axis=1))

    idx, cmax = _blocks(spec, rows)
    idx = idx.reshape(-1, M)[:n]
    valid = idx < n
    jj = jnp.where(valid, idx, ((cand + 1) % n)[:, None])
    t = sp[:, None] * spec.ns + sp[jj]
    dt = R.dtype
    eps = jnp.asarray(spec.eps, dt)[t]
    isg = jnp.asarray(spec.isg, dt)[t]
    lst = (
        jj,
        jnp.where(valid, isg, _PAD_ISG).astype(dt),
        jnp.where(valid, 8.0 * eps * isg, 0.0).astype(dt),
        jnp.where(valid, 2.0 * eps, 0.0).astype(dt),
    )
    return lst, jnp.max(cmax)


def _energy_grad(spec, R, lst):
    """(E, dE/dR) on the pair list: analytic, one coordinate at a time, row sums (no scatter)."""
    jj, isg, e8, e2 = lst
    c0, c2, c4 = spec.coeffs
    box = spec.box  # python floats: weak types keep float32 arrays float32
    dR = []
    for k in range(R.shape[1]):
        x = R[:, k][:, None] - R[:, k][jj]
        dR.append(minimum_image(x, box[k], 1.0 / box[k]))
    s = sum(x * x for x in dR) * isg
    inside = s < spec.sc2
    inv = 1.0 / s
    inv3 = inv * inv * inv
    dus = (6.0 * inv3 * inv3 - 3.0 * inv3) * inv  # -du/ds of u = s^-6 - s^-3 + c0 + c2 s + c4 s^2
    u = inv3 * inv3 - inv3 + c0
    if c2 or c4:
        dus = dus - c2 - 2.0 * c4 * s
        u = u + c2 * s + c4 * s * s
    w = jnp.where(inside, e8 * dus, 0.0)
    E = jnp.sum(jnp.where(inside, e2 * u, 0.0))
    return E, -jnp.stack([jnp.sum(w * x, axis=1) for x in dR], axis=1)


_PROGRAMS: dict = {}


def _program(spec: _Spec):
    if spec in _PROGRAMS:
        return _PROGRAMS[spec]
    e_tol = 1e-11 if spec.dtype == "float64" else 1e-5
    init, step = lbfgs_steps(lambda x, lst: _energy_grad(spec, x, lst), spec.m, spec.max_step, e_tol=e_tol)

    def valid(x, ref):
        # The list holds every pair within r_c,ab + skin at ref; a pair's distance changes by at
        # most d_i + d_j (its two displacements), so the list is complete while the two largest
        # displacements sum below the skin (the usual 2 max_i d_i < skin test is stricter).
        # Positions are never wrapped inside the program: plain differences.
        return two_largest_sum(jnp.sum((x - ref) ** 2, axis=-1)) < spec.skin

    def run(x0, sp, memory, fmax, max_steps, max_builds):
        lst, cmax = _build(spec, x0, sp)
        s = init(x0, lst, memory)
        c = dict(s=s, lst=lst, ref=x0, over=cmax > spec.M, cmax=cmax, nb=jnp.int32(1))

        def inner_cond(c):
            return lbfgs_active(c["s"], fmax, max_steps) & valid(c["s"]["xt"], c["ref"]) & ~c["over"]

        def inner_body(c):
            return dict(c, s=step(c["s"], c["lst"]))

        def rebuild(c):
            xt = c["s"]["xt"]
            lst, cm = _build(spec, xt, sp)
            return dict(
                c,
                lst=lst,
                ref=xt,
                over=c["over"] | (cm > spec.M),
                cmax=jnp.maximum(c["cmax"], cm),
                nb=c["nb"] + 1,
            )

        def outer_cond(c):
            return lbfgs_active(c["s"], fmax, max_steps) & ~c["over"] & (c["nb"] < max_builds)

        def outer_body(c):
            c = jax.lax.cond(valid(c["s"]["xt"], c["ref"]), lambda c: c, rebuild, c)
            return jax.lax.while_loop(inner_cond, inner_body, c)

        c = jax.lax.while_loop(outer_cond, outer_body, c)
        s = c["s"]
        return dict(
            x=s["x"],
            E=s["E"],
            fmax=max_force(s["g"]),
            it=s["it"],
            nev=s["nev"],
            fails=s["fails"],
            memory=(s["S"], s["Y"], s["rho"], s["k"]),
            over=c["over"],
            cmax=c["cmax"],
            nb=c["nb"],
        )

    _PROGRAMS[spec] = jax.jit(run)
    if len(_PROGRAMS) > 32:
        _PROGRAMS.pop(next(iter(_PROGRAMS)))
    return _PROGRAMS[spec]


_COUNT_FNS: dict = {}


def _round_capacity(count, factor=1.1):
    return int(8 * np.ceil(max(count, 1) * factor / 8))


def _base_spec(model, box, species, kind, skin, m, max_step, block):
    from pelsim.potentials import check_system, pair_coefficients

    model, box, species = check_system(model, box, species, kind)
    if skin <= 0 or model.rc_max + skin >= 0.5 * box.min():
        raise InputError(
            f"pair-list skin {skin} must be positive, and cutoff + skin below half the box side "
            f"{box.min():.3f}"
        )
    ns = model.n_species
    sig = np.asarray(model.sigma, float)
    return _Spec(
        n=int(species.size),
        box=tuple(float(b) for b in box),
        ns=ns,
        eps=tuple(np.asarray(model.eps, float).ravel()),
        isg=tuple((1.0 / sig**2).ravel()),
        rl2=tuple(((model.rc + skin) ** 2).ravel()),
        coeffs=pair_coefficients(kind, model.rc_factor),
        sc2=float(model.rc_factor**2),
        skin=float(skin),
        M=0,
        block=int(max(1, min(species.size, block, 4_000_000 // species.size))),  # <= 4M pairs per block
        dtype="float64",
        m=int(m),
        max_step=float(max_step),
    ), species


def list_capacity(spec: _Spec, R, species) -> int:
    """Largest neighbor count within r_c,ab + skin at R (computed on device)."""
    key = dataclasses.replace(spec, M=0, dtype="float64")
    if key not in _COUNT_FNS:
        _COUNT_FNS[key] = jax.jit(lambda R, sp: _max_count(key, R, sp))
    return int(_COUNT_FNS[key](jnp.asarray(R, jnp.float64), jnp.asarray(species, jnp.int32)))


_CAPACITY: dict = {}  # largest M used per system: shapes (and compiled programs) never shrink


def device_quench(
    model,
    box,
    species,
    R0,
    kind: str = "smooth",
    fmax: float = 1e-10,
    skin: float = 0.3,
    max_steps: int = 20000,
    f32_fmax: float | None = None,
    m: int = 10,
    max_step: float = 0.2,
    memory=None,
    block: int = 2048,
    max_builds: int = 100000,
) -> MinResult:
    """L-BFGS quench of positions R0 (N, d) to max_i |F_i| <= fmax, entirely on device.

    ``f32_fmax``: run first in float32 down to max|F| <= f32_fmax (or until float32 stalls),
    then in float64 to fmax. Returns a :class:`pelsim.minimize.MinResult` (``info``: rebuilds,
    list capacity, overflows, float32 iterations). Does not fall back to FIRE itself: a stalled
    line search returns ``converged=False`` (see :func:`pelsim.minimize.quench`).
    """
    t0 = time.perf_counter()
    base, species = _base_spec(model, box, species, kind, skin, m, max_step, block)
    R0 = np.asarray(R0, float)
    if R0.shape != (base.n, len(base.box)):
        raise InputError(f"positions must have shape ({base.n}, {len(base.box)}), got {R0.shape}")
    if not np.all(np.isfinite(R0)):
        raise InputError("positions contain NaN or inf")
    key = dataclasses.replace(base, M=0)
    M = max(_CAPACITY.get(key, 0), _round_capacity(list_capacity(base, R0, species)))
    sp = jnp.asarray(species, jnp.int32)
    stages = [("float64", fmax)]
    if f32_fmax is not None and f32_fmax > fmax:
        stages.insert(0, ("float32", f32_fmax))
    x = jnp.asarray(R0)
    steps = nev = builds = overflows = steps32 = 0
    out = None
    for dtype, fm in stages:
        dt = jnp.dtype(dtype)
        x = x.astype(dt)
        mem = empty_memory(m, x) if memory is None else tuple(a.astype(dt) for a in memory[:3]) + (memory[3],)
        while True:
            _CAPACITY[key] = M
            prog = _program(dataclasses.replace(base, M=M, dtype=dtype))
            out = prog(x, sp, mem, fm, max(max_steps - steps, 0), max_builds)
            x, mem = out["x"], out["memory"]
            steps, nev, builds = steps + int(out["it"]), nev + int(out["nev"]), builds + int(out["nb"])
            if dtype == "float32":
                steps32 += int(out["it"])
            if not bool(out["over"]):
                break
            # a row outgrew the capacity: nothing was evaluated with that list; rerun from the
            # last accepted point with room for the longest row found
            overflows += 1
            M = _round_capacity(int(out["cmax"]))
        memory = mem
    f = float(out["fmax"])
    return MinResult(
        np.asarray(x, float),
        float(out["E"]),
        f,
        steps,
        bool(f <= fmax),
        "lbfgs",
        nev,
        time.perf_counter() - t0,
        False,
        memory,
        {
            "rebuilds": builds - len(stages) - overflows,
            "capacity": M,
            "overflows": overflows,
            "f32_steps": steps32,
        },
    )
