"""Dielectric loss of the anomalous tunneling systems in a magnetic field (seed Eqs. 52-61).

* :func:`tau_ats` - the ATS relaxation time of Eq. (55), **corrected**: Gamma multiplies,
  1/tau = Gamma E^3 (D0^2 phi^2 + 5 D^2/6) coth(E/2T) = Gamma E^3 (E^2 - D^2/6) coth(E/2T),
  with Gamma in (s K^5)^-1 as in Table 7. Eq. (55) as printed divides by Gamma, which with
  Table 7's unit and values (Gamma ~ 5e9) gives tau ~ 1e14 s at 0.1 K; the corrected form
  gives omega tau ~ 0.1-1 at the kHz frequencies and 77-96 mK of Fig. 11 (docs/errata).
  The same inversion applies to tau_max(E) below Eq. (57): tau_min = tanh(E/2T)/(Gamma E^5),
  tau_max = (6/5) tau_min.
* :func:`dtan_delta_ats` - Eq. (61): the reduced (E, D) double integral of Eqs. (59, 60).
  The inner D integral is done in the variable ln(E^2 - D^2) = ln(D0 phi)^2, where the
  measure D dD/(E^2 - D^2) is flat; this form is also finite at B = 0 (ln(D0max/D0min)).
* :func:`dtan_delta_ats_from_systems` - Eq. (53-54) summed over a discrete ATS ensemble.
* :func:`ats_tau_distribution` - Eq. (57), P(E, tau) at B = 0 (for checks).

The direct route (tests): Eq. (54) integrated over (D, D0) with E eliminated by the delta.
Units: T, E, D in K; B in T; omega in rad/s; Gamma in 1/(s K^5); amplitude = pi x_ATS P*
p1^2/(eps_r eps0) [K] as in Table 7 (see :mod:`etm.dielectric`).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from etm.dielectric import as_positive, ats_u
from etm.errors import InputError
from etm.hamiltonian import d0phi_effective
from etm.params import ATSParams
from etm.quadrature import map_nodes, sech2


def tau_ats(E_K, D_K, T_K, Gamma_per_s_K5):
    """ATS relaxation time tau [s] of Eq. (55), corrected (Gamma in the numerator).

    1/tau = Gamma E^3 (E^2 - D^2/6) coth(E/2T); E >= D in K, T in K, Gamma in 1/(s K^5).
    """
    E = jnp.asarray(E_K, float)
    D = jnp.asarray(D_K, float)
    T = jnp.asarray(T_K, float)
    return jnp.tanh(E / (2.0 * T)) / (Gamma_per_s_K5 * E**3 * (E**2 - D**2 / 6.0))


def ats_tau_distribution(E_K, tau_s, T_K, Gamma_per_s_K5, Pstar=1.0):
    """P(E, tau) of Eq. (57) at B = 0: pi P* tau_min / (5 E (tau - tau_min)(tau_max - tau)).

    Support tau_min < tau < tau_max with tau_min = tanh(E/2T)/(Gamma E^5) and
    tau_max = (6/5) tau_min (corrected Eq. 55); zero outside. Not normalisable (log-divergent
    at both ends, as the paper remarks: "very singular at B = 0").
    """
    E = jnp.asarray(E_K, float)
    tau = jnp.asarray(tau_s, float)
    tmin = jnp.tanh(E / (2.0 * jnp.asarray(T_K, float))) / (Gamma_per_s_K5 * E**5)
    tmax = 1.2 * tmin
    inside = (tau > tmin) & (tau < tmax)
    val = math.pi * Pstar * tmin / (5.0 * E * (tau - tmin) * (tmax - tau))
    return jnp.where(inside, val, 0.0)


def _loss_kernel(E, D, T, Gamma, omega):
    wt = omega * tau_ats(E, D, T, Gamma)
    return wt / (1.0 + wt**2)


@jax.jit
def _dtan_reduced(T, u1, u2, c, Dmin, q0min, q0max, Gamma, omega):
    """Eq. (60) bracket: int dE/E sech^2(E/2T) int D dD/(E^2-D^2) g(omega tau) (dimensionless).

    Inner variable t = ln D0 (u = c D0 = sqrt(E^2 - D^2)), D0 in [q0min, min(q0max, sqrt(E^2-Dmin^2)/c)];
    at c = 0 (B = 0) D = E over the whole D0 range.
    """
    T = T[..., None]
    Ec1 = jnp.sqrt(Dmin**2 + u1**2)
    # split the E range at E_c2, where the inner D0 range has its kink
    Ehi = Ec1 + 60.0 * T[..., 0]
    Ec2 = jnp.minimum(jnp.sqrt(Dmin**2 + u2**2), Ehi)
    s1, ws1 = map_nodes(jnp.log(Ec1), jnp.log(Ec2), 48)
    s2, ws2 = map_nodes(jnp.log(Ec2), jnp.log(Ehi), 64)
    s = jnp.concatenate([s1, s2], axis=-1)
    ws = jnp.concatenate([ws1, ws2], axis=-1)
    E = jnp.exp(s)
    cs = jnp.where(c > 0, c, 1.0)[..., None]
    q_hi = jnp.where(
        c[..., None] > 0, jnp.minimum(q0max, jnp.sqrt(jnp.maximum(E**2 - Dmin**2, 0.0)) / cs), q0max
    )
    q_hi = jnp.maximum(q_hi, q0min)
    t, wt = map_nodes(jnp.full_like(q_hi, 1.0) * jnp.log(q0min), jnp.log(q_hi), 24)
    u = c[..., None, None] * jnp.exp(t)
    D = jnp.sqrt(jnp.maximum(E[..., None] ** 2 - u**2, Dmin**2))
    g = _loss_kernel(E[..., None], D, T[..., None], Gamma, omega)
    inner = jnp.sum(wt * g, axis=-1)  # D dD/(E^2-D^2) = -d ln u = -d ln D0
    return jnp.sum(ws * sech2(E / (2.0 * T)) * inner, axis=-1)  # dE/E = d ln E


def dtan_delta_ats(T_K, B_T, params: ATSParams, amplitude, Gamma, omega, relative_to_zero_field=False):
    """ATS relaxation loss Delta tan delta(T, B) of Eq. (61) (with the corrected Eq. 55).

    amplitude/(4T) * [Eq. (60) bracket]; amplitude = pi x_ATS P* p1^2/(eps_r eps0) [K]
    (Table 7), Gamma [1/(s K^5)], omega [rad/s], T [K] and B [T] broadcast.
    ``relative_to_zero_field`` returns tan delta(T, B) - tan delta(T, 0) instead.
    The orientational average is the phi^2 -> phi^2/3 rule of params.
    """
    T = as_positive(T_K, "T")
    as_positive(Gamma, "Gamma")
    as_positive(omega, "omega")
    B = np.asarray(B_T, float)
    T, B = np.broadcast_arrays(T, B)
    u1, u2 = ats_u(B, params)
    c = u1 / params.D0min_qS
    val = _dtan_reduced(
        jnp.asarray(T), u1, u2, c, params.D_min, params.D0min_qS, params.D0max_qS, float(Gamma), float(omega)
    )
    out = amplitude / (4.0 * jnp.asarray(T)) * val
    if relative_to_zero_field:
        out = out - dtan_delta_ats(T, np.zeros_like(B), params, amplitude, Gamma, omega)
    return out


def dtan_delta_ats_from_systems(T_K, B_T, D_K, D0qS_K_A2, weights_K, params: ATSParams, Gamma, omega):
    """Relaxation loss of a discrete ATS ensemble, Eqs. (53, 54) summed (direct route).

    sum_i w_i D_i^2/(4 T E_i^2) sech^2(E_i/2T) omega tau_i/(1 + omega^2 tau_i^2), with
    E_i = sqrt(D_i^2 + (D0_i phi)^2), tau_i from :func:`tau_ats`; w_i = x p1^2/(eps0 eps_r)
    per system [K]. For the continuum use w = amplitude dD dD0/(D D0), i.e. the
    weights of :func:`etm.dielectric.ats_quadrature_systems` divided by 2 (tests).
    """
    T = as_positive(T_K, "T")
    B = np.asarray(B_T, float)
    T, B = np.broadcast_arrays(T, B)
    D = jnp.asarray(as_positive(D_K, "D"))
    q = jnp.asarray(as_positive(D0qS_K_A2, "D0qS"))
    if D.shape != q.shape:
        raise InputError("D and D0qS must have the same shape")
    w = jnp.asarray(weights_K, float)
    u = d0phi_effective(B[..., None], q, params)
    E = jnp.sqrt(D**2 + u**2)
    Tn = jnp.asarray(T)[..., None]
    g = _loss_kernel(E, D, Tn, Gamma, omega)
    return jnp.sum(w * D**2 / (4.0 * Tn * E**2) * sech2(E / (2.0 * Tn)) * g, axis=-1)
