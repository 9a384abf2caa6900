"""Magnetization of a glass: paramagnetic ions and ATS tunneling currents (seed Eqs. 90-97).

* :func:`m_brillouin` - Eqs. (90-91), M_J = n_J g mu_B J B_J(z), z = g mu_B J B/(k_B T);
  its low-field limit is the Curie law Eq. (92) (:func:`curie_susceptibility`).
* :func:`m_ats` - Eqs. (93-94) with the prefactor corrected: the model's
  M_ATS = -dF/dB (F the free energy of the same ATS distribution) is
      M_ATS = (pi P* n_ATS k_B / (2 B)) { int_{Ec1}^{Ec2} dE tanh(E/2T) ln((E^2 - u1^2)/D_min^2)
                                        + int_{Ec2}^inf dE tanh(E/2T) ln((E^2 - u1^2)/(E^2 - u2^2)) },
  i.e. half the printed Eq. (93) (and Eq. 94: pi P* n_ATS k_B T / B instead of 2 pi ...);
  see docs/errata.md. The code evaluates it as
      M_ATS = (pi Pn k_B / 2) (d ln kappa/dB) [ A_0 + A_T ],
      A_0 = [u asinh(u/D_min) - sqrt(u^2 + D_min^2)]_{u1}^{u2}   (the T = 0 part, closed form),
      A_T = int dD/D dD0/D0 (u^2/E) (tanh(E/2T) - 1)            (thermal part, Gauss-Legendre in ln D, ln D0),
  where (D0 phi)^2 = kappa(B) (D0|q/e|S)^2 (kappa = (2 pi e B/h)^2/3 with the orientational average;
  d ln kappa/dB = 2/B without B*). With B* the high-field gap of Eqs. (20, 95) is used
  consistently in the energy and in its B-derivative.
* :func:`params_at_temperature` - the temperature-dependent parameters of Eqs. (96-97).
* :func:`m_ats_orientation_numeric` - full numerical orientational average instead of phi^2/3.
* :func:`m_total` - Fe2+ + Fe3+ + ATS + the constant diamagnetic (Larmor) offset of Tables 10, 11, 14.

Units: T in K, B in T, concentrations in 1/g, M in A m^2/g (= J/(T g)).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from etm.errors import InputError
from etm.hamiltonian import check_field, dlog_phase_factor_dB, phase_factor_squared
from etm.heat_capacity import E_CAP_OVER_T, broadcast_TB, check_J, check_temperature
from etm.params import ATSParams
from etm.quadrature import integrate_ats_log
from etm.units import K_B, MU_B

N_S_DEFAULT = 48
N_T_DEFAULT = 20


def _langevin_minus(x):
    """coth(x) - 1/x, accurate near 0 (odd in x)."""
    x = jnp.asarray(x, float)
    small = jnp.abs(x) < 1e-3
    xs = jnp.where(small, x, 1.0)
    xl = jnp.where(small, 1.0, x)
    return jnp.where(small, xs / 3.0 - xs**3 / 45.0 + 2.0 * xs**5 / 945.0, 1.0 / jnp.tanh(xl) - 1.0 / xl)


def brillouin(J, z):
    """Brillouin function B_J(z) of Eq. (91), stable for small and large |z|."""
    a = (2.0 * J + 1.0) / (2.0 * J)
    b = 1.0 / (2.0 * J)
    return a * _langevin_minus(a * z) - b * _langevin_minus(b * z)


def m_brillouin(T_K, B_T, n_per_g, J, g=2.0):
    """Paramagnetic-ion magnetization, Eqs. (90-91) [A m^2/g]: n g mu_B J B_J(g mu_B J B/(k_B T))."""
    check_J(J, g)
    T, B = broadcast_TB(check_temperature(T_K), B_T)
    if not np.all(np.isfinite(B)):
        raise InputError("B must be finite")
    z = g * MU_B * J * B / (K_B * T)
    return np.asarray(n_per_g * g * MU_B * J * brillouin(J, z))


def curie_susceptibility(T_K, n_per_g, J, g=2.0):
    """Curie law, Eq. (92): M/B = n g^2 mu_B^2 J(J+1) / (3 k_B T) [A m^2/(g T)]."""
    T = check_temperature(T_K)
    return n_per_g * g**2 * MU_B**2 * J * (J + 1) / (3.0 * K_B * T)


@partial(jax.jit, static_argnames=("n_s", "n_t"))
def m_ats_reduced(T, D_min, D0min, D0max, c, n_s=N_S_DEFAULT, n_t=N_T_DEFAULT):
    """A_0 + A_T [K]: int dD/D dD0/D0 (u^2/E) tanh(E/2T), u = c D0 (so M = (pi Pn k_B/2) dlnkappa/dB * this).

    All arguments broadcast; T, D_min in K, c D0 in K. Pure jnp.
    """
    T, D_min, D0min, D0max, c = jnp.broadcast_arrays(
        *(jnp.asarray(v, float) for v in (T, D_min, D0min, D0max, c))
    )
    u1, u2 = c * D0min, c * D0max

    def prim(u):
        return u * jnp.arcsinh(u / D_min) - jnp.sqrt(u**2 + D_min**2)

    a0 = prim(u2) - prim(u1)
    E_hi = jnp.sqrt(D_min**2 + u1**2) + E_CAP_OVER_T * T
    Tb = T[..., None]

    def integrand(E, D, u):
        # tanh(x) - 1 = -2 / (exp(2x) + 1), x = E/2T
        return -(u**2 / E) * 2.0 * jax.nn.sigmoid(-E / Tb)

    aT = integrate_ats_log(integrand, D_min, D0min, D0max, c, E_hi, n_s, n_t)
    return a0 + aT


def params_at_temperature(T_K, params0: ATSParams, E0_K, T0_K):
    """Temperature-dependent ATS parameters of Eqs. (96-97) [arrays broadcast like T].

    With N(T) = N0 exp(-E0/T) coherent tunnelers: D_min ~ N, D0|q/e|S ~ N^3 (Eq. 97), and
    B* ~ 1/(|q| S) ~ N^-2 (our reading of "a similar one for B*, containing two parameters
    proportional to N(T)": phi = B/B* with q, S each ~ N). Parameters of ``params0`` hold at T0.
    Returns a dict with D_min, D0min_qS, D0max_qS, B_star (None if params0 has none).
    """
    T = check_temperature(T_K)
    if T0_K is None or not (T0_K > 0):
        raise InputError(f"T0 must be > 0 K, got {T0_K}")
    r = np.exp(-E0_K / T + E0_K / T0_K)  # N(T)/N(T0)
    out = {
        "D_min": params0.D_min * r,
        "D0min_qS": params0.D0min_qS * r**3,
        "D0max_qS": params0.D0max_qS * r**3,
        "B_star": None if params0.B_star is None else params0.B_star / r**2,
    }
    return out


def _m_ats_arrays(T, B, D_min, D0min, D0max, orientation_average, B_star, Pn, n_s, n_t):
    check_field(B, orientation_average, B_star)
    T, B = broadcast_TB(T, B)
    Bs = np.where(B > 0, B, 1.0)
    c = np.sqrt(np.asarray(phase_factor_squared(Bs, orientation_average, B_star)))
    dlk = np.asarray(dlog_phase_factor_dB(Bs, orientation_average, B_star))
    red = np.asarray(m_ats_reduced(T, D_min, D0min, D0max, c, n_s=n_s, n_t=n_t))
    return np.where(B > 0, 0.5 * np.pi * Pn * K_B * dlk * red, 0.0)


def m_ats(T_K, B_T, params: ATSParams, Pn=1.0, *, n_s=N_S_DEFAULT, n_t=N_T_DEFAULT):
    """ATS magnetization M_ATS(T, B) [A m^2/g] (Eqs. 93-94 with the corrected prefactor, = -dF/dB).

    Broadcasts over T_K and B_T; Pn = P* n_ATS [1/g]; M(B=0) = 0 and M is odd in B
    (negative B gives -M(|B|)).
    """
    T = check_temperature(T_K)
    B = np.asarray(B_T, float)
    sign = np.sign(B)
    out = _m_ats_arrays(
        T,
        np.abs(B),
        params.D_min,
        params.D0min_qS,
        params.D0max_qS,
        params.orientation_average,
        params.B_star,
        Pn,
        n_s,
        n_t,
    )
    return sign * out


def m_ats_temperature_dependent(T_K, B_T, params0: ATSParams, Pn, E0_K, T0_K):
    """M_ATS with the temperature-dependent parameters of Eqs. (96-97) [A m^2/g]."""
    T = check_temperature(T_K)
    B = np.asarray(B_T, float)
    T, B = broadcast_TB(T, B)
    p = params_at_temperature(T, params0, E0_K, T0_K)
    sign = np.sign(B)
    out = _m_ats_arrays(
        T,
        np.abs(B),
        p["D_min"],
        p["D0min_qS"],
        p["D0max_qS"],
        params0.orientation_average,
        p["B_star"],
        Pn,
        N_S_DEFAULT,
        N_T_DEFAULT,
    )
    return sign * out


def m_total(
    T_K,
    B_T,
    params: ATSParams | None = None,
    Pn=0.0,
    n_fe2=0.0,
    n_fe3=0.0,
    g=2.0,
    offset_Am2_per_g=0.0,
    E0_K=None,
    T0_K=None,
):
    """Total M(T, B) = M_ATS + M_Fe2+ (J=2) + M_Fe3+ (J=5/2) + diamagnetic offset [A m^2/g].

    With E0_K and T0_K the ATS parameters follow Eqs. (96-97); the offset is the constant
    residual Larmor term of Tables 10, 11, 14.
    """
    T = check_temperature(T_K)
    B = np.asarray(B_T, float)
    T, B = broadcast_TB(T, B)
    out = np.full(T.shape, float(offset_Am2_per_g))
    if params is not None and Pn != 0.0:
        if E0_K is not None:
            out = out + m_ats_temperature_dependent(T, B, params, Pn, E0_K, T0_K)
        else:
            out = out + m_ats(T, B, params, Pn)
    if n_fe2:
        out = out + m_brillouin(T, B, n_fe2, 2.0, g)
    if n_fe3:
        out = out + m_brillouin(T, B, n_fe3, 2.5, g)
    return out


def m_ats_orientation_numeric(T_K, B_T, params: ATSParams, Pn=1.0, n_nodes=24):
    """M_ATS with the full numerical orientational average instead of phi^2 -> phi^2/3 [A m^2/g].

    F_avg(B) = int_0^1 dc F(B c) (phi -> phi cos theta, c = cos theta, isotropic loop normals),
    hence M_avg(B) = -dF_avg/dB = int_0^1 dc c M_unaveraged(B c) (Gauss-Legendre in c).
    """
    from dataclasses import replace

    from etm.quadrature import gauss_legendre_unit

    T, B = broadcast_TB(check_temperature(T_K), B_T)
    x, w = gauss_legendre_unit(n_nodes)
    p1 = replace(params, orientation_average=False)
    vals = m_ats(T[..., None], B[..., None] * x, p1, Pn)
    return np.sum(w * x * vals, axis=-1)
