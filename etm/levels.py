"""Discrete multi-level tunneling systems (simulated TWPs) from their exact spectra.

For each system the exact spectrum of the 3-level Hamiltonian of seed Eq. (6), with one
amplitude per saddle and the Aharonov-Bohm phase phi of Eq. (7)
(:func:`etm.hamiltonian.h_3ls_amplitudes`), is taken from a Hermitian eigensolver
(:func:`spectrum_3ls`); the observables are thermal sums over its levels:

* :func:`free_energy_levels` - F/k_B = -T ln Z [K]; :func:`heat_capacity_levels` - C/k_B =
  (<E^2> - <E>^2)/T^2 (seed Eq. 15 for two levels);
* :func:`moment_levels` - <-dH/dx> = -sum_k p_k dE_k/dx, the magnetic moment M = -dF/dB of
  seed Eq. (93)'s definition for x = B (dE_k/dphi in closed form, see :func:`spectrum_3ls`);
* :func:`susceptibility_levels` - the static linear response of a diagonal (well-basis)
  operator P: resonant (van Vleck) part 2 sum_{k<l} |P_kl|^2 (p_k - p_l)/(E_l - E_k) (seed
  Eq. 32 for two levels) and relaxation (population, Curie) part (<P_kk^2> - <P_kk>^2)/T.
  Their sum is the isothermal susceptibility -d^2F/dF^2.

Dipoles of a TWP (:func:`twp_dipole_overlaps`): the simulated particles carry no charge, so
the three wells get dipoles of equal size p0 at 120 degrees (a planar equilateral loop; the
same p0 convention as a 2LS, whose wells carry +-p0). Averaged over the orientation of the
electric field, |<k|p.e|l>|^2 -> (p0^2/3) (3/2) sum_i w_k(i) w_l(i) for k != l, with w_k(i) =
|<i|k>|^2, and <k|p|k>.<l|p|l> = p0^2 ((3/2) sum_i w_k(i) w_l(i) - 1/2).

Energies and T in K (k_B = 1); the caller converts units (``analysis.bridge``).
"""

from __future__ import annotations

import numpy as np

from etm.hamiltonian import h_3ls_amplitudes


def spectrum_3ls(E, D, phi):
    """Exact levels, eigenvectors and dE_k/dphi of Eq. (6) with three amplitudes.

    E: (..., 3) well energies; D: (..., 3) amplitudes of the saddles (12, 23, 31); phi (...) the
    A-B phase [rad]. Returns (levels (..., 3) ascending, vectors (..., 3, 3) with vectors[..., :, k]
    the k-th eigenvector in the well basis, dlevels_dphi (..., 3)).

    Levels and vectors from a Hermitian eigensolver (numpy ``eigh``). dE_k/dphi from the
    characteristic polynomial lambda^3 - p lambda - q of the traceless part (p = sum D^2 -
    sum_{i<j} e_i e_j, q = det, whose only phi dependence is 2 D12 D23 D31 cos phi):
    dE_k/dphi = -2 D12 D23 D31 sin phi / (3 lambda_k^2 - p). Unlike <k|dH/dphi|k> from the
    eigenvectors it keeps its full relative precision when D12 D23 D31 phi is far below the
    round-off of the levels (simulated TWPs: D ~ 1e-7 K next to asymmetries of tens of K).
    0 at an exact degeneracy (3 lambda^2 = p, where sin phi = 0 as well).
    """
    E = np.asarray(E, float)
    D = np.asarray(D, float)
    phi = np.asarray(phi, float)
    H = np.asarray(h_3ls_amplitudes(E[..., 0], E[..., 1], E[..., 2], D[..., 0], D[..., 1], D[..., 2], phi))
    lev, vec = np.linalg.eigh(H)
    shift = E.mean(axis=-1)
    e = E - shift[..., None]
    p = (D**2).sum(axis=-1) - (e[..., 0] * e[..., 1] + e[..., 1] * e[..., 2] + e[..., 2] * e[..., 0])
    lam = lev - shift[..., None]
    den = 3.0 * lam**2 - p[..., None]
    num = -2.0 * (D[..., 0] * D[..., 1] * D[..., 2] * np.sin(phi))[..., None]
    with np.errstate(divide="ignore", invalid="ignore"):
        dlev = np.where(den != 0, num / np.where(den != 0, den, 1.0), 0.0)
    return lev, vec, dlev


def _populations(T_K, levels_K):
    T = np.asarray(T_K, float)[..., None]
    E = np.asarray(levels_K, float)
    x = -(E - E.min(axis=-1, keepdims=True)) / T
    w = np.exp(x)
    return w / w.sum(axis=-1, keepdims=True)


def free_energy_levels(T_K, levels_K):
    """F/k_B = -T ln sum_k exp(-E_k/T) [K] of one system with levels (..., L) at T (...)."""
    T = np.asarray(T_K, float)
    E = np.asarray(levels_K, float)
    E0 = E.min(axis=-1)
    return E0 - T * np.log(np.exp(-(E - E0[..., None]) / T[..., None]).sum(axis=-1))


def heat_capacity_levels(T_K, levels_K):
    """C/k_B of one multi-level system with levels (..., L) [K] at T (...) from its partition function.

    C/k_B = (<E^2> - <E>^2) / T^2; for two levels this is the Schottky form of seed Eq. 15.
    """
    p = _populations(T_K, levels_K)
    E = np.asarray(levels_K, float)
    E = E - E.min(axis=-1, keepdims=True)
    m1 = (p * E).sum(axis=-1)
    m2 = (p * E**2).sum(axis=-1)
    return (m2 - m1**2) / np.asarray(T_K, float) ** 2


def moment_levels(T_K, levels_K, dlevels_dx):
    """Thermal <-dH/dx> = -sum_k p_k dE_k/dx (= -dF/dx) of one system; same unit as dE/dx."""
    return -(_populations(T_K, levels_K) * np.asarray(dlevels_dx, float)).sum(axis=-1)


def susceptibility_levels(T_K, levels_K, offdiag2, diag_products):
    """Static response [1/K per unit P^2] of a well-basis operator P: (resonant, relaxation).

    offdiag2 (..., L, L): |P_kl|^2 (orientation averaged; the diagonal is ignored);
    diag_products (..., L, L): P_kk P_ll (orientation averaged). Resonant (van Vleck)
    2 sum_{k<l} |P_kl|^2 (p_k - p_l)/(E_l - E_k); relaxation (sum_kl p_k p_l (P_kk P_kk -
    P_kk P_ll))/T = (<P_kk^2> - <P_kk>^2)/T. Levels closer than 1e-12 of their scale count as
    degenerate and give no resonant term (their pair is in the relaxation part's limit).
    """
    p = _populations(T_K, levels_K)
    E = np.asarray(levels_K, float)
    dE = E[..., None, :] - E[..., :, None]  # E_l - E_k at [k, l]
    dp = p[..., :, None] - p[..., None, :]  # p_k - p_l
    scale = np.abs(E).max(axis=-1)[..., None, None] + 1e-300
    ok = np.abs(dE) > 1e-12 * scale
    L = E.shape[-1]
    upper = np.triu(np.ones((L, L), bool), 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(ok & upper, np.asarray(offdiag2) * dp / np.where(ok, dE, 1.0), 0.0)
    resonant = 2.0 * term.sum(axis=(-2, -1))
    g = np.asarray(diag_products)
    mean2 = np.einsum("...k,...kk->...", p, g)
    mean_sq = np.einsum("...k,...kl,...l->...", p, g, p)
    relaxation = (mean2 - mean_sq) / np.asarray(T_K, float)
    return resonant, relaxation


def twp_dipole_overlaps(vectors):
    """Orientation-averaged dipole products of a TWP with three well dipoles p0 at 120 degrees.

    vectors (..., 3, 3) from :func:`spectrum_3ls`. Returns (offdiag2, diag_products), both
    (..., 3, 3) in units of p0^2: |<k|p.e|l>|^2 averaged over the field direction e, and
    <k|p|k>.<l|p|l>/3 (the same average of (p.e)(p.e)), see the module docstring.
    """
    w = np.abs(np.asarray(vectors)) ** 2  # (..., i, k)
    s = np.einsum("...ik,...il->...kl", w, w)  # sum_i w_k(i) w_l(i)
    offdiag2 = 0.5 * s  # (1/3)(3/2) s
    diag_products = (1.5 * s - 0.5) / 3.0
    return offdiag2, diag_products
