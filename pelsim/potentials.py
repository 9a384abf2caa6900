"""Pair potentials and energy functions for multi-species LJ glasses (KA-BLJ).

Two cutoff treatments of the LJ pair potential, both with a per-pair cutoff
r_c,ab = rc_factor * sigma_ab (2.5 sigma_ab for KA):

* ``smooth`` (default, landscape work):
  V(r) = 4 eps [(sigma/r)^12 - (sigma/r)^6 + c0 + c2 (r/sigma)^2 + c4 (r/sigma)^4],
  with c0, c2, c4 fixed so that V, V' and V'' vanish at r_c.
* ``shifted``: LJ truncated and shifted to zero at r_c, identical to LAMMPS
  ``pair_style lj/cut 2.5`` with ``pair_modify shift yes`` (forces jump at r_c).

Both depend on r only through s = (r/sigma)^2, so no square roots are taken.
Energy functions (all pure JAX functions of positions (N, d), minimum image in an
orthorhombic periodic box, energies in eps_AA):

* :func:`energy_fn` - all pairs i<j, exact for ANY displacement, O(N^2) time;
* :func:`fixed_pair_energy` - a static pair list built from a reference configuration
  with a skin; returns ``(energy, is_valid)``; vmap-able over images (NEB), used by
  minimisation, Hessians and landscape tools;
  both are "fast landscape energies" (:func:`_fast_energy`): analytic forces on neighbour rows
  through a custom JVP (value_and_grad without scatter-add, forward-over-reverse HVPs work) and
  batches evaluated one configuration after another;
* :func:`neighbor_list_energy` - energy of (R, jax-md neighbor list), used by MD;
* :func:`reference_energy` - a plain full N x N matrix implementation, for tests.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from pelsim.errors import InputError
from pelsim.geometry import minimum_image
from pelsim.models import LJModel, PolydisperseModel, load_model
from pelsim.system import (
    AllPairsKernel,
    MovedLessThan,
    PairEnergy,
    RowsKernel,
    bucket_columns,
    pair_coefficients,
)

__all__ = [
    "KINDS",
    "pair_coefficients",
    "pair_potential",
    "energy_fn",
    "fixed_pair_energy",
    "neighbor_list_energy",
    "reference_energy",
    "pair_list_energy",
    "padded_pair_list",
    "pair_list",
    "forces_fn",
    "max_force",
    "dense_neighbor_forces",
    "dense_pair_list",
    "dense_pair_energy",
]

KINDS = ("smooth", "shifted")


def _pair_u(s, eps, sc2, coeffs):
    """4 eps u(s) for s = (r/sigma)^2 < sc2 = x_c^2, else 0. Safe gradients where masked."""
    c0, c2, c4 = coeffs
    inside = s < sc2
    s_safe = jnp.where(inside, s, 1.0)
    inv3 = 1.0 / (s_safe * s_safe * s_safe)
    u = inv3 * inv3 - inv3 + c0 + c2 * s_safe + c4 * s_safe * s_safe
    return jnp.where(inside, 4.0 * eps * u, 0.0)


def pair_potential(r, eps=1.0, sigma=1.0, rc_factor=2.5, kind="smooth"):
    """V(r) in eps_AA for separation r (sigma_AA); a JAX function, differentiable in r."""
    r = jnp.asarray(r)
    return _pair_u((r / sigma) ** 2, eps, rc_factor**2, pair_coefficients(kind, rc_factor))


def check_system(model, box, species, kind):
    """(model, box (d,), species int32) checked: box sides, species range, kind, box > 2 cutoffs."""
    model = load_model(model)
    if isinstance(model, PolydisperseModel):
        raise InputError(f"model {model.name} has per-particle diameters: use pelsim.polydisperse")
    box = np.asarray(box, dtype=float).reshape(-1)
    if box.size == 1:
        box = np.full(model.dim, float(box[0]))
    species = np.asarray(species, dtype=np.int32)
    if box.size != model.dim:
        raise InputError(f"box has {box.size} sides but model {model.name} is {model.dim}D")
    if species.size and (species.min() < 0 or species.max() >= model.n_species):
        raise InputError(f"species index out of range for model {model.name}")
    if kind not in KINDS:
        raise InputError(f"unknown potential kind {kind!r} (expected 'smooth' or 'shifted')")
    if model.rc_max >= 0.5 * box.min():
        raise InputError(
            f"box side {box.min():.3f} is shorter than twice the cutoff {model.rc_max:.3f}: "
            "use more particles"
        )
    return model, box, species


def _pair_params(model: LJModel, si, sj, dtype):
    eps = jnp.asarray(model.eps, dtype)[si, sj]
    inv_sig2 = 1.0 / jnp.asarray(model.sigma, dtype)[si, sj] ** 2
    return eps, inv_sig2


def _pairs_energy(R, i, j, eps, inv_sig2, box, sc2, coeffs, mask=None, strain=1.0):
    dR = R[i] - R[j]
    dR = minimum_image(dR, box) * strain
    s = jnp.sum(dR * dR, axis=-1) * inv_sig2
    u = _pair_u(s, eps, sc2, coeffs)
    if mask is not None:
        u = jnp.where(mask, u, 0.0)
    return jnp.sum(u)


def energy_fn(model, box, species, kind: str = "smooth"):
    """Total potential energy E(R) (eps_AA) over all pairs i<j: valid for any displacement.

    A :class:`pelsim.system.PairEnergy` (a pytree: the kernel is static, species and box are data;
    one compiled program per model, kind and N). Evaluated on the full N x N minimum-image matrix
    with analytic forces: ``jax.value_and_grad`` is one pass without scatter-add, ``jax.vmap``
    runs the images one after another on the CPU, and forward-over-reverse Hessian-vector products
    work. O(N^2) time (rows in blocks of ~2^17 matrix entries, so memory stays O(N)); fine up to a
    few thousand particles.
    """
    model, box, species = check_system(model, box, species, kind)
    n = species.size
    kernel = AllPairsKernel(model, kind, n)
    return PairEnergy(kernel, kernel.system(species, box), n * (n - 1) // 2)


def pair_list(model, box, species, R_ref, skin: float) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (i<j) closer than r_c,ab + skin at R_ref (periodic KD-tree, O(N log N))."""
    from scipy.spatial import cKDTree

    model = load_model(model)
    box = np.asarray(box, dtype=float).reshape(-1)
    species = np.asarray(species)
    R = np.mod(np.asarray(R_ref, dtype=float), box)
    R = np.where(R >= box, 0.0, R)  # mod can round up to box
    if model.rc_max + skin >= 0.5 * box.min():
        raise InputError(
            f"cutoff + skin {model.rc_max + skin:.3f} must be below half the box side "
            f"{box.min():.3f}: use a smaller skin or more particles"
        )
    pairs = cKDTree(R, boxsize=box).query_pairs(model.rc_max + skin, output_type="ndarray")
    if pairs.size == 0:
        return np.zeros(0, np.int32), np.zeros(0, np.int32)
    i, j = pairs[:, 0], pairs[:, 1]
    d = R[i] - R[j]
    d = minimum_image(d, box)
    keep = np.sum(d * d, axis=1) < (model.rc[species[i], species[j]] + skin) ** 2
    i, j = i[keep], j[keep]
    order = np.lexsort((j, i))
    return i[order].astype(np.int32), j[order].astype(np.int32)


def padded_pair_list(model, box, species, R_ref, skin: float, block: int = 4096):
    """Pair list of :func:`pair_list` padded to a multiple of ``block`` (stable shapes, no recompiles).

    Returns a tuple ``(i, j, mask, R_ref)`` of JAX arrays to pass to the energy and validity
    functions of :func:`pair_list_energy`.
    """
    i, j = pair_list(model, box, species, R_ref, skin)
    cap = max(block, int(np.ceil(i.size / block)) * block)
    mask = np.zeros(cap, bool)
    mask[: i.size] = True
    ip = np.zeros(cap, np.int32)
    jp = np.ones(cap, np.int32) if len(species) > 1 else np.zeros(cap, np.int32)
    ip[: i.size], jp[: i.size] = i, j
    return (jnp.asarray(ip), jnp.asarray(jp), jnp.asarray(mask), jnp.asarray(np.asarray(R_ref, float)))


def pair_list_energy(model, box, species, kind: str = "smooth", skin: float = 0.5):
    """``(energy(R, pairs), is_valid(R, pairs))`` for a pair list given as an argument.

    ``pairs`` comes from :func:`padded_pair_list` (same skin); the functions themselves do not
    change when the list is rebuilt, so jitted minimisers compile once.
    """
    model, box, species = check_system(model, box, species, kind)
    coeffs = pair_coefficients(kind, model.rc_factor)
    sc2 = model.rc_factor**2
    species_j = jnp.asarray(species)
    half_skin2 = (0.5 * skin) ** 2

    def energy(R, pairs):
        i, j, mask, _ = pairs
        eps, inv_sig2 = _pair_params(model, species_j[i], species_j[j], R.dtype)
        return _pairs_energy(R, i, j, eps, inv_sig2, jnp.asarray(box, R.dtype), sc2, coeffs, mask)

    def is_valid(R, pairs):
        return _moved_less_than(R, pairs[3], box, half_skin2)

    return energy, is_valid


def _moved_less_than(R, R_ref, box, limit2):  # the dense MD-style lists of dense_pair_energy
    """JAX bool: every particle's minimum-image displacement from R_ref is below sqrt(limit2)
    (the validity of a pair list built at R_ref with skin 2 sqrt(limit2))."""
    d = R - jnp.asarray(R_ref).astype(R.dtype)
    d = minimum_image(d, box)
    return jnp.max(jnp.sum(d * d, axis=-1)) < limit2


def fixed_pair_energy(
    model, box, species, R_ref, skin: float = 0.5, kind: str = "smooth", min_columns: int = 0
):
    """Energy on a static pair list built at R_ref, and its validity check.

    Returns ``(energy, is_valid)``: ``energy(R)`` is exact as long as no particle has moved
    more than skin/2 from R_ref (minimum image), which ``is_valid(R)`` (a JAX bool) checks.
    Both are pytrees (:class:`pelsim.system.PairEnergy`, :class:`pelsim.system.MovedLessThan`):
    the pair list, species, box and reference are data, so programs that take them as arguments
    compile once per shape bucket (N and the bucketed neighbour columns, at least ``min_columns``),
    not once per list. Both vmap over a leading batch axis (NEB images).
    The pairs are held as a dense (N, M) neighbour matrix (both directions) with analytic
    forces: no scatter-add in the gradient.
    """
    model, box, species = check_system(model, box, species, kind)
    R_ref = np.asarray(R_ref, dtype=float)
    i, j = pair_list(model, box, species, R_ref, skin)
    idx = _dense_rows(i, j, species.size)
    kernel = RowsKernel(model, kind, species.size, bucket_columns(max(idx.shape[1], int(min_columns))))
    energy = PairEnergy(kernel, kernel.system(species, box, idx), int(i.size))
    is_valid = MovedLessThan(jnp.asarray(R_ref), jnp.asarray(box), jnp.float64((0.5 * skin) ** 2))
    return energy, is_valid


def neighbor_list_energy(model, box, species, kind: str = "smooth"):
    """Energy E(R, nbrs) for a jax-md neighbor list (Dense or OrderedSparse format).

    The list must be built with cutoff >= max r_c,ab (see :mod:`pelsim.neighbors`); the
    per-pair cutoffs are applied here. Works in the dtype of R (float32 or float64).
    """
    model, box, species = check_system(model, box, species, kind)
    n = species.size
    coeffs = pair_coefficients(kind, model.rc_factor)
    sc2 = model.rc_factor**2
    species_j = jnp.asarray(species)

    def energy(R, nbrs, strain=1.0):
        """E (eps_AA); ``strain`` scales all pair vectors (d E/d strain at 1 = -virial sum r.f)."""
        dtype = R.dtype
        idx = nbrs.idx
        if idx.ndim == 2 and idx.shape[0] == 2 and getattr(nbrs.format, "name", "") != "Dense":
            i, j = idx[0], idx[1]
            mask = j < n
            jj = jnp.where(mask, j, 0)
            eps, inv_sig2 = _pair_params(model, species_j[i], species_j[jj], dtype)
            e = _pairs_energy(R, i, jj, eps, inv_sig2, jnp.asarray(box, dtype), sc2, coeffs, mask, strain)
            if nbrs.format.name == "Sparse":  # both (i, j) and (j, i) present
                e = 0.5 * e
            return e
        # Dense: idx (N, M), every pair counted twice
        i = jnp.broadcast_to(jnp.arange(n)[:, None], idx.shape)
        mask = idx < n
        jj = jnp.where(mask, idx, 0)
        eps, inv_sig2 = _pair_params(model, species_j[i], species_j[jj], dtype)
        return 0.5 * _pairs_energy(
            R, i, jj, eps, inv_sig2, jnp.asarray(box, dtype), sc2, coeffs, mask, strain
        )

    return energy


def reference_energy(model, box, species, kind: str = "smooth"):
    """Independent O(N^2) reference: full N x N distance matrix, explicit per-pair cutoff in r.

    Written differently from the production code (it uses r, not s = r^2, and the
    closed-form potential through :func:`pair_potential`) so that tests compare two routes.
    """
    model, box, species = check_system(model, box, species, kind)
    n = species.size
    eps = jnp.asarray(model.eps)[species[:, None], species[None, :]]
    sig = jnp.asarray(model.sigma)[species[:, None], species[None, :]]
    off = ~np.eye(n, dtype=bool)

    def energy(R):
        d = R[:, None, :] - R[None, :, :]
        d = minimum_image(d, box)
        r2 = jnp.sum(d * d, axis=-1)
        r = jnp.sqrt(jnp.where(off, r2, 1.0))
        v = jax.vmap(jax.vmap(lambda r_, e_, s_: pair_potential(r_, e_, s_, model.rc_factor, kind)))(
            r, eps, sig
        )
        return 0.5 * jnp.sum(jnp.where(off, v, 0.0))

    return energy


def forces_fn(energy):
    """F(R) = -dE/dR for any energy function of positions."""
    g = jax.grad(energy)
    return lambda R: -g(R)


def max_force(F) -> float:
    """Largest per-particle force norm max_i |F_i| (eps_AA / sigma_AA)."""
    F = jnp.asarray(F)
    return float(jnp.sqrt(jnp.max(jnp.sum(F.reshape(F.shape[0], -1) ** 2, axis=-1))))


def dense_neighbor_forces(model, box, species, kind: str = "smooth"):
    """Analytic ``(energy, forces)(R, nbrs)`` on a dense (N, M) neighbor matrix (both directions).

    Hand-written forces instead of autodiff (measured, benchmarks/bench_md.py): with the dense
    list the force on i is a row sum, F_i = sum_j 8 eps u'(s) inv_sig2 dR_ij with
    u'(s) = 6 s^-7 - 3 s^-4 - c2 - 2 c4 s (s = r^2/sigma^2), so XLA needs no scatter-add. ``nbrs``
    is a :class:`pelsim.neighbors.DenseNeighborList` (or a jax-md Dense list: ``idx`` (N, M),
    fill value N). Energies in eps_AA, forces in eps_AA/sigma_AA, in the dtype of R.
    """
    model, box, species = check_system(model, box, species, kind)
    n = species.size
    c0, c2, c4 = pair_coefficients(kind, model.rc_factor)
    sc2 = model.rc_factor**2
    ns = model.n_species
    species_j = jnp.asarray(species)

    eps_m = np.asarray(model.eps, float)
    isg_m = 1.0 / np.asarray(model.sigma, float) ** 2

    def _params(jj, si, dtype):
        # per-row values selected by the neighbor's species: one gather (species of j) per slot
        # instead of three (species, eps, sigma tables); measured ~15 % of the force call at N=1000
        if ns == 1:
            return jnp.asarray(eps_m[0, 0], dtype), jnp.asarray(isg_m[0, 0], dtype)
        sj = species_j[jj]
        eps = inv_sig2 = None
        for a in range(ns):
            e_row = jnp.asarray(eps_m[:, a], dtype)[si][:, None]
            g_row = jnp.asarray(isg_m[:, a], dtype)[si][:, None]
            eps = e_row if eps is None else jnp.where(sj == a, e_row, eps)
            inv_sig2 = g_row if inv_sig2 is None else jnp.where(sj == a, g_row, inv_sig2)
        return eps, inv_sig2

    def _pairs(R, idx, strain=1.0, row_start=None, rows=None):
        # one coordinate at a time (structure of arrays): measured 3x faster than (N, M, d) arrays
        dtype = R.dtype
        mask = idx < n
        jj = jnp.where(mask, idx, 0)
        if rows is not None:  # a row group of the list (static row indices)
            Ri, si = R[rows], species_j[rows]
        elif row_start is None:  # all rows
            Ri, si = R, species_j
        else:  # a block of rows (one device's share of the list, see pelsim.md)
            Ri = jax.lax.dynamic_slice_in_dim(R, row_start, idx.shape[0])
            si = jax.lax.dynamic_slice_in_dim(species_j, row_start, idx.shape[0])
        eps, inv_sig2 = _params(jj, si, dtype)
        b = jnp.asarray(box, dtype)
        inv_b = 1.0 / b
        dR = []
        for k in range(R.shape[1]):
            x = Ri[:, k][:, None] - R[:, k][jj]
            dR.append((x - b[k] * jnp.round(x * inv_b[k])) * strain)
        s = sum(x * x for x in dR) * inv_sig2
        inside = mask & (s < sc2)
        s = jnp.where(inside, s, 1.0)
        inv = 1.0 / s  # the only division per slot
        return dR, s, inv, inside, eps, inv_sig2

    def _groups(nbrs):
        """[(idx block, static rows or None)]: one entry, or one per row group (a tuple ``idx``
        from :func:`pelsim.neighbors.make_dense_neighbor_fn` with ``group_rows``)."""
        if isinstance(nbrs.idx, tuple):
            return list(zip(nbrs.idx, nbrs.fn.row_groups, strict=True))
        return [(nbrs.idx, None)]

    def energy(R, nbrs, strain=1.0):
        """E (eps_AA); ``strain`` scales all pair vectors (d E/d strain at 1 = -virial)."""
        E = 0.0
        for idx, rows in _groups(nbrs):
            _, s, inv, inside, eps, _ = _pairs(R, idx, strain, rows=rows)
            inv3 = inv * inv * inv
            u = inv3 * inv3 - inv3 + c0 + c2 * s + c4 * s * s
            E = E + 2.0 * jnp.sum(jnp.where(inside, eps * u, 0.0))  # 4 eps u, each pair twice
        return E

    def _row_forces(R, idx, row_start=None, rows=None):
        dR, s, inv, inside, eps, inv_sig2 = _pairs(R, idx, row_start=row_start, rows=rows)
        inv3 = inv * inv * inv
        # -dV/ds * 2 inv_sig2 (dV/dR_i = V'(s) 2 inv_sig2 dR_ij)
        dus = (6.0 * inv3 * inv3 - 3.0 * inv3) * inv
        if c2 or c4:  # smooth cutoff only (shifted: c2 = c4 = 0, two fewer ops per slot)
            dus = dus - c2 - 2.0 * c4 * s
        w = jnp.where(inside, 8.0 * eps * inv_sig2 * dus, 0.0)
        return jnp.stack([jnp.sum(w * x, axis=1) for x in dR], axis=1)

    def forces(R, nbrs, row_start=None, **kwargs):
        """F (N, d); with ``row_start`` the forces of rows row_start.. of a row block ``nbrs.idx``."""
        groups = _groups(nbrs)
        if groups[0][1] is None:
            return _row_forces(R, groups[0][0], row_start=row_start)
        F = jnp.concatenate([_row_forces(R, idx, rows=rows) for idx, rows in groups])
        order = np.argsort(np.concatenate([rows for _, rows in groups]))  # back to particle order
        return F[order]

    return energy, forces


def dense_pair_list(model, box, species, R_ref, skin: float, min_columns: int = 0, block: int = 16):
    """Dense neighbor matrix at R_ref for :func:`dense_pair_energy`: ``(idx (N, M), R_ref)``.

    idx holds, for every particle, the neighbors within r_c,ab + skin (both directions, fill
    value N); M is the largest row rounded up to a multiple of ``block`` (at least
    ``min_columns``) so that shapes, and hence compiled minimisers, rarely change.
    """
    i, j = pair_list(model, box, species, R_ref, skin)
    idx = _dense_rows(i, j, len(species), block, min_columns)
    return jnp.asarray(idx), jnp.asarray(np.asarray(R_ref, float))


def dense_pair_energy(model, box, species, kind: str = "smooth", skin: float = 0.3):
    """``(energy(R, nb), is_valid(R, nb))`` on a dense list ``nb`` from :func:`dense_pair_list`.

    The energy carries a custom VJP with the analytic forces of :func:`dense_neighbor_forces`:
    ``jax.value_and_grad`` then costs one fused pass with no scatter-add (measured ~3x cheaper
    than autodiff of :func:`pair_list_energy` at N=1000, benchmarks/bench_minimize.py).
    Exact while no particle has moved more than skin/2 from R_ref (``is_valid``). Reverse mode
    only (for Hessians use :func:`energy_fn` or :func:`fixed_pair_energy`).
    """
    e_fn, f_fn = dense_neighbor_forces(model, box, species, kind)
    half_skin2 = (0.5 * skin) ** 2
    box_ = np.asarray(check_system(model, box, species, kind)[1])

    class _NB:
        def __init__(self, idx):
            self.idx = idx

    @jax.custom_vjp
    def energy(R, nb):
        return e_fn(R, _NB(nb[0]))

    def fwd(R, nb):
        return e_fn(R, _NB(nb[0])), (f_fn(R, _NB(nb[0])), nb)

    def bwd(res, g):
        F, nb = res
        return (-g * F, jax.tree_util.tree_map(lambda x: None if x is None else _zero_ct(x), nb))

    energy.defvjp(fwd, bwd)

    def is_valid(R, nb):
        return _moved_less_than(R, nb[1], box_, half_skin2)

    return energy, is_valid


def _zero_ct(x):
    if jnp.issubdtype(x.dtype, jnp.floating):
        return jnp.zeros_like(x)
    return np.zeros(x.shape, jax.dtypes.float0)


# The fast landscape kernels (analytic forces on neighbour rows, batches one image after another)
# live in pelsim.system, where the energy is a pytree of its data.


def _dense_rows(i, j, n: int, block: int = 16, min_columns: int = 0) -> np.ndarray:
    """Pairs i<j as an (N, M) neighbour matrix, both directions, fill value N (M: multiple of block)."""
    ii, jj = np.concatenate([i, j]), np.concatenate([j, i])
    order = np.argsort(ii, kind="stable")
    ii, jj = ii[order], jj[order]
    counts = np.bincount(ii, minlength=n)
    M = max(int(min_columns), block * int(np.ceil(max(counts.max(initial=0), 1) / block)))
    col = np.arange(ii.size) - np.repeat(np.cumsum(counts) - counts, counts)
    idx = np.full((n, M), n, np.int32)
    idx[ii, col] = jj
    return idx
