"""Parameter distributions of the tunneling model and their samplers (seed Eqs. 2 and 10).

* STM, Eq. (2): P(Delta, Delta0) = P-bar / Delta0 - Delta uniform on [-Delta_max, Delta_max],
  Delta0 log-uniform on [Delta0_min, Delta0_max].
* ATS, Eq. (10): P*(E1, E2, E3; D0) = P* / (D0 (E1^2 + E2^2 + E3^2)) on the plane
  E1 + E2 + E3 = 0. In polar coordinates on that plane (radius D = sqrt(E1^2+E2^2+E3^2),
  area element D dD dpsi) the density is proportional to dD/D dpsi dD0/D0: D log-uniform on
  [D_min, D_max], psi uniform on [0, 2 pi), D0 log-uniform on [D0_min, D0_max]. The total
  weight is 2 pi P* ln(D_max/D_min) ln(D0_max/D0_min) (:func:`ats_total_weight`), which is
  the normalisation that makes a histogram of the samples comparable with g_ATS (Eq. 13).

Samplers take a ``numpy.random.Generator``; energies in any unit (kelvin in etm).
"""

from __future__ import annotations

import numpy as np

from etm.errors import InputError

#: orthonormal basis of the plane E1 + E2 + E3 = 0
PLANE_BASIS = np.array([[1.0, -1.0, 0.0], [1.0, 1.0, -2.0]]) / np.array([[np.sqrt(2.0)], [np.sqrt(6.0)]])


def _check_range(name, lo, hi):
    if not (0 < lo < hi < np.inf):
        raise InputError(f"{name} cutoffs must satisfy 0 < min < max < inf, got {lo}, {hi}")


def log_uniform(rng: np.random.Generator, lo, hi, size):
    """Samples with density proportional to 1/x on [lo, hi]."""
    _check_range("log-uniform", lo, hi)
    return np.exp(rng.uniform(np.log(lo), np.log(hi), size))


def sample_stm(rng: np.random.Generator, n, Delta_max, Delta0_min, Delta0_max):
    """n draws (Delta, Delta0) from Eq. (2) with cutoffs; returns two arrays of shape (n,)."""
    if not (Delta_max > 0):
        raise InputError(f"Delta_max must be > 0, got {Delta_max}")
    Delta = rng.uniform(-Delta_max, Delta_max, n)
    Delta0 = log_uniform(rng, Delta0_min, Delta0_max, n)
    return Delta, Delta0


def sample_ats(rng: np.random.Generator, n, D_min, D_max, D0_min, D0_max):
    """n draws (E1, E2, E3, D0) from Eq. (10) with cutoffs; returns (E of shape (n, 3), D0 of shape (n,)).

    E lies on the plane sum_i E_i = 0 with |E| = D log-uniform in [D_min, D_max] and an
    isotropic in-plane angle; D0 log-uniform in [D0_min, D0_max].
    """
    D = log_uniform(rng, D_min, D_max, n)
    psi = rng.uniform(0.0, 2.0 * np.pi, n)
    E = D[:, None] * (np.cos(psi)[:, None] * PLANE_BASIS[0] + np.sin(psi)[:, None] * PLANE_BASIS[1])
    D0 = log_uniform(rng, D0_min, D0_max, n)
    return E, D0


def stm_total_weight(P_bar, Delta_max, Delta0_min, Delta0_max):
    """Number of 2LS (per unit of the P-bar normalisation) inside the Eq. (2) cutoffs."""
    return P_bar * 2.0 * Delta_max * np.log(Delta0_max / Delta0_min)


def ats_total_weight(P_star, D_min, D_max, D0_min, D0_max):
    """Number of ATS inside the Eq. (10) cutoffs: 2 pi P* ln(D_max/D_min) ln(D0_max/D0_min)."""
    return 2.0 * np.pi * P_star * np.log(D_max / D_min) * np.log(D0_max / D0_min)
