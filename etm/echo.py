"""Two-pulse polarization echo of tunneling systems in a magnetic field (seed Eqs. 62-88).

* Single system (Eqs. 66-67, 73, 77): :func:`echo_sc` gives the pulse-area functions S and
  C, :func:`echo_single_closed_form` the complex echo coherence of one effective 2LS and
  :func:`echo_single_bloch` the same from a direct numerical solution of the rotating-frame
  Schroedinger equation of the pulse sequence (matrix exponentials, echo term isolated by
  cycling the free-precession phase). The check fixes C of Eq. (77) (and the bracket of
  Eq. 67): C = -2 (omega0 - omega)/Omega_G sin^2(theta1/2) sin^2(theta2/2), with the
  generalised Rabi frequency Omega_G, not Omega_R as printed (Eq. 63 has Omega_G).
* ATS ensemble (Eqs. 72, 75-79): :func:`echo_integral_ats` is the reduced (E, D) double
  integral of Eq. (76) with Omega_R of Eq. (72), the damping w = c_ATS T + 1/tau(E, D)
  of Eqs. (78, 79) and tau from the corrected Eq. (55) (:func:`etm.loss.tau_ats`);
  :func:`echo_amplitude` is the amplitude relative to its high-field value (Figs. 16, 17):
  A(B)/A(inf) = 1 - ats_ratio J(B)/J(0), ats_ratio = 1 - A(0)/A(inf).
* Integrated echo (Eqs. 80-82): :func:`integrated_echo_integral_ats`, relative form
  :func:`integrated_echo_amplitude` (the Lorentzian 2w/(w^2 + z^2) and the
  cos/sin(2 z tau12) of Eq. 80); ``strong_pulse=True`` gives the p1 F0 -> inf form of
  Eq. (82) (checked against Eq. 80 to 1e-6 where Omega_R >> w).
* Dependence on tau12 at B = 0 (Eqs. 84-88): :func:`echo_vs_tau12`, the corrected closed
  form of Eq. (87) built on the corrected Eq. (86) (see docs/errata.md):
  int_0^b cos x/(x^2+a^2) dx = pi e^{+a}/(2a) + Im[e^{-a} Ei(a+ib) - e^{a} Ei(-a+ib)]/(2a)
  (principal-branch Ei); :func:`lorentzian_cos_integral` evaluates it stably through E1.
* Discrete ensembles: :func:`echo_integral_from_systems` takes any (E, Rabi frequency,
  damping rate, weight) set; :func:`ats_echo_systems` and :func:`two_level_echo_systems`
  build those from (D, D0|q/e|S) or (Delta, Delta0) lists (simulated tunneling systems).

Units: E, D, T in K; B in T; frequencies in Hz (freq_Hz) or rad/s (names say which);
times in s; p1 F0 in D kV/m (Table 8); Gamma in 1/(s K^5); c_ATS in 1/(s K). The echo
integrals J are in rad/s (Omega^4/Omega^3) times dimensionless measures; only ratios are
observable (the paper's prefactor A0 d x P*/(eps0 eps_r F0) is unknown).
"""

from __future__ import annotations

import math
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import scipy.special as sp

from etm.dielectric import as_positive, ats_u
from etm.errors import InputError
from etm.hamiltonian import d0phi_effective
from etm.loss import tau_ats
from etm.params import ATSParams
from etm.quadrature import gauss_legendre_unit
from etm.units import HBAR, K_B

DEBYE_C_M = 3.33564e-30  # C m
#: Rabi angular frequency [rad/s] per (D kV/m) of p F0
RABI_PER_D_KV_M = DEBYE_C_M * 1e3 / HBAR
#: angular frequency [rad/s] per kelvin of energy
OMEGA_PER_K = K_B / HBAR

#: The one set of echo defaults (keyword names of :func:`echo_amplitude`), used when neither a
#: flag nor a preset gives a value: the ``etm echo`` command, ``etm fit echo`` and the
#: campaign report (:mod:`analysis.bridge`, which states its own two additions).
ECHO_DEFAULTS = {
    "T_K": 0.012,
    "freq_Hz": 1e9,
    "tau1_s": 1e-7,
    "tau2_s": 2e-7,
    "tau12_s": 2e-6,
    "Gamma": 0.0,
    "c_ats": 0.0,
    "tan_omega_dtau": 0.0,
    "ats_ratio": 0.5,
}


# ----------------------------------------------------------------------------- single system


def echo_sc(z_rad_s, rabi_rad_s, tau1_s, tau2_s):
    """Pulse-area functions (S, C) of Eq. (77), corrected C (Omega_G, not Omega_R).

    S = sin(Omega_G tau1) sin^2(Omega_G tau2/2),
    C = -2 (z/Omega_G) sin^2(Omega_G tau1/2) sin^2(Omega_G tau2/2), z = omega0 - omega.
    """
    z = jnp.asarray(z_rad_s, float)
    r = jnp.asarray(rabi_rad_s, float)
    G = jnp.sqrt(r**2 + z**2)
    s2 = jnp.sin(0.5 * G * tau2_s) ** 2
    S = jnp.sin(G * tau1_s) * s2
    C = -2.0 * z / G * jnp.sin(0.5 * G * tau1_s) ** 2 * s2
    return S, C


def echo_single_closed_form(z_rad_s, rabi_rad_s, tau1_s, tau2_s):
    """Complex echo coherence of one 2LS started in its ground state (Eq. 67 bracket).

    (Omega_R/Omega_G)^3 sin^2(theta2/2) [sin theta1 - 2i (z/Omega_G) sin^2(theta1/2)] / 2,
    theta_k = Omega_G tau_k; its imaginary and real parts give the two quadratures of Eq. (66).
    """
    z = jnp.asarray(z_rad_s, float)
    r = jnp.asarray(rabi_rad_s, float)
    G = jnp.sqrt(r**2 + z**2)
    bracket = jnp.sin(G * tau1_s) - 2j * (z / G) * jnp.sin(0.5 * G * tau1_s) ** 2
    return 0.5 * (r / G) ** 3 * jnp.sin(0.5 * G * tau2_s) ** 2 * bracket


def echo_single_bloch(z_rad_s, rabi_rad_s, tau1_s, tau2_s, n_phase=8):
    """Echo coherence of one 2LS from the numerical rotating-frame dynamics (independent route).

    H = (z/2) sigma_z + (Omega_R/2) sigma_x during the pulses, (z/2) sigma_z in between
    (hbar = 1, rotating-wave approximation); start in the ground state; propagate pulse 1,
    free precession by the phase psi, pulse 2, free precession by psi, with matrix
    exponentials. The echo is the psi-independent Fourier component of rho_ge, extracted by
    averaging over n_phase equally spaced psi (the other components carry e^{+-i psi},
    e^{+-2i psi}). Returns a complex number comparable with :func:`echo_single_closed_form`
    up to the convention-dependent sign of the imaginary unit.
    """
    sx = jnp.array([[0, 1], [1, 0]], complex)
    sz = jnp.array([[1, 0], [0, -1]], complex)
    z = float(z_rad_s)
    r = float(rabi_rad_s)
    Hp = 0.5 * z * sz + 0.5 * r * sx
    U1 = jax.scipy.linalg.expm(-1j * Hp * tau1_s)
    U2 = jax.scipy.linalg.expm(-1j * Hp * tau2_s)
    psis = 2 * np.pi * np.arange(n_phase) / n_phase

    def one(psi):
        F = jnp.diag(jnp.exp(jnp.array([-0.5j, 0.5j]) * psi))
        U = F @ U2 @ F @ U1
        g = jnp.array([0, 1], complex)  # ground state = lower level of +z/2 sigma_z
        psi_t = U @ g
        return psi_t[1] * jnp.conj(psi_t[0])  # rho_ge (coherence)

    vals = jax.vmap(one)(jnp.asarray(psis))
    return jnp.mean(vals)


# ----------------------------------------------------------------------------- ensembles


def rabi_ats(E_K, D_K, p1F0_D_kV_m):
    """Orientation-averaged ATS Rabi frequency Omega_R [rad/s] of Eq. (72).

    Omega_R = (p1 F0/hbar) sqrt((D0^2 phi^2 + 5 D^2/6)/(6 E^2)) = (p1 F0/hbar) sqrt((E^2 - D^2/6)/(6 E^2)).
    """
    E = jnp.asarray(E_K, float)
    D = jnp.asarray(D_K, float)
    return RABI_PER_D_KV_M * p1F0_D_kV_m * jnp.sqrt((E**2 - D**2 / 6.0) / (6.0 * E**2))


def _echo_kernel(E, rabi, rate, T, omega, tau1, tau2, tau12, tan_wdt, integrated):
    """Per-system echo weight: tanh(E/2T) x [Eq. 76 or Eq. 80 integrand] (rad/s)."""
    z = E * OMEGA_PER_K - omega
    G = jnp.sqrt(rabi**2 + z**2)
    S, C = echo_sc(z, rabi, tau1, tau2)
    sigma_term = rabi**4 / (2.0 * G**3)  # Omega_R^2 sigma(E) hbar
    th = jnp.tanh(E / (2.0 * T))
    if integrated == "strong":  # Eq. (82): sigma -> 1/(2 hbar Omega_R), C term dropped
        lor = 2.0 * rate / (rate**2 + z**2)
        return th * 0.5 * rabi * lor * S * jnp.cos(2 * z * tau12)
    if integrated:
        lor = 2.0 * rate / (rate**2 + z**2)
        return th * sigma_term * lor * (S * jnp.cos(2 * z * tau12) + C * jnp.sin(2 * z * tau12))
    return th * jnp.exp(-2.0 * rate * tau12) * sigma_term * (S * tan_wdt + C)


def _check_echo_args(T_K, freq_Hz, tau1_s, tau2_s, tau12_s, p1F0, Gamma, c_ats):
    as_positive(T_K, "T")
    for v, n in ((freq_Hz, "freq_Hz"), (tau1_s, "tau1_s"), (tau2_s, "tau2_s"), (p1F0, "p1F0")):
        as_positive(v, n)
    if np.any(np.asarray(tau12_s) < 0):
        raise InputError("tau12_s must be >= 0")
    if Gamma < 0 or c_ats < 0:
        raise InputError("Gamma and c_ats must be >= 0")


@partial(jax.jit, static_argnames=("integrated",))
def _echo_core(
    u1,
    u2,
    taus,
    Dmin,
    ratio,
    T_K,
    omega,
    tau1_s,
    tau2_s,
    p1F0,
    Gamma,
    c_ats,
    tan_wdt,
    Z0,
    z_span,
    x,
    wx,
    y,
    wy,
    integrated,
):
    # quadrature nodes are arguments (not closed-over constants): XLA would otherwise
    # constant-fold the whole node-dependent graph and compile for seconds.
    rabi0 = RABI_PER_D_KV_M * p1F0 / math.sqrt(6.0)
    Ec1 = jnp.sqrt(Dmin**2 + u1**2)
    # no clamp below: off-resonant low-E systems are weakly damped (tau ~ E^-5) and count
    z_lo = Ec1 * OMEGA_PER_K - omega
    z_hi = jnp.maximum(z_span * rabi0, z_lo + rabi0)
    s_lo = jnp.arcsinh(z_lo / Z0)[:, None]
    s_hi = jnp.arcsinh(z_hi / Z0)[:, None]
    s = s_lo + (s_hi - s_lo) * x
    z = Z0 * jnp.sinh(s)
    dz = (s_hi - s_lo) * wx * Z0 * jnp.cosh(s)
    E = (z + omega) / OMEGA_PER_K  # K, shape (nB, nE)
    dlnE = dz / (z + omega)
    # inner D range via u = sqrt(E^2 - D^2) in [u1, min(u2, sqrt(E^2 - Dmin^2))]
    uc = jnp.sqrt(jnp.maximum(E**2 - Dmin**2, 0.0))
    u_lo = jnp.maximum(u1[:, None], 1e-150)
    u_hi = jnp.maximum(jnp.minimum(jnp.maximum(u2[:, None], 1e-150 * ratio), uc), u_lo)
    valid = E > Ec1[:, None]
    q_lo = jnp.log(jnp.maximum(E**2 - u_hi**2, 1e-300)) - 2 * jnp.log(u_hi)
    q_hi = jnp.log(jnp.maximum(E**2 - u_lo**2, 1e-300)) - 2 * jnp.log(u_lo)
    q = q_lo[..., None] + (q_hi - q_lo)[..., None] * y
    wq = 0.5 * (q_hi - q_lo)[..., None] * wy
    Ee = E[..., None]
    D = Ee / jnp.sqrt(1.0 + jnp.exp(-q))
    rabi = rabi_ats(Ee, D, p1F0)
    rate = c_ats * T_K + jnp.where(
        Gamma > 0, 1.0 / tau_ats(Ee, D, T_K, jnp.where(Gamma > 0, Gamma, 1.0)), 0.0
    )

    def one(t12):
        k = _echo_kernel(Ee, rabi, rate, T_K, omega, tau1_s, tau2_s, t12, tan_wdt, integrated)
        inner = jnp.sum(wq * k, axis=-1)
        return jnp.sum(jnp.where(valid, dlnE * inner, 0.0), axis=-1)

    return jax.vmap(one, out_axes=-1)(taus)  # (nB, n_tau)


def _ats_echo_reduced(
    B_T,
    params,
    T_K,
    freq_Hz,
    tau1_s,
    tau2_s,
    tau12_s,
    p1F0,
    Gamma,
    c_ats,
    tan_wdt,
    integrated,
    n_E,
    n_q,
    z_span,
):
    """Reduced (E, D) integral of Eq. (76) (or Eq. 80): int dE/E int (1/2) dq kernel.

    q = ln(D^2/(E^2 - D^2)) makes dD/D E^2/(E^2 - D^2) = dq/2 flat; E is mapped through
    z = omega0 - omega = Z0 sinh(s) to resolve the resonance (width ~ Omega_R, or w for Eq. 80).
    One jitted pass over the (B, E, D) grid, vmapped over tau12.
    """
    B = np.atleast_1d(np.asarray(B_T, float))
    u1, u2 = ats_u(B, params)
    omega = 2 * np.pi * freq_Hz
    rabi0 = RABI_PER_D_KV_M * p1F0 / math.sqrt(6.0)
    w0 = c_ats * T_K + Gamma * (HBAR * omega / K_B) ** 5
    Z0 = min(rabi0, w0) / 2.0 if integrated else rabi0 / 2.0
    taus = jnp.atleast_1d(jnp.asarray(tau12_s, float))
    return _echo_core(
        jnp.asarray(u1),
        jnp.asarray(u2),
        taus,
        params.D_min,
        params.D0max_qS / params.D0min_qS,
        float(T_K),
        float(omega),
        float(tau1_s),
        float(tau2_s),
        float(p1F0),
        float(Gamma),
        float(c_ats),
        float(tan_wdt),
        float(Z0),
        float(z_span),
        *map(jnp.asarray, gauss_legendre_unit(n_E)),
        *map(jnp.asarray, gauss_legendre_unit(n_q)),
        integrated,
    )


def echo_integral_ats(
    B_T,
    params: ATSParams,
    *,
    T_K,
    freq_Hz,
    tau1_s,
    tau2_s,
    tau12_s,
    p1F0_D_kV_m,
    Gamma,
    c_ats,
    tan_omega_dtau,
    n_E=2048,
    n_q=24,
    z_span=400.0,
):
    """ATS echo integral J(B) of Eq. (76) [rad/s]: Delta A = -(prefactor) cos(omega dtau) J.

    J = int dE/E int dD/D E^2/(E^2-D^2) tanh(E/2T) e^{-2 w tau12} Omega_R^4/(2 Omega_G^3)
        [S tan(omega dtau) + C]  over E >= E_c1, max(D_min, D_1) <= D <= D_2,
    with Omega_R of Eq. (72), w = c_ATS T + 1/tau(E, D) (Eqs. 55 corrected, 78, 79).
    Gamma [1/(s K^5)] (Table 8 lists Gamma^-1 in (us K^5)^-1: multiply by 1e6), c_ats
    [1/(s K)] (Table 8's (us K)^-1 times 1e6). Returns shape (len(B),).
    """
    _check_echo_args(T_K, freq_Hz, tau1_s, tau2_s, tau12_s, p1F0_D_kV_m, Gamma, c_ats)
    return _ats_echo_reduced(
        B_T,
        params,
        T_K,
        freq_Hz,
        tau1_s,
        tau2_s,
        tau12_s,
        p1F0_D_kV_m,
        Gamma,
        c_ats,
        tan_omega_dtau,
        False,
        n_E,
        n_q,
        z_span,
    )[:, 0]


def _relative(J, J0, ats_ratio, what):
    J0 = float(np.asarray(J0).ravel()[0])
    if not np.isfinite(J0) or abs(J0) < 1e-12 * float(np.max(np.abs(J)) + 1e-300):
        raise InputError(
            f"the ATS {what} integral vanishes at B = 0 (D_min above hbar omega?); use the raw integral"
        )
    return 1.0 - ats_ratio * np.asarray(J) / J0


def echo_amplitude(
    B_T,
    params: ATSParams,
    *,
    ats_ratio,
    T_K,
    freq_Hz,
    tau1_s,
    tau2_s,
    tau12_s,
    p1F0_D_kV_m,
    Gamma,
    c_ats,
    tan_omega_dtau,
    n_E=2048,
    n_q=24,
):
    """Echo amplitude relative to its high-field value, A(B)/A(inf) (Figs. 16, 17).

    A = A_2LS + Delta A(B) with Delta A from Eq. (76) and Delta A(inf) = 0 (the ATS leave
    resonance when E_c1 > hbar omega), so A(B)/A(inf) = 1 - ats_ratio J(B)/J(0) with
    ats_ratio = -Delta A(0)/A_2LS = 1 - A(0)/A(inf) (the one amplitude parameter).
    Other arguments as in :func:`echo_integral_ats`.
    """
    B = np.atleast_1d(np.asarray(B_T, float))
    Ball = np.concatenate([[0.0], B])
    J = echo_integral_ats(
        Ball,
        params,
        T_K=T_K,
        freq_Hz=freq_Hz,
        tau1_s=tau1_s,
        tau2_s=tau2_s,
        tau12_s=tau12_s,
        p1F0_D_kV_m=p1F0_D_kV_m,
        Gamma=Gamma,
        c_ats=c_ats,
        tan_omega_dtau=tan_omega_dtau,
        n_E=n_E,
        n_q=n_q,
    )
    return _relative(J[1:], J[0], ats_ratio, "echo")


def integrated_echo_integral_ats(
    B_T,
    params: ATSParams,
    *,
    T_K,
    freq_Hz,
    tau1_s,
    tau2_s,
    tau12_s,
    p1F0_D_kV_m,
    Gamma,
    c_ats,
    strong_pulse=False,
    n_E=2048,
    n_q=16,
    z_span=60.0,
):
    """ATS integrated-echo integral of Eq. (80), shape (len(B), len(tau12)).

    int dE/E int dD/D E^2/(E^2-D^2) tanh Omega_R^4/(2 Omega_G^3) 2w/(w^2+z^2)
    [S cos(2 z tau12) + C sin(2 z tau12)] (dimensionless: rad/s times the Lorentzian's s).
    As printed, Eq. (80) has no
    e^{-2 w tau12}: the tau12 decay comes from the Fourier transform of the Lorentzian.
    ``strong_pulse=True`` gives the limit p1 F0 -> inf of Eq. (82): Omega_R^2 sigma -> Omega_R/2
    and the C term dropped (valid when Omega_R >> w).
    """
    _check_echo_args(T_K, freq_Hz, tau1_s, tau2_s, tau12_s, p1F0_D_kV_m, Gamma, c_ats)
    if c_ats <= 0:
        raise InputError("c_ats must be > 0 for the integrated echo (Lorentzian width)")
    return _ats_echo_reduced(
        B_T,
        params,
        T_K,
        freq_Hz,
        tau1_s,
        tau2_s,
        tau12_s,
        p1F0_D_kV_m,
        Gamma,
        c_ats,
        0.0,
        "strong" if strong_pulse else True,
        n_E,
        n_q,
        z_span,
    )


def integrated_echo_amplitude(
    B_T,
    params: ATSParams,
    *,
    ats_ratio,
    T_K,
    freq_Hz,
    tau1_s,
    tau2_s,
    tau12_s,
    p1F0_D_kV_m,
    Gamma,
    c_ats,
    strong_pulse=False,
    n_E=2048,
    n_q=16,
):
    """Integrated echo amplitude relative to high field, 1 - ats_ratio J(B)/J(0) (Eqs. 80-82).

    One tau12 value (float); see :func:`integrated_echo_integral_ats` for arrays of tau12.
    """
    B = np.atleast_1d(np.asarray(B_T, float))
    J = integrated_echo_integral_ats(
        np.concatenate([[0.0], B]),
        params,
        T_K=T_K,
        freq_Hz=freq_Hz,
        tau1_s=tau1_s,
        tau2_s=tau2_s,
        tau12_s=float(tau12_s),
        p1F0_D_kV_m=p1F0_D_kV_m,
        Gamma=Gamma,
        c_ats=c_ats,
        strong_pulse=strong_pulse,
        n_E=n_E,
        n_q=n_q,
    )[:, 0]
    return _relative(J[1:], J[0], ats_ratio, "integrated echo")


# ----------------------------------------------------------------------------- tau12 dependence


def lorentzian_cos_integral(a, b):
    """I(a, b) = int_0^b cos x/(x^2 + a^2) dx, a > 0, b real (corrected Eq. 86).

    Closed form: pi e^{-a}/(2a) - Re[(e^{-a} E1(-a - i b) - e^{a} E1(a - i b))/(2 i a)]
    (the tail from b to infinity by partial fractions), which equals the principal-branch
    Ei form pi e^{a}/(2a) + Im[e^{-a} Ei(a+ib) - e^{a} Ei(-a+ib)]/(2a) for b > 0, and is
    numerically stable for large a. scipy's complex E1 is used: a closed form off the hot
    path, no JAX equivalent for complex arguments.
    """
    a = np.asarray(a, float)
    b = np.asarray(b, float)
    if np.any(a <= 0):
        raise InputError("a must be > 0")
    sb = np.sign(b)
    bb = np.abs(b)
    tail = np.real((np.exp(-a) * sp.exp1(-a - 1j * bb) - np.exp(a) * sp.exp1(a - 1j * bb)) / (2j * a))
    return sb * (np.pi * np.exp(-a) / (2 * a) - tail)


def lorentzian_cos_integral_paper(a, b):
    """Eq. (86) exactly as printed (principal-branch Ei), kept to document the erratum."""
    a = np.asarray(a, float)
    b = np.asarray(b, float)
    z1 = -a + 1j * b
    z2 = a + 1j * b
    return np.pi / (2 * a) * np.exp(-a) + np.imag(
        np.exp(-a) / (2 * a) * sp.expi(z1) - np.exp(a) / (2 * a) * sp.expi(z2)
    )


def ats_iea_tau12(tau12_s, tau_phi_s, delta_omega_rad_s):
    """ATS part of the B = 0 integrated echo vs tau12 (Eq. 85 evaluated exactly).

    int_{D_min}^inf dE chi(E) cos(2 (omega0 - omega) tau12) with chi the normalised
    Lorentzian of width 1/tau_phi (Eq. 81, the 1/E factor lumped into the constant):
    = e^{-a} - (a/pi) int_b^inf cos x/(x^2+a^2) dx = e^{-a}/2 + (a/pi) I(a, b),
    a = 2 tau12/tau_phi, b = 2 tau12 (omega - D_min/hbar) = 2 tau12 delta_omega (Eq. 88).
    """
    t = as_positive(tau12_s, "tau12")
    as_positive(tau_phi_s, "tau_phi")
    a = 2.0 * t / tau_phi_s
    b = 2.0 * t * delta_omega_rad_s
    return 0.5 * np.exp(-a) + a / np.pi * lorentzian_cos_integral(a, b)


def echo_vs_tau12(tau12_s, *, C_2ls, tau_phi2_s, C_ats, tau_phi3_s, delta_omega_rad_s):
    """Integrated echo amplitude at B = 0 against tau12, corrected Eq. (87).

    IEA = C_2LS e^{-2 tau12/tau_phi2} - C_ATS [e^{-a}/2 + (a/pi) I(a, b)],
    a = 2 tau12/tau_phi3, b = 2 tau12 delta_omega, delta_omega = omega - D_min/hbar [rad/s]
    (Fig. 20: tau_phi3 = 1 us, tau_phi2 = 10 us, delta_omega = 2 pi x 0.6 MHz).
    The ATS term enters with the minus sign of Eq. (85). Replaces the printed
    C_ATS (tau_phi/tau12) e^{-a} + K_ATS Im{...}: with chi normalised as in Eq. (81), the
    exponential and the Ei terms share one constant and no 1/tau12 survives.
    """
    t = as_positive(tau12_s, "tau12")
    return C_2ls * np.exp(-2.0 * t / tau_phi2_s) - C_ats * ats_iea_tau12(t, tau_phi3_s, delta_omega_rad_s)


# ----------------------------------------------------------------------------- discrete systems


def echo_integral_from_systems(
    E_K,
    rabi_rad_s,
    rate_per_s,
    weights,
    *,
    T_K,
    freq_Hz,
    tau1_s,
    tau2_s,
    tau12_s,
    tan_omega_dtau=0.0,
    integrated=False,
):
    """Echo (Eq. 76 kernel) or integrated echo (Eq. 80 kernel) of a discrete ensemble.

    sum_i w_i tanh(E_i/2T) e^{-2 r_i tau12} Omega_i^4/(2 Omega_G,i^3) [S tan(omega dtau) + C]
    (or the Eq. 80 kernel when ``integrated``), for systems with gap E_i [K], Rabi frequency
    Omega_i [rad/s], damping rate r_i [1/s] and weight w_i. tau12 may be an array (last axis).
    """
    E = jnp.asarray(as_positive(E_K, "E"))
    rabi = jnp.asarray(as_positive(rabi_rad_s, "rabi"))
    rate = jnp.asarray(rate_per_s, float)
    w = jnp.asarray(weights, float)
    taus = jnp.atleast_1d(jnp.asarray(tau12_s, float))[:, None]
    k = _echo_kernel(
        E, rabi, rate, T_K, 2 * np.pi * freq_Hz, tau1_s, tau2_s, taus, tan_omega_dtau, integrated
    )
    return jnp.sum(w * k, axis=-1)


def ats_echo_systems(B_T, D_K, D0qS_K_A2, params: ATSParams, *, T_K, p1F0_D_kV_m, Gamma, c_ats):
    """(E, Omega_R, rate) of discrete ATSs at field B (Eqs. 9, 72, 55 corrected, 78-79)."""
    D = jnp.asarray(as_positive(D_K, "D"))
    u = d0phi_effective(float(B_T), jnp.asarray(D0qS_K_A2, float), params)
    E = jnp.sqrt(D**2 + u**2)
    rabi = rabi_ats(E, D, p1F0_D_kV_m)
    rate = c_ats * T_K + (1.0 / tau_ats(E, D, T_K, Gamma) if Gamma > 0 else 0.0)
    return E, rabi, rate


def two_level_echo_systems(Delta_K, Delta0_K, *, T_K, p0F0_D_kV_m, gamma_s_K3=None, tau_phi_s=None):
    """(E, Omega_R, rate) of discrete 2LSs: E = sqrt(Delta^2 + Delta0^2), Omega_R = p0 F0
    Delta0/(hbar E sqrt 3) (rms over dipole orientations), rate = 1/tau_phi + 1/tau (Eq. 39)."""
    Dl = jnp.asarray(Delta_K, float)
    D0 = jnp.asarray(as_positive(Delta0_K, "Delta0"))
    E = jnp.sqrt(Dl**2 + D0**2)
    rabi = RABI_PER_D_KV_M * p0F0_D_kV_m * D0 / (E * math.sqrt(3.0))
    rate = jnp.zeros_like(E)
    if tau_phi_s is not None:
        rate = rate + 1.0 / tau_phi_s
    if gamma_s_K3 is not None:
        rate = rate + D0**2 * E / (gamma_s_K3 * jnp.tanh(E / (2.0 * T_K)))
    return E, rabi, rate
