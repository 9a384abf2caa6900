"""The landscape system as data: energies that are pytrees, compiled once per model and shape bucket.

A landscape energy is a :class:`PairEnergy`: a *static* kernel (the model, the cutoff kind and the
array shapes: N, d, the neighbour columns M; hashable) and a *system* (a dict of arrays: species,
box, the padded neighbour rows of a fixed pair list). ``PairEnergy`` is a JAX pytree whose leaves
are the system's arrays and whose static part is the kernel, so a jitted program that takes the
energy as an *argument* (the minimisers, NEB, dimer, saddle refinement, Hessian-vector products)
is compiled once per kernel and reused for every glass and every re-centred pair list of the same
bucket: only data changes. The validity of a pair list (every particle within skin/2 of the list's
reference) is a pytree too (:class:`MovedLessThan`).

Plain Python functions of positions (analytic test surfaces, user energies) still work everywhere:
:func:`as_pytree` wraps them as :class:`Plain`, a pytree with no leaves whose static part is the
function itself (compiled per function object, as before).

Shape buckets: the columns M of a pair list are rounded up on a ladder (:func:`bucket_columns`:
steps of 16 up to 128, of 32 up to 512, of 64 beyond), so glasses of one N share a few kernels;
:func:`pelsim.landscape.search.search_glasses` pads all its glasses to their largest bucket.

A new model plugs in by providing a kernel class with ``__call__(R, system) -> (E, F)`` and
``blocks(R, system)`` / ``apply(K, v, system)`` / ``dense(R, system)`` for its Hessian, hashable by
its static parameters (see :class:`RowsKernel`), and a builder of its system dict.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache, partial

import jax
import jax.numpy as jnp
import numpy as np

from pelsim.errors import InputError
from pelsim.geometry import minimum_image

__all__ = [
    "PairHessian",
    "pair_coefficients",
    "Plain",
    "PairEnergy",
    "MovedLessThan",
    "AllPairsKernel",
    "RowsKernel",
    "as_pytree",
    "bucket_columns",
    "model_key",
]


@lru_cache(maxsize=16)
def pair_coefficients(kind: str, rc_factor: float = 2.5) -> tuple[float, float, float]:
    """(c0, c2, c4) of the reduced pair potential u(x) = x^-12 - x^-6 + c0 + c2 x^2 + c4 x^4, x = r/sigma.

    ``smooth``: u, u', u'' vanish at x_c = rc_factor (a 3x3 linear system).
    ``shifted``: c0 = -(x_c^-12 - x_c^-6), c2 = c4 = 0.
    """
    xc = float(rc_factor)
    if kind == "shifted":
        return (-(xc**-12 - xc**-6), 0.0, 0.0)
    if kind != "smooth":
        raise InputError(f"unknown potential kind {kind!r} (expected 'smooth' or 'shifted')")
    A = np.array([[1.0, xc**2, xc**4], [0.0, 2 * xc, 4 * xc**3], [0.0, 2.0, 12 * xc**2]])
    b = -np.array([xc**-12 - xc**-6, -12 * xc**-13 + 6 * xc**-7, 156 * xc**-14 - 42 * xc**-8])
    return tuple(float(c) for c in np.linalg.solve(A, b))


@dataclass(frozen=True, eq=False)
class PairHessian:
    """Analytic second derivatives of a pair energy; ``dense``/``hvp`` are jitted JAX functions.

    dense(R) -> (N d, N d) array; hvp(R, v) -> H v with v of shape (N d,) or (N, d)
    (returned in the shape of v); blocks(R) -> pair blocks K (P, d, d) and apply(K, v) -> H v,
    to reuse K for many products at one R (dimer rotation, Lanczos).
    """

    n: int
    dim: int
    n_pairs: int
    dense: object
    hvp: object
    blocks: object
    apply: object


def model_key(model) -> tuple:
    """Hashable identity of an LJModel's parameters (its arrays are not hashable)."""
    return (
        model.name,
        int(model.dim),
        tuple(np.asarray(model.eps, float).ravel()),
        tuple(np.asarray(model.sigma, float).ravel()),
        float(model.rc_factor),
    )


def bucket_columns(m: int) -> int:
    """Columns of a padded neighbour matrix for a list whose largest row has ``m`` entries:
    a multiple of 16 up to 128, of 32 up to 512, of 64 beyond (at most ~10 % padding there)."""
    m = max(int(m), 1)
    step = 16 if m <= 128 else 32 if m <= 512 else 64
    return step * -(-m // step)


# ----------------------------------------------------------------------------- pytree wrappers
@jax.tree_util.register_pytree_node_class
class Plain:
    """A plain function as a pytree without leaves (static part: the function itself)."""

    __slots__ = ("fn",)

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, *args):
        return self.fn(*args)

    def __getattr__(self, name):  # attributes carried by the function (e.g. an attached Hessian)
        if name == "fn":
            raise AttributeError(name)
        return getattr(self.fn, name)

    def tree_flatten(self):
        return (), self.fn

    @classmethod
    def tree_unflatten(cls, fn, _):
        return cls(fn)

    def __eq__(self, other):
        return isinstance(other, Plain) and other.fn is self.fn

    def __hash__(self):
        return hash(self.fn)


def as_pytree(fn):
    """``fn`` as a pytree callable: PairEnergy / MovedLessThan / Plain and other registered pytree
    classes (a ``tree_flatten`` method, e.g. the constrained energy of valleys.py) unchanged, None
    unchanged, any other callable wrapped in :class:`Plain`."""
    if fn is None or isinstance(fn, PairEnergy | MovedLessThan | Plain) or hasattr(type(fn), "tree_flatten"):
        return fn
    return Plain(fn)


@jax.tree_util.register_pytree_node_class
class MovedLessThan:
    """Validity of a pair list: JAX bool, every particle's minimum-image displacement from ``R_ref``
    is below sqrt(limit2) (a list built at R_ref with skin 2 sqrt(limit2) is exact there)."""

    def __init__(self, R_ref, box, limit2):
        self.R_ref, self.box, self.limit2 = R_ref, box, limit2

    def __call__(self, R):
        d = R - self.R_ref.astype(R.dtype)
        box = self.box.astype(R.dtype)
        d = minimum_image(d, box)
        return jnp.max(jnp.sum(d * d, axis=-1)) < self.limit2

    def tree_flatten(self):
        return (self.R_ref, self.box, self.limit2), None

    @classmethod
    def tree_unflatten(cls, _, children):
        return cls(*children)


# ----------------------------------------------------------------------------- kernels
def _rows_energy_forces(dR, s, eps, inv_sig2, inside, coeffs):
    """(E, F) from row-wise pair data: dR (d arrays (rows, cols)), s = r^2/sigma^2 (rows, cols).

    Every pair appears in two rows (i, j) and (j, i), so E = sum 2 eps u and F_i = sum_j
    8 eps a u'(s) (R_i - R_j) with u' = 6 s^-7 - 3 s^-4 - c2 - 2 c4 s taken with its sign for -dV/ds.
    One division per slot (1/s), the rest products.
    """
    c0, c2, c4 = coeffs
    s = jnp.where(inside, s, 1.0)
    inv = 1.0 / s
    inv3 = inv * inv * inv
    u = inv3 * inv3 - inv3 + c0
    dus = (6.0 * inv3 * inv3 - 3.0 * inv3) * inv
    if c2 or c4:  # smooth cutoff only
        u = u + c2 * s + c4 * s * s
        dus = dus - c2 - 2.0 * c4 * s
    E = 2.0 * jnp.sum(jnp.where(inside, eps * u, 0.0))
    w = jnp.where(inside, 8.0 * eps * inv_sig2 * dus, 0.0)
    return E, jnp.stack([jnp.sum(w * x, axis=1) for x in dR], axis=1)


def _species_rows(eps_m, isg_m, si, sj, dtype):
    """eps and 1/sigma^2 of the pairs (si rows, sj (rows, cols)) by selecting on sj: no table gathers."""
    eps = isg = None
    for a in range(eps_m.shape[0]):
        e_row = jnp.asarray(eps_m[:, a], dtype)[si][:, None]
        g_row = jnp.asarray(isg_m[:, a], dtype)[si][:, None]
        eps = e_row if eps is None else jnp.where(sj == a, e_row, eps)
        isg = g_row if isg is None else jnp.where(sj == a, g_row, isg)
    return eps, isg


def _min_image_components(xi, xj, box):
    """Minimum-image xi[k] - xj[k] for each Cartesian component k (lists of d arrays that broadcast)."""
    b = jnp.asarray(box, xi[0].dtype)
    inv_b = 1.0 / b
    out = []
    for k, (a, c) in enumerate(zip(xi, xj, strict=True)):
        x = a - c
        out.append(x - b[k] * jnp.round(x * inv_b[k]))
    return out


def row_blocks(n: int, rows_per_block: int):
    """Row indices (blocks, rows) covering 0..n-1 (last block padded with row n-1) and a mask of real rows."""
    nblk = -(-n // rows_per_block)
    rows = np.minimum(np.arange(nblk * rows_per_block), n - 1).reshape(nblk, rows_per_block).astype(np.int32)
    return rows, (np.arange(nblk * rows_per_block) < n).reshape(nblk, rows_per_block)


def _over_blocks(rows_ef, R, consts, n):
    """Apply rows_ef(R, *block) to each block of ``consts`` (lax.map); one block is called directly."""
    if consts[0].shape[0] == 1:
        return rows_ef(R, *(a[0] for a in consts))
    E, F = jax.lax.map(lambda a: rows_ef(R, *a), consts)
    return jnp.sum(E), F.reshape(-1, R.shape[1])[:n]


class _Kernel:
    """Static part of a pair energy: the model's parameters, the cutoff kind and the shapes."""

    def __init__(self, model, kind: str, n: int):
        self.model = model
        self.kind = kind
        self.n = int(n)
        self.dim = int(model.dim)
        self.coeffs = pair_coefficients(kind, model.rc_factor)
        self.sc2 = float(model.rc_factor) ** 2
        self.eps_m = np.asarray(model.eps, float)
        self.isg_m = 1.0 / np.asarray(model.sigma, float) ** 2

    def _key(self):
        return (type(self).__name__, model_key(self.model), self.kind, self.n)

    def __hash__(self):
        return hash(self._key())

    def __eq__(self, other):
        return type(other) is type(self) and other._key() == self._key()

    # pair blocks K = 2 a V'(s) I + 4 a^2 V''(s) r r^T of pair vectors r (..., d) (pelsim.pair_hessian)
    def _pair_blocks(self, r, eps, a, inside):
        _, c2, c4 = self.coeffs
        s = jnp.sum(r * r, axis=-1) * a
        inside = inside & (s < self.sc2)
        s = jnp.where(inside, s, 1.0)
        inv3 = 1.0 / (s * s * s)
        du = (-6.0 * inv3 * inv3 + 3.0 * inv3) / s + c2 + 2.0 * c4 * s
        d2u = (42.0 * inv3 * inv3 - 12.0 * inv3) / (s * s) + 2.0 * c4
        g1 = jnp.where(inside, 8.0 * eps * a * du, 0.0)
        g2 = jnp.where(inside, 16.0 * eps * a * a * d2u, 0.0)
        eye = jnp.eye(r.shape[-1], dtype=r.dtype)
        return g1[..., None, None] * eye + g2[..., None, None] * r[..., :, None] * r[..., None, :]


class AllPairsKernel(_Kernel):
    """All pairs i<j on the N x N minimum-image matrix, in row blocks of ~block_entries matrix
    entries (measured at N=1000, 16 images: 128-row blocks 6.2 ms/image, one 1000-row block
    22 ms/image: the block's temporaries must stay in the 2 MB L2 cache). System: species, box."""

    def __init__(self, model, kind, n, block_entries: int = 1 << 17):
        super().__init__(model, kind, n)
        self.rows_per_block = min(self.n, max(8, block_entries // self.n))

    def _key(self):
        return super()._key() + (self.rows_per_block,)

    def system(self, species, box) -> dict:
        return {"species": jnp.asarray(np.asarray(species, np.int32)), "box": jnp.asarray(box, jnp.float64)}

    def __call__(self, R, system):
        n = self.n
        rows, real = row_blocks(n, self.rows_per_block)
        species, box = system["species"], system["box"]

        def rows_ef(R, r, keep):
            d = range(R.shape[1])
            dR = _min_image_components([R[r, k][:, None] for k in d], [R[:, k][None, :] for k in d], box)
            eps, isg = _species_rows(self.eps_m, self.isg_m, species[r], species[None, :], R.dtype)
            s = sum(x * x for x in dR) * isg
            inside = (s < self.sc2) & (r[:, None] != jnp.arange(n)[None, :]) & keep[:, None]
            return _rows_energy_forces(dR, s, eps, isg, inside, self.coeffs)

        return _over_blocks(rows_ef, R, (jnp.asarray(rows), jnp.asarray(real)), n)

    def _pairs(self, system):
        i, j = np.triu_indices(self.n, k=1)
        sp = system["species"]
        eps = jnp.asarray(self.eps_m)[sp[i], sp[j]]
        a = jnp.asarray(self.isg_m)[sp[i], sp[j]]
        return jnp.asarray(i, jnp.int32), jnp.asarray(j, jnp.int32), eps, a

    def blocks(self, R, system):
        i, j, eps, a = self._pairs(system)
        box = system["box"]
        R = jnp.asarray(R, jnp.float64).reshape(self.n, self.dim)
        r = R[i] - R[j]
        r = minimum_image(r, box)
        return self._pair_blocks(r, eps, a, jnp.bool_(True))

    def apply(self, K, v, system):
        i, j, _, _ = self._pairs(system)
        shape = v.shape
        v = jnp.asarray(v).reshape(self.n, self.dim)
        w = jnp.einsum("pab,pb->pa", K, v[i] - v[j])
        out = jax.ops.segment_sum(w, i, self.n) - jax.ops.segment_sum(w, j, self.n)
        return out.reshape(shape)

    def dense(self, R, system):
        i, j, _, _ = self._pairs(system)
        n, d = self.n, self.dim
        K = self.blocks(R, system)
        diag = jax.ops.segment_sum(K, i, n) + jax.ops.segment_sum(K, j, n)
        H = jnp.zeros((n, d, n, d))
        H = H.at[i, :, j, :].add(-K)
        H = H.at[j, :, i, :].add(-jnp.swapaxes(K, 1, 2))
        idx = jnp.arange(n)
        H = H.at[idx, :, idx, :].add(diag)
        return H.reshape(n * d, n * d)


class RowsKernel(_Kernel):
    """A fixed pair list as a dense (N, M) neighbour matrix (both directions, fill N), in row blocks.

    Lists of up to max_single slots are processed at once; longer ones in row blocks of ~block_slots
    slots, to bound the temporaries (at N=1000, M=320, blocks of 32k-131k slots and no blocks ran
    within noise of each other, 3-5 ms per image). System: species, box, and the neighbour rows
    ``jj`` (clipped to valid indices), ``sj`` (their species) and ``mask``, also laid out in row
    blocks (``rows``, ``jb``, ``sb``, ``mb``) for the energy.
    """

    def __init__(self, model, kind, n, columns, block_slots: int = 1 << 16, max_single: int = 1 << 19):
        super().__init__(model, kind, n)
        self.columns = int(columns)
        nm = self.n * self.columns
        self.rows_per_block = self.n if nm <= max_single else min(self.n, max(8, block_slots // self.columns))

    def _key(self):
        return super()._key() + (self.columns, self.rows_per_block)

    def system(self, species, box, idx: np.ndarray) -> dict:
        """System arrays for the neighbour matrix idx (N, M <= columns), fill value N."""
        n = self.n
        idx = np.asarray(idx)
        if idx.shape[1] < self.columns:
            idx = np.concatenate([idx, np.full((n, self.columns - idx.shape[1]), n, idx.dtype)], axis=1)
        species = np.asarray(species, np.int32)
        mask = idx < n
        jj = np.where(mask, idx, 0).astype(np.int32)
        sj = species[jj].astype(np.int8)
        rows, real = row_blocks(n, self.rows_per_block)
        return {
            "species": jnp.asarray(species),
            "box": jnp.asarray(np.asarray(box, float)),
            "jj": jnp.asarray(jj),
            "sj": jnp.asarray(sj),
            "mask": jnp.asarray(mask),
            "rows": jnp.asarray(rows),
            "jb": jnp.asarray(jj[rows]),
            "sb": jnp.asarray(sj[rows]),
            "mb": jnp.asarray(mask[rows] & real[:, :, None]),
        }

    def __call__(self, R, system):
        species, box = system["species"], system["box"]

        def rows_ef(R, r, jb, sb, mb):
            d = range(R.shape[1])
            dR = _min_image_components([R[r, k][:, None] for k in d], [R[:, k][jb] for k in d], box)
            eps, isg = _species_rows(self.eps_m, self.isg_m, species[r], sb, R.dtype)
            s = sum(x * x for x in dR) * isg
            return _rows_energy_forces(dR, s, eps, isg, mb & (s < self.sc2), self.coeffs)

        consts = (system["rows"], system["jb"], system["sb"], system["mb"])
        return _over_blocks(rows_ef, R, consts, self.n)

    def blocks(self, R, system):
        """(N, M, d, d) blocks K of the listed slots (zero on fill slots)."""
        sp, jj, box = system["species"], system["jj"], system["box"]
        R = jnp.asarray(R, jnp.float64).reshape(self.n, self.dim)
        r = R[:, None, :] - R[jj]
        r = minimum_image(r, box)
        eps = jnp.asarray(self.eps_m)[sp[:, None], system["sj"]]
        a = jnp.asarray(self.isg_m)[sp[:, None], system["sj"]]
        return self._pair_blocks(r, eps, a, system["mask"])

    def apply(self, K, v, system):
        """(H v)_i = sum_m K_im (v_i - v_jj[i,m]): each pair is in both rows, no scatter."""
        shape = v.shape
        v = jnp.asarray(v).reshape(self.n, self.dim)
        out = jnp.einsum("imab,imb->ia", K, v[:, None, :] - v[system["jj"]])
        return out.reshape(shape)

    def dense(self, R, system):
        n, d = self.n, self.dim
        K = self.blocks(R, system)
        ii = jnp.broadcast_to(jnp.arange(n)[:, None], system["jj"].shape)
        H = jnp.zeros((n, d, n, d))
        H = H.at[ii, :, system["jj"], :].add(-K)  # fill slots carry K = 0
        idx = jnp.arange(n)
        H = H.at[idx, :, idx, :].add(jnp.sum(K, axis=1))
        return H.reshape(n * d, n * d)


# ----------------------------------------------------------------------------- the energy
@cache
def _programs(kernel):
    """(energy(R, system), energy_forces(R, system)) for a kernel, with analytic forces.

    * ``jax.custom_jvp`` with tangent -F . dR: ``jax.grad`` transposes it (gradient = -F, one
      kernel call, no scatter-add); forward mode through the jnp ops of the kernel gives
      Hessian-vector products and ``jax.jacfwd(jax.grad(E))``. The system carries no tangent
      (its arrays are the data of the list, not variables).
    * ``custom_vmap``: on the CPU a batch of configurations (NEB images, bands, glasses) is
      evaluated one after another (``lax.map``), so each pass works on one image's arrays in cache
      (measured 4x cheaper per image than the vmapped gathers at N=1000). On other backends (GPU)
      the batch stays a plain ``vmap`` of the kernel.
    Cached per kernel (hashable by model and shapes): one pair of programs per shape bucket.
    """
    from jax.custom_batching import custom_vmap

    @custom_vmap
    def energy_forces(R, system):
        return kernel(R, system)

    @energy_forces.def_vmap
    def _one_by_one(axis_size, in_batched, R, system):
        r_b, s_b = in_batched
        s_any = any(jax.tree_util.tree_leaves(s_b))
        if not r_b and not s_any:  # (jvp of a batch with only the tangents batched)
            return kernel(R, system), (False, False)
        if not r_b:
            R = jnp.broadcast_to(R, (axis_size, *R.shape))
        if s_any:
            system = jax.tree_util.tree_map(
                lambda x, b: x if b else jnp.broadcast_to(x, (axis_size, *jnp.shape(x))), system, s_b
            )
        if jax.default_backend() != "cpu":
            # GPU/TPU: the images (and glasses) are the parallel axis, keep them vmapped
            if s_any:
                return jax.vmap(kernel)(R, system), (True, True)
            return jax.vmap(kernel, in_axes=(0, None))(R, system), (True, True)
        # CPU: calling energy_forces (not kernel) inside: an enclosing vmap hits this rule again
        if s_any:
            return jax.lax.map(lambda a: energy_forces(*a), (R, system)), (True, True)
        return jax.lax.map(lambda x: energy_forces(x, system), R), (True, True)

    @jax.custom_jvp
    def energy(R, system):
        return energy_forces(R, system)[0]

    @energy.defjvp
    def _energy_jvp(primals, tangents):
        R, system = primals
        dR = tangents[0]
        E, F = energy_forces(R, system)
        return E, -jnp.sum(F * dR)

    return energy, energy_forces


@partial(jax.jit, static_argnums=0)
def _hess_dense(kernel, system, R):
    return kernel.dense(R, system)


@partial(jax.jit, static_argnums=0)
def _hess_blocks(kernel, system, R):
    return kernel.blocks(R, system)


@partial(jax.jit, static_argnums=0)
def _hess_apply(kernel, system, K, v):
    return kernel.apply(K, v, system)


@partial(jax.jit, static_argnums=0)
def _hess_hvp(kernel, system, R, v):
    return kernel.apply(kernel.blocks(R, system), v, system)


@jax.tree_util.register_pytree_node_class
class PairEnergy:
    """E(R) (eps_AA) of a pair model on a system: ``kernel`` static, ``system`` data (a pytree).

    Callable on positions (N, d); ``energy_forces(R)`` gives (E, F) in one pass;
    ``analytic_hessian()`` the analytic Hessian bound to this system (:mod:`pelsim.pair_hessian`).
    ``n_pairs`` (host attribute) is the number of listed pairs.
    """

    def __init__(self, kernel, system, n_pairs: int | None = None):
        self.kernel = kernel
        self.system = system
        self.n_pairs = n_pairs

    def __call__(self, R):
        return _programs(self.kernel)[0](jnp.asarray(R), self.system)

    def energy_forces(self, R):
        return _programs(self.kernel)[1](jnp.asarray(R), self.system)

    def analytic_hessian(self):
        k, s = self.kernel, self.system
        return PairHessian(
            k.n,
            k.dim,
            int(self.n_pairs or 0),
            partial(_hess_dense, k, s),
            partial(_hess_hvp, k, s),
            partial(_hess_blocks, k, s),
            partial(_hess_apply, k, s),
        )

    def tree_flatten(self):
        return (self.system,), self.kernel

    @classmethod
    def tree_unflatten(cls, kernel, children):
        return cls(kernel, children[0])


# ----------------------------------------------------------------------------- jitted derivatives
# Module-level programs taking the energy as a pytree argument: compiled once per kernel and shape
# (a plain function: once per function object), never once per glass or pair list.
@jax.jit
def _vg(energy, R):
    return jax.value_and_grad(energy)(R)


@jax.jit
def _band_vg(energy, images):
    return jax.vmap(jax.value_and_grad(energy))(images)


@jax.jit
def _hvp(energy, R, v):
    return jax.jvp(jax.grad(energy), (R,), (v,))[1]


@jax.jit
def _hessian(energy, R):
    return jax.hessian(energy)(R)


def value_and_grad(energy, R):
    """(E, dE/dR) at R, jitted once per energy kernel."""
    return _vg(as_pytree(energy), jnp.asarray(R))


def band_value_and_grad(energy, images):
    """(E (P,), dE/dR (P, N, d)) over images (P, N, d), jitted once per energy kernel."""
    return _band_vg(as_pytree(energy), jnp.asarray(images))


def hvp(energy, R, v):
    """Hessian-vector product H(R) v by forward-over-reverse autodiff."""
    return _hvp(as_pytree(energy), jnp.asarray(R), jnp.asarray(v))


def autodiff_hessian(energy, R):
    """jax.hessian(energy)(R) (shape R.shape * 2), jitted once per energy kernel."""
    return _hessian(as_pytree(energy), jnp.asarray(R))
