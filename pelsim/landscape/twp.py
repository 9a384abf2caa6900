"""DWP geometry and the TWP (three-well) 3-level Hamiltonian of seed Eq. 5.

DWP geometry between two minima (reduced units):
- per-particle minimum-image displacement dr_i (mean translation removed);
- d = sqrt(sum_i m_i |dr_i|^2) (mass-weighted distance, the d of seed Eq. 3 with m = 1);
- m_eff = sum_i m_i |dr_i|^2 / sum_i |dr_i|^2 (so that m_eff d_real^2 = d^2);
- participation ratio (sum_i |dr_i|^2)^2 / (N sum_i |dr_i|^4) and the number of
  particles moving more than ``MOVING_THRESHOLD`` sigma.

TWP (a triangle of minima 1, 2, 3 pairwise connected by verified saddles):
- E_k = E_min,k + hbar omega_k / 2 (zero-point energy along the paths leaving k,
  averaged over the two DWPs of the triangle that touch k), relative to the lowest;
- D0_kl = Delta0_kl / 2 (the off-diagonal element of the 2LS Hamiltonian
  (1/2)[[Delta, Delta0], [Delta0, -Delta]] of DWP kl);
- H = [[E1, D12, D31], [D12, E2, D23], [D31, D23, E3]] (seed Eq. 5 with three
  different amplitudes; equal D0 recovers it exactly, the sign convention of
  ``etm.hamiltonian.h_3ls`` at phi = 0); spectrum by numpy.linalg.eigvalsh (general
  D0_kl, which etm's closed form Eq. 8 does not cover; tests compare the two at equal D0);
- loop area: for each particle the oriented real-space area of its triangle
  A_i = (1/2)(r_2 - r_1) x (r_3 - r_1) (a scalar in 2D); ``loop_area`` = |sum_i A_i|
  (what couples to a uniform field), ``loop_area_particle_max`` = max_i |A_i|, and
  ``loop_area_config`` the area of the mass-weighted configuration-space triangle.
"""

from __future__ import annotations

import numpy as np

from pelsim.landscape.identity import displacement_field

MOVING_THRESHOLD = 0.1  # sigma: a particle "moves" in a DWP when |dr_i| exceeds this


def dwp_geometry(Ra, Rb, box=None, masses=None) -> dict:
    """d, m_eff, participation ratio, n_moving, max displacement between two minima."""
    dr = displacement_field(Ra, Rb, box)
    dr = dr.reshape(-1, dr.shape[-1])
    m = np.ones(dr.shape[0]) if masses is None else np.asarray(masses, dtype=float)
    r2 = np.sum(dr * dr, axis=1)
    s2 = float(r2.sum())
    d = float(np.sqrt(np.sum(m * r2)))
    return {
        "d": d,
        "d_real": float(np.sqrt(s2)),
        "m_eff": float(np.sum(m * r2) / s2) if s2 > 0 else float("nan"),
        "participation_ratio": float(s2**2 / (dr.shape[0] * np.sum(r2 * r2))) if s2 > 0 else float("nan"),
        "n_moving": int(np.sum(np.sqrt(r2) > MOVING_THRESHOLD)),
        "max_displacement": float(np.sqrt(r2.max())),
    }


def loop_areas(R1, R2, R3, box=None, masses=None) -> dict:
    """Oriented areas of the loop 1 -> 2 -> 3 -> 1 (see module docstring)."""
    u = displacement_field(R1, R2, box, remove_drift=True)
    v = displacement_field(R1, R3, box, remove_drift=True)
    u = u.reshape(-1, u.shape[-1])
    v = v.reshape(-1, v.shape[-1])
    if u.shape[1] == 2:
        a = 0.5 * (u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0])
        tot = float(abs(a.sum()))
        amax = float(np.abs(a).max())
    else:
        a = 0.5 * np.cross(u, v)
        tot = float(np.linalg.norm(a.sum(axis=0)))
        amax = float(np.linalg.norm(a, axis=1).max())
    w = np.ones(u.shape[0]) if masses is None else np.asarray(masses, dtype=float)
    uq = (u * np.sqrt(w)[:, None]).ravel()
    vq = (v * np.sqrt(w)[:, None]).ravel()
    cfg = 0.5 * float(np.sqrt(max(uq @ uq * (vq @ vq) - (uq @ vq) ** 2, 0.0)))
    return {"loop_area": tot, "loop_area_particle_max": amax, "loop_area_config": cfg}


def three_level_hamiltonian(E, D0) -> np.ndarray:
    """H of seed Eq. 5 with amplitudes D0 = (D12, D23, D31) on the off-diagonal."""
    E1, E2, E3 = E
    D12, D23, D31 = D0
    return np.array([[E1, D12, D31], [D12, E2, D23], [D31, D23, E3]], dtype=float)


def three_level_spectrum(E, D0) -> np.ndarray:
    """Ascending eigenvalues of :func:`three_level_hamiltonian`."""
    return np.linalg.eigvalsh(three_level_hamiltonian(E, D0))


def twp_parameters(E_min, hbar_omega, Delta0, positions, box=None, masses=None) -> dict:
    """TWP record from the three minima energies E_min (3,), their zero-point energies
    hbar_omega (3,) (one per minimum), the three DWP amplitudes Delta0 (12, 23, 31) and
    the three minima positions."""
    E = np.asarray(E_min, dtype=float) + 0.5 * np.asarray(hbar_omega, dtype=float)
    E = E - E.min()
    D0 = 0.5 * np.asarray(Delta0, dtype=float)
    out = {"E": E, "D0": D0, "spectrum": three_level_spectrum(E, D0)}
    out.update(loop_areas(*positions, box=box, masses=masses))
    return out
