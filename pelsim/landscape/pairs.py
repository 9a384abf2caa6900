"""Pairs of minima of one glass: static features of every pair, and the physics prefilter.

The TLS search of Khomenko et al. (PRL 124, 225901, 2020) and Ciarella et al. (Nat. Commun. 14,
4229, 2023; pipeline SCiarella/TLS_ML_exploration) considers *all* pairs of the distinct minima a
glass visits in low-temperature MD, not only the consecutive transitions, and describes each pair
by cheap static features before any NEB. This module computes those features for all
M (M - 1) / 2 pairs of M minima, vectorised over pairs (numpy, blocks of pairs so that memory
stays bounded at ~``block`` x N x d floats), and the prefilter of :func:`prefilter`.

Features (one float per pair; names in :data:`FEATURES`):

* ``abs_dE``: |E_j - E_i| (eps); ``E_low``, ``E_high``: the pair's energies relative to the
  lowest minimum of the glass; ``rank_low``, ``rank_high``: their energy ranks / (M - 1);
* ``dr1``, ``dr2``, ``dr3``: the three largest single-particle displacements (sigma, minimum
  image, the mean displacement removed as in :mod:`pelsim.landscape.identity`);
* ``d``: the mass-weighted distance |M^1/2 (R_j - R_i)| (sigma sqrt(m)), ``d2_sum`` its square;
* ``pr``: the participation ratio (sum_k |u_k|^2)^2 / (N sum_k |u_k|^4) of the displacement field;
* ``n_moving``: particles displaced by more than 0.1 sigma;
* ``r12``, ``r13``, ``r23``: distances (minimum image, in minimum i) between the three most
  displaced particles (a compact rearrangement has them close together);
* ``transitions``: how often the MD trajectory jumped directly between the two minima (either
  direction); ``visits_low``, ``visits_high``: how often each was visited (quenches landing there);
* ``dE_per_d2``: |dE| / d^2, the mean slope of a harmonic-like connection (physics suggests it:
  a double well of distance d and asymmetry dE needs curvature >~ 8 |dE| / d^2 to hold two wells).
* ``n_clusters``, ``cluster_share``: the particles displaced by more than ``CLUSTER_CORE`` (0.2
  sigma), joined into clusters when closer than ``CLUSTER_LINK`` (2 sigma, minimum image, in
  minimum i); the number of clusters and the share of sum |u|^2 over those particles held by the
  cluster of the most displaced one. Physics suggests them: a double well is one rearrangement, and
  a pair of minima that differ in several separate places of the box (common at N ~ 1000, where a
  stretch of MD holds several independent events) is a chain of double wells, not one.

Prefilter (:func:`prefilter`): the TLS definition of the catalogue is E < E_thr, E the energy
of the tunneling pair (the lowest state localised in each well of the 1D path profile,
docs/landscape.md). In the two-state picture E = sqrt(Delta^2 + Delta0^2) >= |Delta| with
Delta = dE + (hbar w_b - hbar w_a) / 2, so a TLS needs

    |dE| <= E_thr + |hbar w_b - hbar w_a| / 2 <= E_thr + hbar sqrt(lambda_max) / 2,

hbar w = hbar* sqrt(k_path), k_path the curvature of the mass-weighted path at a minimum, which
is a Rayleigh quotient of the mass-weighted Hessian and so <= its largest eigenvalue lambda_max
(:func:`hessian_bound`; a bound over all minima of the glass). Anharmonicity moves the pair's
levels away from the harmonic zero-point energies by a fraction of hbar w, covered by the
``zero_point_margin`` factor (default 1.5). This bound is physical: it holds for any pair and
any preset (through hbar* and E_thr in reduced units).

Lengths (dr1..dr3, d, r12.., ``MOVING_THRESHOLD``, ``dr1_max``) are in the model's unit of length:
sigma_AA for the KA models, the mean diameter for polydisperse soft spheres (whose pair diameters
sigma_ij span 0.73 to 1.6 of it; a per-pair scale would make the features depend on which particles
move, so the one unit is kept). The empirical ``dr1_max`` below was measured on KA; on the soft
spheres the 105 refined DWPs of docs/published_tls.md (2026-12-03) move by dr1 <= 0.77 mean
diameters (the three TLS among them 0.38, 0.59, 0.76).

No displacement bound follows from that definition: the tunneling splitting Delta0 of a pair
far apart is exponentially small, but E = |Delta| < E_thr still makes it a TLS. The
displacement bound ``dr1_max`` is therefore an empirical one, taken from exhaustively computed
pairs of real glasses (every pair that passes the energy bound, NEB + 1D Schroedinger) with a
margin, and the no-loss test (tests/test_tls_hunt.py) checks on such a set that it drops no TLS.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pelsim.errors import InputError
from pelsim.geometry import minimum_image
from pelsim.landscape.identity import displacement_field

FEATURES = (
    "abs_dE",
    "E_low",
    "E_high",
    "rank_low",
    "rank_high",
    "dr1",
    "dr2",
    "dr3",
    "d",
    "d2_sum",
    "pr",
    "n_moving",
    "r12",
    "r13",
    "r23",
    "transitions",
    "visits_low",
    "visits_high",
    "dE_per_d2",
    "n_clusters",
    "cluster_share",
)

#: largest single-particle displacement (sigma) of a pair of minima considered by the TLS hunt.
#: Empirical: in the KA 3D N = 270 catalogue docs/data/ka_twp_catalogue.h5 (22 DWPs) every DWP has
#: dr1 <= 1.09 sigma and the two lowest splittings (2.0 K, 2.5 K) have dr1 = 0.21, 0.29 sigma;
#: 2.0 sigma leaves a margin of ~2 over the largest single rearrangement seen.
DR1_MAX = 2.0
MOVING_THRESHOLD = 0.1
#: displacement (sigma) of a particle counted in a rearrangement's core, and the distance (sigma)
#: within which two such particles belong to one cluster (features ``n_clusters``, ``cluster_share``)
CLUSTER_CORE = 0.2
CLUSTER_LINK = 2.0


def pair_indices(M: int) -> tuple[np.ndarray, np.ndarray]:
    """(i, j) of all pairs i < j of M minima, in row-major order."""
    if M < 0:
        raise InputError(f"number of minima must be >= 0, got {M}")
    i, j = np.triu_indices(M, 1)
    return i.astype(np.int64), j.astype(np.int64)


def pair_features(
    positions,
    energies,
    box=None,
    masses=None,
    transitions=None,
    visits=None,
    pairs=None,
    block: int = 512,
    skip_clusters=None,
) -> dict:
    """Features of pairs of minima (module docstring), as a dict name -> (P,) float array, plus
    ``i`` and ``j`` (int arrays).

    positions: (M, N, d) minima of one glass; energies: (M,) (eps); box: periodic box (d,) or None;
    masses: (N,) (default 1); transitions: (M, M) counts of observed jumps (symmetrised here);
    visits: (M,) visit counts; pairs: (P, 2) pairs to describe (default all i < j);
    skip_clusters: (P,) bool, pairs whose (slower, ~0.6 ms per pair at N = 1000) cluster features
    the caller already has (they are left 0 here).
    """
    R = np.asarray(positions, dtype=float)
    E = np.asarray(energies, dtype=float)
    if R.ndim != 3 or E.shape != (R.shape[0],):
        raise InputError(
            f"pair_features needs positions (M, N, d) and energies (M,), got {R.shape}, {E.shape}"
        )
    if not (np.all(np.isfinite(R)) and np.all(np.isfinite(E))):
        raise InputError("pair_features: positions or energies contain NaN or inf")
    M, N, dim = R.shape
    if pairs is None:
        I, J = pair_indices(M)
    else:
        pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        if pairs.size and (pairs.min() < 0 or pairs.max() >= M):
            raise InputError(f"pair indices must lie in [0, {M})")
        I, J = pairs[:, 0], pairs[:, 1]
    box = None if box is None else np.asarray(box, dtype=float).reshape(-1)
    w = np.ones(N) if masses is None else np.asarray(masses, dtype=float).reshape(N)
    T = np.zeros((M, M)) if transitions is None else np.asarray(transitions, dtype=float)
    T = T + T.T
    Vn = np.zeros(M) if visits is None else np.asarray(visits, dtype=float)
    order = np.argsort(np.argsort(E, kind="stable"), kind="stable")
    rank = order / max(M - 1, 1)
    P = len(I)
    out = {k: np.zeros(P) for k in FEATURES}
    for a in range(0, P, block):
        ii, jj = I[a : a + block], J[a : a + block]
        u = displacement_field(R[ii], R[jj], box, remove_drift=False)
        u = u - u.mean(axis=1, keepdims=True)  # a uniform translation is not a rearrangement
        u2 = np.sum(u * u, axis=-1)  # (b, N)
        top = np.argsort(-u2, axis=1)[:, :3]
        r = np.sqrt(np.take_along_axis(u2, top, axis=1))
        out["dr1"][a : a + block], out["dr2"][a : a + block], out["dr3"][a : a + block] = r.T
        d2 = np.sum(u2 * w, axis=1)
        out["d2_sum"][a : a + block] = d2
        out["d"][a : a + block] = np.sqrt(d2)
        s2, s4 = np.sum(u2, axis=1), np.sum(u2 * u2, axis=1)
        out["pr"][a : a + block] = np.where(s4 > 0, s2 * s2 / (N * np.maximum(s4, 1e-300)), 0.0)
        out["n_moving"][a : a + block] = np.sum(u2 > MOVING_THRESHOLD**2, axis=1)
        pos = np.take_along_axis(R[ii], top[..., None], axis=1)  # (b, 3, d) in minimum i
        for name, (p, q) in (("r12", (0, 1)), ("r13", (0, 2)), ("r23", (1, 2))):
            sep = pos[:, q] - pos[:, p]
            sep = sep if box is None else minimum_image(sep, box)
            out[name][a : a + block] = np.linalg.norm(sep, axis=-1)
        for k in range(len(ii)):  # per pair: the moving particles are few (tens to hundreds)
            if skip_clusters is None or not skip_clusters[a + k]:
                out["n_clusters"][a + k], out["cluster_share"][a + k] = _clusters(R[ii[k]], u[k], u2[k], box)
    lo = np.where(E[I] <= E[J], I, J)
    hi = np.where(E[I] <= E[J], J, I)
    e0 = E.min() if M else 0.0
    out["abs_dE"] = np.abs(E[J] - E[I])
    out["E_low"], out["E_high"] = E[lo] - e0, E[hi] - e0
    out["rank_low"], out["rank_high"] = rank[lo], rank[hi]
    out["transitions"] = T[I, J]
    out["visits_low"], out["visits_high"] = Vn[lo], Vn[hi]
    out["dE_per_d2"] = out["abs_dE"] / np.maximum(out["d2_sum"], 1e-12)
    out["i"], out["j"] = I, J
    return out


def displacement_clusters(Ra, u, box=None, core: float = CLUSTER_CORE, link: float = CLUSTER_LINK) -> list:
    """Clusters of the particles displaced by more than ``core`` in the field ``u`` (N, d) from
    positions ``Ra``: index arrays, joined when closer than ``link`` (minimum image), largest first.

    Connected components by label propagation on the dense adjacency of the (few) core particles,
    in numpy: scipy.sparse.csgraph's input validation alone cost ~1 ms per pair, which all pairs of
    a glass's minima (10^4) cannot afford."""
    u = np.asarray(u, dtype=float)
    idx = np.flatnonzero(np.sum(u * u, axis=-1) > core * core)
    if len(idx) == 0:
        return []
    X = np.asarray(Ra, dtype=float)[idx]
    sep = X[:, None, :] - X[None, :, :]
    if box is not None:
        sep = minimum_image(sep, np.asarray(box, dtype=float))
    adj = np.einsum("ijk,ijk->ij", sep, sep) < link * link
    k = len(idx)
    lab = np.arange(k)
    while True:  # each label becomes the smallest in its neighbourhood until nothing changes
        new = np.where(adj, lab[None, :], k).min(axis=1)
        if np.array_equal(new, lab):
            break
        lab = new[new]  # pointer jumping: converges in ~log(diameter) sweeps
    _, lab = np.unique(lab, return_inverse=True)
    cl = [idx[lab == c] for c in range(int(lab.max()) + 1)]
    return sorted(cl, key=len, reverse=True)


def _clusters(Ra, u, u2, box) -> tuple[float, float]:
    cl = displacement_clusters(Ra, u, box)
    if not cl:
        return 0.0, 1.0
    top = int(np.argmax(u2))
    w = [float(np.sum(u2[c])) for c in cl]
    mine = next(k for k, c in enumerate(cl) if top in c)
    return float(len(cl)), w[mine] / sum(w)


def feature_matrix(features: dict, names=FEATURES) -> np.ndarray:
    """(P, F) matrix of the named features (the ranker's input)."""
    return np.stack([np.asarray(features[k], float) for k in names], axis=1)


@dataclass(frozen=True)
class PrefilterBounds:
    """Bounds a TLS cannot exceed (module docstring): |dE| <= abs_dE_max (eps), dr1 <= dr1_max
    (sigma, empirical). ``E_thr`` and ``zero_point`` are the two terms of abs_dE_max."""

    abs_dE_max: float
    dr1_max: float
    E_thr: float
    zero_point: float

    def as_dict(self) -> dict:
        return {k: float(getattr(self, k)) for k in ("abs_dE_max", "dr1_max", "E_thr", "zero_point")}


def prefilter_bounds(
    E_thr: float,
    hbar: float,
    lambda_max: float,
    zero_point_margin: float = 1.5,
    dr1_max: float = DR1_MAX,
) -> PrefilterBounds:
    """:class:`PrefilterBounds` for a TLS threshold ``E_thr`` (reduced energy), the preset's reduced
    Planck constant ``hbar`` and the largest mass-weighted Hessian eigenvalue ``lambda_max`` of the
    glass's minima (:func:`hessian_bound`)."""
    for name, v in (("E_thr", E_thr), ("hbar", hbar), ("lambda_max", lambda_max)):
        if not (np.isfinite(v) and v >= 0):
            raise InputError(f"prefilter_bounds: {name} must be finite and >= 0, got {v}")
    if not zero_point_margin >= 1:
        raise InputError(f"zero_point_margin must be >= 1, got {zero_point_margin}")
    zp = zero_point_margin * 0.5 * hbar * float(np.sqrt(lambda_max))
    return PrefilterBounds(float(E_thr + zp), float(dr1_max), float(E_thr), float(zp))


def prefilter(features: dict, bounds: PrefilterBounds) -> np.ndarray:
    """Boolean mask of the pairs that may be TLS under ``bounds``."""
    return (np.asarray(features["abs_dE"]) <= bounds.abs_dE_max) & (
        np.asarray(features["dr1"]) <= bounds.dr1_max
    )


def hessian_bound(energy, positions, masses=None, iters: int = 60, seed: int = 0) -> float:
    """An upper bound on the largest eigenvalue of the mass-weighted Hessian over the minima
    ``positions`` (K, N, d): power iteration with Hessian-vector products (autodiff), and the
    result raised by 5 % (power iteration approaches lambda_max from below)."""
    import jax
    import jax.numpy as jnp

    from pelsim.system import as_pytree, hvp

    energy = as_pytree(energy)
    R = np.asarray(positions, dtype=float)
    if R.ndim == 2:
        R = R[None]
    w = np.ones(R.shape[1]) if masses is None else np.asarray(masses, float).reshape(-1)
    sw = jnp.asarray(1.0 / np.sqrt(w))[:, None]
    rng = np.random.default_rng(seed)

    @jax.jit
    def power(e, x, v):
        def body(_, v):
            v = v / jnp.linalg.norm(v)
            return sw * hvp(e, x, sw * v)

        v = jax.lax.fori_loop(0, iters, body, v)
        v = v / jnp.linalg.norm(v)
        return jnp.vdot(v, sw * hvp(e, x, sw * v))

    lam = 0.0
    for x in R:
        v0 = jnp.asarray(rng.standard_normal(x.shape))
        lam = max(lam, float(power(energy, jnp.asarray(x), v0)))
    return 1.05 * lam


__all__ = [
    "FEATURES",
    "DR1_MAX",
    "pair_indices",
    "pair_features",
    "feature_matrix",
    "PrefilterBounds",
    "prefilter_bounds",
    "prefilter",
    "hessian_bound",
]
