"""Pair energies of continuously polydisperse soft spheres (``polydisperse-ss``), per-pair sigma_ij.

The model (:class:`pelsim.models.PolydisperseModel`, Ninarello, Berthier & Coslovich, PRX 7,
021039 (2017)): v(r) = eps x^-12 + c0 + c2 x^2 + c4 x^4 for x = r/sigma_ij < x_c = 1.25, with
sigma_ij = (sigma_i + sigma_j)/2 (1 - 0.2 |sigma_i - sigma_j|). Written in s = x^2 (no square
roots): u(s) = s^-6 + c0 + c2 s + c4 s^2, -du/ds = 6 s^-7 - c2 - 2 c4 s, d2u/ds2 = 42 s^-8 + 2 c4.

The kernels plug into the landscape system of :mod:`pelsim.system` exactly like the KA ones
(a static, hashable kernel + a system dict of arrays, wrapped as :class:`PairEnergy`), so the
minimisers, NEB, dimer, Hessians and Hessian-vector products work unchanged:

* :class:`PolydisperseAllPairsKernel` (all pairs, exact for any displacement; :func:`energy_fn`);
* :class:`PolydisperseRowsKernel` (a fixed pair list as a dense (N, M) neighbour matrix, with the
  pair factors 1/sigma_ij^2 precomputed per slot: landscape work keeps the diameters fixed;
  :func:`fixed_pair_energy`).

The diameters are a per-particle array of the system dict (``diameters``); the species are all
0. For MD and swap Monte Carlo, where the diameters change, :func:`dense_energy_forces` takes
the diameters as an argument (:mod:`pelsim.swap`). Units: eps, mean diameter, float64 by default.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from pelsim.errors import InputError
from pelsim.models import PolydisperseModel, load_model, soft_sphere_coefficients
from pelsim.system import (
    AllPairsKernel,
    MovedLessThan,
    PairEnergy,
    RowsKernel,
    _min_image_components,
    _over_blocks,
    bucket_columns,
    row_blocks,
)

__all__ = [
    "PolydisperseAllPairsKernel",
    "PolydisperseRowsKernel",
    "check_system",
    "require_smooth",
    "energy_fn",
    "fixed_pair_energy",
    "pair_list",
    "pair_inv_sigma2",
    "dense_energy_forces",
]


def check_system(model, box, diameters):
    """(model, box (d,), diameters (N,)) checked: a polydisperse model, positive diameters, box
    longer than twice the largest cutoff."""
    model = load_model(model)
    if not isinstance(model, PolydisperseModel):
        raise InputError(f"model {model.name} has no per-particle diameters (use pelsim.potentials)")
    box = np.asarray(box, dtype=float).reshape(-1)
    if box.size == 1:
        box = np.full(model.dim, float(box[0]))
    if box.size != model.dim:
        raise InputError(f"box has {box.size} sides but model {model.name} is {model.dim}D")
    if diameters is None:
        raise InputError(f"model {model.name} needs per-particle diameters")
    diameters = np.asarray(diameters, dtype=float).reshape(-1)
    if not np.all(np.isfinite(diameters)) or np.any(diameters <= 0):
        raise InputError("diameters must be positive and finite")
    rc = model.rc_factor * float(diameters.max()) if diameters.size else 0.0
    if rc >= 0.5 * box.min():
        raise InputError(
            f"box side {box.min():.3f} is shorter than twice the largest cutoff {rc:.3f}: use more particles"
        )
    return model, box, diameters


def require_smooth(model, kind: str) -> None:
    """Refuse a potential variant other than "smooth" for a polydisperse model: its v, v' and v''
    vanish at 1.25 sigma_ij by construction, so there is no shifted variant."""
    if kind != "smooth":
        raise InputError(
            f"model {load_model(model).name} is smooth by construction (v, v', v'' vanish at "
            f"1.25 sigma_ij): use potential 'smooth', not {kind!r}"
        )


def pair_inv_sigma2(model, di, dj):
    """1/sigma_ij^2 of the non-additive pair diameter (arrays that broadcast; numpy or JAX)."""
    sig = 0.5 * (di + dj) * (1.0 - model.non_additivity * abs(di - dj))
    return 1.0 / (sig * sig)


def _ss_energy_forces(dR, s, a, inside, coeffs):
    """(E, F) from row-wise pair data: dR (d arrays (rows, cols)), s = r^2/sigma_ij^2, a = 1/sigma_ij^2.

    Every pair is in two rows, so E = 1/2 sum u(s) and F_i = sum_j 2 a (-du/ds) (R_i - R_j).
    """
    c0, c2, c4 = coeffs
    s = jnp.where(inside, s, 1.0)
    inv = 1.0 / s
    inv3 = inv * inv * inv
    inv6 = inv3 * inv3
    u = inv6 + c0 + (c2 + c4 * s) * s
    mdu = 6.0 * inv6 * inv - c2 - 2.0 * c4 * s
    E = 0.5 * jnp.sum(jnp.where(inside, u, 0.0))
    w = jnp.where(inside, 2.0 * a * mdu, 0.0)
    return E, jnp.stack([jnp.sum(w * x, axis=1) for x in dR], axis=1)


def _ss_pair_blocks(r, a, inside, sc2, coeffs):
    """Pair blocks K = 2 a u'(s) I + 4 a^2 u''(s) r r^T (the Hessian of v(|r|) in r)."""
    _, c2, c4 = coeffs
    s = jnp.sum(r * r, axis=-1) * a
    inside = inside & (s < sc2)
    s = jnp.where(inside, s, 1.0)
    inv = 1.0 / s
    inv6 = inv**6
    du = -6.0 * inv6 * inv + c2 + 2.0 * c4 * s
    d2u = 42.0 * inv6 * inv * inv + 2.0 * c4
    g1 = jnp.where(inside, 2.0 * a * du, 0.0)
    g2 = jnp.where(inside, 4.0 * a * a * d2u, 0.0)
    eye = jnp.eye(r.shape[-1], dtype=r.dtype)
    return g1[..., None, None] * eye + g2[..., None, None] * r[..., :, None] * r[..., None, :]


class _PolyKey:
    """Static identity of a polydisperse kernel: the model's parameters and the shapes."""

    def _setup(self, model, n):
        self.model = model
        self.kind = "smooth"
        self.n = int(n)
        self.dim = int(model.dim)
        self.coeffs = soft_sphere_coefficients(model.rc_factor)
        self.sc2 = float(model.rc_factor) ** 2

    def _poly_key(self):
        m = self.model
        return (
            type(self).__name__,
            m.name,
            self.dim,
            float(m.rc_factor),
            float(m.non_additivity),
            float(m.sigma_min),
            float(m.sigma_max),
            self.n,
        )


class PolydisperseAllPairsKernel(_PolyKey, AllPairsKernel):
    """All pairs i<j of polydisperse soft spheres (rows in blocks, as :class:`AllPairsKernel`).
    System: diameters, box (and species, all 0)."""

    def __init__(self, model, n, block_entries: int = 1 << 17):
        self._setup(model, n)
        self.rows_per_block = min(self.n, max(8, block_entries // self.n))

    def _key(self):
        return self._poly_key() + (self.rows_per_block,)

    def system(self, diameters, box) -> dict:
        d = np.asarray(diameters, float)
        return {
            "species": jnp.zeros(d.size, jnp.int32),
            "diameters": jnp.asarray(d),
            "box": jnp.asarray(box, jnp.float64),
        }

    def __call__(self, R, system):
        n = self.n
        rows, real = row_blocks(n, self.rows_per_block)
        diam, box = system["diameters"].astype(R.dtype), system["box"]

        def rows_ef(R, r, keep):
            d = range(R.shape[1])
            dR = _min_image_components([R[r, k][:, None] for k in d], [R[:, k][None, :] for k in d], box)
            a = pair_inv_sigma2(self.model, diam[r][:, None], diam[None, :])
            s = sum(x * x for x in dR) * a
            inside = (s < self.sc2) & (r[:, None] != jnp.arange(n)[None, :]) & keep[:, None]
            return _ss_energy_forces(dR, s, a, inside, self.coeffs)

        return _over_blocks(rows_ef, R, (jnp.asarray(rows), jnp.asarray(real)), n)

    def _pairs(self, system):
        i, j = np.triu_indices(self.n, k=1)
        diam = system["diameters"]
        a = pair_inv_sigma2(self.model, diam[i], diam[j])
        return jnp.asarray(i, jnp.int32), jnp.asarray(j, jnp.int32), None, a

    def blocks(self, R, system):
        i, j, _, a = self._pairs(system)
        box = system["box"]
        R = jnp.asarray(R, jnp.float64).reshape(self.n, self.dim)
        r = R[i] - R[j]
        r = r - box * jnp.round(r / box)
        return _ss_pair_blocks(r, a, jnp.bool_(True), self.sc2, self.coeffs)


class PolydisperseRowsKernel(_PolyKey, RowsKernel):
    """A fixed pair list of polydisperse soft spheres as a dense (N, M) neighbour matrix.

    System: diameters, box, the neighbour rows ``jj``/``mask`` and per slot ``a`` = 1/sigma_ij^2
    (fixed diameters: computed once when the list is built), also in row blocks (``rows``,
    ``jb``, ``ab``, ``mb``) for the energy. :meth:`apply` and :meth:`dense` are RowsKernel's.
    """

    def __init__(self, model, n, columns, block_slots: int = 1 << 16, max_single: int = 1 << 19):
        self._setup(model, n)
        self.columns = int(columns)
        nm = self.n * self.columns
        self.rows_per_block = self.n if nm <= max_single else min(self.n, max(8, block_slots // self.columns))

    def _key(self):
        return self._poly_key() + (self.columns, self.rows_per_block)

    def system(self, diameters, box, idx: np.ndarray) -> dict:
        """System arrays for the neighbour matrix idx (N, M <= columns), fill value N."""
        n = self.n
        idx = np.asarray(idx)
        if idx.shape[1] < self.columns:
            idx = np.concatenate([idx, np.full((n, self.columns - idx.shape[1]), n, idx.dtype)], axis=1)
        d = np.asarray(diameters, float)
        mask = idx < n
        jj = np.where(mask, idx, 0).astype(np.int32)
        a = np.where(mask, pair_inv_sigma2(self.model, d[:, None], d[jj]), 1.0)
        rows, real = row_blocks(n, self.rows_per_block)
        return {
            "species": jnp.zeros(n, jnp.int32),
            "diameters": jnp.asarray(d),
            "box": jnp.asarray(np.asarray(box, float)),
            "jj": jnp.asarray(jj),
            "mask": jnp.asarray(mask),
            "a": jnp.asarray(a),
            "rows": jnp.asarray(rows),
            "jb": jnp.asarray(jj[rows]),
            "ab": jnp.asarray(a[rows]),
            "mb": jnp.asarray(mask[rows] & real[:, :, None]),
        }

    def __call__(self, R, system):
        box = system["box"]

        def rows_ef(R, r, jb, ab, mb):
            d = range(R.shape[1])
            dR = _min_image_components([R[r, k][:, None] for k in d], [R[:, k][jb] for k in d], box)
            a = ab.astype(R.dtype)
            s = sum(x * x for x in dR) * a
            return _ss_energy_forces(dR, s, a, mb & (s < self.sc2), self.coeffs)

        consts = (system["rows"], system["jb"], system["ab"], system["mb"])
        return _over_blocks(rows_ef, R, consts, self.n)

    def blocks(self, R, system):
        """(N, M, d, d) blocks K of the listed slots (zero on fill slots)."""
        jj, box = system["jj"], system["box"]
        R = jnp.asarray(R, jnp.float64).reshape(self.n, self.dim)
        r = R[:, None, :] - R[jj]
        r = r - box * jnp.round(r / box)
        return _ss_pair_blocks(r, system["a"], system["mask"], self.sc2, self.coeffs)


# ----------------------------------------------------------------------------- builders
def energy_fn(model, box, diameters):
    """Total energy E(R) (eps) over all pairs: a :class:`PairEnergy` valid for any displacement.
    O(N^2) time in row blocks (fine up to a few thousand particles)."""
    model, box, diameters = check_system(model, box, diameters)
    n = diameters.size
    kernel = PolydisperseAllPairsKernel(model, n)
    return PairEnergy(kernel, kernel.system(diameters, box), n * (n - 1) // 2)


def pair_list(model, box, diameters, R_ref, skin: float) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (i<j) closer than 1.25 sigma_ij + skin at R_ref (periodic KD-tree, O(N log N))."""
    from scipy.spatial import cKDTree

    model, box, diameters = check_system(model, box, diameters)
    R = np.mod(np.asarray(R_ref, dtype=float), box)
    R = np.where(R >= box, 0.0, R)
    reach = model.rc_factor * diameters.max() + skin
    if reach >= 0.5 * box.min():
        raise InputError(
            f"cutoff + skin {reach:.3f} must be below half the box side {box.min():.3f}: "
            "use a smaller skin or more particles"
        )
    pairs = cKDTree(R, boxsize=box).query_pairs(reach, output_type="ndarray")
    if pairs.size == 0:
        return np.zeros(0, np.int32), np.zeros(0, np.int32)
    i, j = pairs[:, 0], pairs[:, 1]
    d = R[i] - R[j]
    d -= box * np.round(d / box)
    rc = model.rc_factor / np.sqrt(pair_inv_sigma2(model, diameters[i], diameters[j]))
    keep = np.sum(d * d, axis=1) < (rc + skin) ** 2
    i, j = i[keep], j[keep]
    order = np.lexsort((j, i))
    return i[order].astype(np.int32), j[order].astype(np.int32)


def fixed_pair_energy(model, box, diameters, R_ref, skin: float = 0.5, min_columns: int = 0):
    """``(energy, is_valid)`` on a static pair list built at R_ref (as
    :func:`pelsim.potentials.fixed_pair_energy`): exact while no particle has moved more than
    skin/2 from R_ref; both are pytrees, compiled once per (N, bucketed columns)."""
    from pelsim.potentials import _dense_rows

    model, box, diameters = check_system(model, box, diameters)
    R_ref = np.asarray(R_ref, dtype=float)
    i, j = pair_list(model, box, diameters, R_ref, skin)
    idx = _dense_rows(i, j, diameters.size)
    columns = bucket_columns(max(idx.shape[1], int(min_columns)))
    kernel = PolydisperseRowsKernel(model, diameters.size, columns)
    energy = PairEnergy(kernel, kernel.system(diameters, box, idx), int(i.size))
    is_valid = MovedLessThan(jnp.asarray(R_ref), jnp.asarray(box), jnp.float64((0.5 * skin) ** 2))
    return energy, is_valid


def dense_energy_forces(model, box):
    """``(energy, forces)(R, idx, diameters)`` on a dense neighbour matrix idx (N, M), fill N.

    For MD with changing diameters (swap Monte Carlo): the list must hold every pair within
    rc_factor * sigma_max_pair + skin (:func:`pelsim.neighbors.make_dense_neighbor_fn` with the
    model, whose ``rc_max`` is 1.25 sigma_max); the per-pair cutoffs 1.25 sigma_ij are applied here.
    Works in the dtype of R.
    """
    model = load_model(model)
    box = np.asarray(box, float).reshape(-1)
    coeffs = soft_sphere_coefficients(model.rc_factor)
    sc2 = float(model.rc_factor) ** 2

    def _rows(R, idx, diameters):
        n = R.shape[0]
        mask = idx < n
        jj = jnp.where(mask, idx, 0)
        b = jnp.asarray(box, R.dtype)
        dR = _min_image_components(
            [R[:, k][:, None] for k in range(R.shape[1])], [R[:, k][jj] for k in range(R.shape[1])], b
        )
        d = diameters.astype(R.dtype)
        a = pair_inv_sigma2(model, d[:, None], d[jj])
        s = sum(x * x for x in dR) * a
        return _ss_energy_forces(dR, s, a, mask & (s < sc2), coeffs)

    def energy(R, idx, diameters):
        return _rows(R, idx, diameters)[0]

    def forces(R, idx, diameters):
        return _rows(R, idx, diameters)[1]

    return energy, forces


# pair lists need a box longer than 2 (cutoff + skin); below this N the all-pairs energy is used
ALL_PAIRS_MAX_N = 500


def landscape_energy(conf, R_ref=None, skin: float = 0.5, min_columns: int = 0):
    """``(energy, is_valid)`` of :func:`quench` (a small skin, rebuilt as the minimiser moves, as
    :func:`pelsim.minimize.quench` does for KA; the searches and the TLS hunt use
    :func:`pelsim.landscape.search.landscape_energy`, which dispatches to this module's kernels with
    the searches' size rule and skins): all pairs (``is_valid`` None) for
    N <= ALL_PAIRS_MAX_N or boxes too small for a list with this skin, else a fixed pair list at
    ``R_ref`` (default: the configuration's positions)."""
    model, box, diameters = check_system(conf.model, conf.box, conf.diameters)
    reach = model.rc_factor * float(diameters.max()) + skin
    if conf.n <= ALL_PAIRS_MAX_N or reach >= 0.5 * float(box.min()):
        return energy_fn(model, box, diameters), None
    R_ref = conf.positions if R_ref is None else R_ref
    return fixed_pair_energy(model, box, diameters, R_ref, skin, min_columns)


def quench(
    conf,
    fmax: float = 1e-10,
    method: str = "auto",
    skin: float = 0.5,
    max_rebuilds: int = 200,
    max_steps: int = 20000,
):
    """The inherent structure of a polydisperse configuration: ``(IS configuration, MinResult)``.

    :func:`pelsim.minimize.minimize` on :func:`landscape_energy`; a pair list whose skin is spent
    stops the minimiser (``stopped_invalid``) and is rebuilt at the current positions (same column
    bucket or larger: one compilation), keeping the L-BFGS memory (the surface is the same).
    """
    import time

    from pelsim.minimize import minimize

    t0 = time.perf_counter()
    R = np.asarray(conf.positions, float)
    steps = nev = 0
    memory, columns = None, 0
    rebuilds = 0
    for rebuilds in range(max_rebuilds):  # noqa: B007 (the count is reported)
        energy, valid = landscape_energy(conf, R, skin, columns)
        if valid is not None:
            columns = energy.kernel.columns
        res = minimize(energy, R, method, fmax, max_steps, valid=valid, memory=memory)
        memory, R = res.memory, np.asarray(res.R)
        steps, nev = steps + res.steps, nev + res.n_eval
        if not res.stopped_invalid:
            break
    res.steps, res.n_eval, res.time_s = steps, nev, time.perf_counter() - t0
    res.info = {"rebuilds": rebuilds}
    out = conf.copy(positions=R)
    out.info["protocol"] = "inherent structure"
    return out, res
