"""Tunneling Hamiltonians of the ETM and their spectra (seed Eqs. 1, 5-9, 20, 95).

* :func:`h_2ls` - the 2LS Hamiltonian of Eq. (1), real symmetric 2x2.
* :func:`h_3ls` - the 3LS (ATS) Hamiltonian with the Aharonov-Bohm phase, Eq. (6)
  (Eq. 5 at phi = 0), complex Hermitian 3x3; :func:`h_3ls_amplitudes` the same with one
  amplitude per saddle (simulated TWPs; :mod:`etm.levels` takes its exact spectra).
* :func:`eigenvalues_3ls` - the exact trigonometric (Cardano) eigenvalues of Eq. (8),
  sorted ascending. Eq. (8) as printed is correct for E1 + E2 + E3 = 0, the plane
  the model lives on (checked against ``numpy.linalg.eigvalsh`` in the tests); off that
  plane the trace E1+E2+E3 shifts all levels by (E1+E2+E3)/3, which Eq. (8) omits, so
  the code applies Eq. (8) to the traceless part and adds the shift back.
* :func:`effective_gap` - the effective-2LS gap sqrt(D^2 + (D0 phi)^2) of Eq. (9)
  (after the paper's rescaling; the unrescaled small-D, small-phi limit of the exact
  gap is (2/sqrt 3) sqrt(D0^2 phi^2 + D^2/2), see :func:`gap_3ls_small_limit`).
* :func:`d0phi_effective` - D0*phi [K] from B [T] and D0|q/e|S [K A^2] (Eq. 7), with the
  orientational average phi^2 -> phi^2/3 (default) and the high-field correction of
  Eqs. (20, 95), phi^2 -> phi^2 (1 - phi^2/27), only when B* is given (phi = B/B*).
* :func:`orientation_averaged_gap_numeric` - the full numerical average of the gap over
  the angle between B and the loop normal (phi -> phi cos theta), to compare with the
  phi^2/3 rule.

Energies are in any common unit (kelvin in etm); phi is in radians.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from etm.errors import InputError
from etm.params import ATSParams
from etm.units import FLUX_PHASE_PER_T_K_A2


def h_2ls(Delta, Delta0):
    """2LS Hamiltonian of Eq. (1), -(1/2) [[Delta, Delta0], [Delta0, -Delta]], shape (..., 2, 2)."""
    Delta, Delta0 = jnp.broadcast_arrays(jnp.asarray(Delta, float), jnp.asarray(Delta0, float))
    row0 = jnp.stack([Delta, Delta0], axis=-1)
    row1 = jnp.stack([Delta0, -Delta], axis=-1)
    return -0.5 * jnp.stack([row0, row1], axis=-2)


def eigenvalues_2ls(Delta, Delta0):
    """Eigenvalues -+ (1/2) sqrt(Delta^2 + Delta0^2) of Eq. (1), ascending, shape (..., 2)."""
    half = 0.5 * jnp.hypot(jnp.asarray(Delta, float), jnp.asarray(Delta0, float))
    return jnp.stack([-half, half], axis=-1)


def h_3ls(E1, E2, E3, D0, phi):
    """3LS Hamiltonian with Aharonov-Bohm phase, Eq. (6); complex Hermitian, shape (..., 3, 3).

    Off-diagonal hoppings D0 exp(+-i phi/3) (Peierls phase phi/3 per saddle); phi = 0 gives Eq. (5).
    """
    return h_3ls_amplitudes(E1, E2, E3, D0, D0, D0, phi)


def h_3ls_amplitudes(E1, E2, E3, D12, D23, D31, phi):
    """Eq. (6) with one amplitude per saddle (a simulated TWP): complex Hermitian, shape (..., 3, 3).

    H_12 = D12 e^{i phi/3}, H_23 = D23 e^{i phi/3}, H_31 = D31 e^{i phi/3} (and conjugates), so the
    loop 1 -> 2 -> 3 -> 1 picks up the A-B phase phi of Eq. (7); equal amplitudes give :func:`h_3ls`.
    """
    args = jnp.broadcast_arrays(*(jnp.asarray(v, float) for v in (E1, E2, E3, D12, D23, D31, phi)))
    E1, E2, E3, D12, D23, D31, phi = args
    u = jnp.exp(1j * phi / 3.0)
    a, b, c = D12 * u, D23 * u, D31 * u  # H_12, H_23, H_31
    z = jnp.zeros_like(a)
    rows = [
        jnp.stack([E1 + z, a, jnp.conj(c)], axis=-1),
        jnp.stack([jnp.conj(a), E2 + z, b], axis=-1),
        jnp.stack([c, jnp.conj(b), E3 + z], axis=-1),
    ]
    return jnp.stack(rows, axis=-2)


@jax.jit
def _eigenvalues_3ls(E1, E2, E3, D0, phi):
    shift = (E1 + E2 + E3) / 3.0
    e1, e2, e3 = E1 - shift, E2 - shift, E3 - shift
    sum_ineq = 2.0 * (e1 * e2 + e2 * e3 + e1 * e3)  # sum over i != j of E_i E_j
    s = jnp.sqrt(1.0 - sum_ineq / (6.0 * D0**2))
    cos_theta = (jnp.cos(phi) + e1 * e2 * e3 / (2.0 * D0**3)) / s**3
    theta = jnp.arccos(jnp.clip(cos_theta, -1.0, 1.0))
    ks = jnp.array([0.0, 2.0 * jnp.pi / 3.0, -2.0 * jnp.pi / 3.0])
    ev = 2.0 * D0[..., None] * s[..., None] * jnp.cos(theta[..., None] / 3.0 + ks)
    return jnp.sort(ev, axis=-1) + shift[..., None]


def eigenvalues_3ls(E1, E2, E3, D0, phi):
    """Exact eigenvalues of Eq. (6) from the closed form Eq. (8), ascending, shape (..., 3).

    E_k = 2 D0 s cos(theta/3 + theta_k), s = sqrt(1 - sum_{i!=j} E_i E_j / (6 D0^2)),
    cos theta = (cos phi + E1 E2 E3 / (2 D0^3)) / s^3, theta_k = 0, +-2 pi/3,
    applied to the traceless part of diag(E); D0 must be nonzero (Eq. 11: D0 > 0).
    """
    args = jnp.broadcast_arrays(*(jnp.asarray(v, float) for v in (E1, E2, E3, D0, phi)))
    if np.any(np.asarray(args[3]) == 0.0):
        raise InputError("D0 must be nonzero for the closed-form 3LS eigenvalues (Eq. 8)")
    return _eigenvalues_3ls(*args)


def gap_3ls(E1, E2, E3, D0, phi):
    """Lowest gap E_1 - E_0 of Eq. (6) from the exact eigenvalues (same units as the inputs)."""
    ev = eigenvalues_3ls(E1, E2, E3, D0, phi)
    return ev[..., 1] - ev[..., 0]


def gap_3ls_small_limit(D, D0phi):
    """Unrescaled small-D, small-phi limit of the exact gap: (2/sqrt 3) sqrt(D0^2 phi^2 + D^2/2) (Eq. 9)."""
    return 2.0 / np.sqrt(3.0) * jnp.sqrt(jnp.asarray(D0phi, float) ** 2 + 0.5 * jnp.asarray(D, float) ** 2)


def effective_gap(D, D0phi):
    """Effective-2LS gap sqrt(D^2 + (D0 phi)^2) of Eq. (9) (rescaled form used by every observable)."""
    return jnp.hypot(jnp.asarray(D, float), jnp.asarray(D0phi, float))


def _flags(params_or_flags, orientation_average, B_star):
    if isinstance(params_or_flags, ATSParams):
        return params_or_flags.orientation_average, params_or_flags.B_star
    if isinstance(params_or_flags, dict):
        return (bool(params_or_flags.get("orientation_average", True)), params_or_flags.get("B_star"))
    return orientation_average, B_star


def phase_factor_squared(B_T, orientation_average=True, B_star=None):
    """kappa(B) [K^2 per (K A^2)^2]: (D0 phi_eff)^2 = kappa(B) (D0|q/e|S)^2.

    kappa = (FLUX B)^2 * a * f(B), a = 1/3 with the orientational average (Eq. 19) else 1,
    f = 1 - (B/B*)^2/45 (averaged, Eq. 20) or 1 - (B/B*)^2/27 (Eq. 95, phi = B/B*) when
    B* is given, else 1. Pure jnp (differentiable in B).
    """
    B = jnp.asarray(B_T, float)
    a = 1.0 / 3.0 if orientation_average else 1.0
    kappa = (FLUX_PHASE_PER_T_K_A2 * B) ** 2 * a
    if B_star is not None:
        denom = 45.0 if orientation_average else 27.0
        kappa = kappa * (1.0 - (B / B_star) ** 2 / denom)
    return kappa


def dlog_phase_factor_dB(B_T, orientation_average=True, B_star=None):
    """d ln kappa / dB [1/T] for :func:`phase_factor_squared` (2/B without B*)."""
    B = jnp.asarray(B_T, float)
    out = 2.0 / B
    if B_star is not None:
        denom = 45.0 if orientation_average else 27.0
        x = (B / B_star) ** 2 / denom
        out = out - 2.0 * x / (B * (1.0 - x))
    return out


def check_field(B_T, orientation_average=True, B_star=None):
    """Raise InputError for negative fields or fields beyond the validity of Eq. (20)."""
    B = np.asarray(B_T, float)
    if not np.all(np.isfinite(B)) or np.any(B < 0):
        raise InputError("B must be finite and >= 0 T")
    if B_star is not None:
        # Eq. (20) makes (D0 phi)^2 negative beyond sqrt(45) B* (sqrt(27) B* unaveraged); between
        # sqrt(45/2) B* and that limit the corrected gap already decreases with B (the
        # correction is then outside its own range; allowed, but M_ATS changes sign there).
        limit = B_star * np.sqrt(45.0 if orientation_average else 27.0)
        if np.any(B >= limit):
            raise InputError(
                f"B = {B.max():g} T reaches {limit:.4g} T, where the high-field correction of Eq. (20) "
                "makes (D0 phi)^2 negative (B* too small for this field)"
            )


def d0phi_effective(B_T, D0qS, params_or_flags=None, *, orientation_average=True, B_star=None):
    """Effective D0*phi [K] for field B [T] and D0|q/e|S [K A^2] (Eqs. 7, 19, 20, 95).

    params_or_flags: an :class:`ATSParams` (its ``orientation_average`` and ``B_star`` are
    used), a dict with those keys, or None (then the keyword arguments are used).
    Default: orientational average phi^2 -> phi^2/3, no high-field correction.
    """
    oa, bs = _flags(params_or_flags, orientation_average, B_star)
    check_field(B_T, oa, bs)
    return jnp.asarray(D0qS, float) * jnp.sqrt(phase_factor_squared(B_T, oa, bs))


# Gauss-Legendre nodes on cos(theta) in [0, 1] for the orientational average (the gap is
# even in cos(theta), so [0, 1] suffices).
def orientation_averaged_gap_numeric(D, D0phi, n_nodes=64, high_field_phi=None):
    """Orientational average of the gap over isotropic loop normals [same units as D].

    <sqrt(D^2 + (D0 phi)^2 cos^2 theta)>, cos theta uniform on [0, 1] (Gauss-Legendre with
    ``n_nodes`` nodes). With ``high_field_phi`` (phi itself, radians) the Eq. (95) gap
    sqrt(D^2 + D0^2 phi^2 c^2 (1 - phi^2 c^2/27)) is averaged instead.
    Compare with ``effective_gap(D, D0phi/sqrt(3))`` (the phi^2 -> phi^2/3 rule).
    """
    x, w = np.polynomial.legendre.leggauss(n_nodes)
    c = 0.5 * (x + 1.0)
    w = 0.5 * w
    D = jnp.asarray(D, float)[..., None]
    u2 = (jnp.asarray(D0phi, float)[..., None] * c) ** 2
    if high_field_phi is not None:
        u2 = u2 * (1.0 - (jnp.asarray(high_field_phi, float)[..., None] * c) ** 2 / 27.0)
    return jnp.sum(w * jnp.sqrt(D**2 + u2), axis=-1)
