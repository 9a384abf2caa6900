"""Tests of etm.echo: single-system echo, ATS echo amplitude vs B, tau12 dependence (Eqs. 62-88).

Independent routes: numerical propagation of the pulse sequence (matrix exponentials)
for the single-system amplitude; scipy quadrature over (D, D0) for the ensemble integral of
Eq. (75); scipy quadrature (QUADPACK QAWF/QAWO) for Eqs. (85, 86).
"""

import math

import numpy as np
import pytest
from scipy import integrate

from etm import echo as e
from etm.errors import InputError
from etm.hamiltonian import d0phi_effective
from etm.params import ATSParams
from etm.units import HBAR, K_B

BAS1 = ATSParams(0.01774, 0.95e3, 2.13e4)  # Table 8, AlBaSiO sample 1
KW = dict(
    T_K=0.012,
    freq_Hz=1e9,
    tau1_s=1e-7,
    tau2_s=2e-7,
    tau12_s=2e-6,
    p1F0_D_kV_m=0.461,
    Gamma=9.22e12,
    c_ats=5.008e6,
    tan_omega_dtau=0.247,
)  # Table 8 (us -> s), Fig. 16 caption


@pytest.mark.parametrize("z,rabi", [(0.0, 1e7), (3e6, 1e7), (-8e6, 5e6), (2e7, 6e6)])
def test_single_system_closed_form_vs_bloch(z, rabi):
    num = complex(e.echo_single_bloch(z, rabi, 1e-7, 2e-7))
    cf = complex(e.echo_single_closed_form(z, rabi, 1e-7, 2e-7))
    assert num == pytest.approx(-1j * cf, rel=1e-9, abs=1e-12)  # equal up to the phase convention
    # Eq. (77) as printed (z/Omega_R in C) disagrees off resonance
    if z != 0.0:
        G = math.hypot(z, rabi)
        printed = (
            0.5
            * (rabi / G) ** 3
            * math.sin(0.5 * G * 2e-7) ** 2
            * (math.sin(G * 1e-7) - 2j * z / rabi * math.sin(0.5 * G * 1e-7) ** 2)
        )
        # the C quadrature (real part of num here) is off by the factor Omega_G/Omega_R
        assert abs(num.real - (-1j * printed).real) > 1e-2 * abs(num.real)


def _direct_eq75(B, epsrel):
    """Eq. (75) over (ln D0, D) by scipy, E = sqrt(D^2 + (D0 phi)^2): the unreduced integral."""
    c = float(d0phi_effective(B, 1.0, BAS1))
    om = 2 * math.pi * KW["freq_Hz"]
    T, t1, t2, t12 = KW["T_K"], KW["tau1_s"], KW["tau2_s"], KW["tau12_s"]
    Eres = HBAR * om / K_B

    def f(D, u):
        E = math.hypot(D, u)
        rabi = e.RABI_PER_D_KV_M * KW["p1F0_D_kV_m"] * math.sqrt((E * E - D * D / 6) / (6 * E * E))
        z = E * K_B / HBAR - om
        G = math.hypot(rabi, z)
        S = math.sin(G * t1) * math.sin(0.5 * G * t2) ** 2
        C = -2 * z / G * math.sin(0.5 * G * t1) ** 2 * math.sin(0.5 * G * t2) ** 2
        rate = KW["c_ats"] * T + KW["Gamma"] * E**3 * (E * E - D * D / 6) / math.tanh(E / (2 * T))
        return (
            math.tanh(E / (2 * T))
            * math.exp(-2 * rate * t12)
            * rabi**4
            / (2 * G**3)
            * (S * KW["tan_omega_dtau"] + C)
            / D
        )

    def inner(t):
        u = c * math.exp(t)
        pts = [math.sqrt(Eres**2 - u * u)] if Eres > u and math.sqrt(Eres**2 - u * u) > BAS1.D_min else None
        return integrate.quad(
            f, BAS1.D_min, 1.0, args=(u,), points=pts, limit=400, epsrel=epsrel * 1e-1, epsabs=0
        )[0]

    return integrate.quad(inner, math.log(BAS1.D0min_qS), math.log(BAS1.D0max_qS), epsrel=epsrel, limit=100)[
        0
    ]


@pytest.mark.slow
def test_echo_reduced_matches_direct_integration(full):
    fields = (0.05, 0.3) if full else (0.05,)
    for B in fields:
        ref = _direct_eq75(B, 1e-9 if full else 1e-5)
        red = float(e.echo_integral_ats(np.array([B]), BAS1, **KW)[0])
        assert red == pytest.approx(ref, rel=1e-6 if full else 1e-4)


def test_echo_field_limits_and_table8_shape():
    B = np.array([1e-3, 2e-3, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.6, 12.0])
    rel = e.echo_amplitude(B, BAS1, ats_ratio=0.2, **KW)
    # high field: the ATS leave resonance, A -> A(inf)
    assert abs(rel[-1] - 1.0) < 1e-6
    # B -> 0: A(B) - A(0) ~ B^2 (even in B)
    a0 = 1.0 - 0.2
    assert (rel[1] - a0) / (rel[0] - a0) == pytest.approx(4.0, rel=1e-2)
    # Fig. 16: one minimum, below A(0), at a few tenths of a tesla, where E_c2 crosses hbar omega
    i = int(np.argmin(rel[:-1]))
    assert 0.1 <= B[i] <= 0.4 and rel[i] < a0
    Eres = HBAR * 2 * math.pi * KW["freq_Hz"] / K_B
    B_c2 = math.sqrt(Eres**2 - BAS1.D_min**2) / float(d0phi_effective(1.0, BAS1.D0max_qS, BAS1))
    assert 0.5 < B[i] / B_c2 < 2.0


def test_from_systems_agree_with_reduced_nodes():
    # the discrete-ensemble API on a (D, D0) sample that straddles the resonance
    B = 0.1
    rng = np.random.default_rng(1)
    D = rng.uniform(0.02, 0.06, 4000)
    q = np.exp(rng.uniform(math.log(BAS1.D0min_qS), math.log(BAS1.D0max_qS), 4000))
    E, rabi, rate = e.ats_echo_systems(
        B, D, q, BAS1, T_K=KW["T_K"], p1F0_D_kV_m=KW["p1F0_D_kV_m"], Gamma=KW["Gamma"], c_ats=KW["c_ats"]
    )
    w = np.ones_like(D)
    J = e.echo_integral_from_systems(
        E,
        rabi,
        rate,
        w,
        T_K=KW["T_K"],
        freq_Hz=KW["freq_Hz"],
        tau1_s=KW["tau1_s"],
        tau2_s=KW["tau2_s"],
        tau12_s=KW["tau12_s"],
        tan_omega_dtau=KW["tan_omega_dtau"],
    )
    # explicit per-system sum (Eq. 73 kernel) as the reference
    z = np.asarray(E) * K_B / HBAR - 2 * math.pi * KW["freq_Hz"]
    S, C = (np.asarray(v) for v in e.echo_sc(z, rabi, KW["tau1_s"], KW["tau2_s"]))
    G = np.hypot(np.asarray(rabi), z)
    ref = np.sum(
        np.tanh(np.asarray(E) / (2 * KW["T_K"]))
        * np.exp(-2 * np.asarray(rate) * KW["tau12_s"])
        * np.asarray(rabi) ** 4
        / (2 * G**3)
        * (S * KW["tan_omega_dtau"] + C)
    )
    assert float(J[0]) == pytest.approx(ref, rel=1e-10)
    # 2LS helper: resonant symmetric system has Omega_R = p0F0/(hbar sqrt 3)
    E2, r2, _ = e.two_level_echo_systems(np.array([0.0]), np.array([0.048]), T_K=0.012, p0F0_D_kV_m=1.0)
    assert float(r2[0]) == pytest.approx(e.RABI_PER_D_KV_M / math.sqrt(3), rel=1e-12)


@pytest.mark.parametrize("a,b", [(0.5, 3.0), (2.0, 10.0), (1.0, 0.7), (12.0, 40.0), (0.3, -2.0)])
def test_eq86_corrected_closed_form(a, b):
    ref = integrate.quad(
        lambda x: math.cos(x) / (x * x + a * a), 0.0, b, limit=400, epsabs=1e-14, epsrel=1e-12
    )[0]
    assert float(e.lorentzian_cos_integral(a, b)) == pytest.approx(ref, rel=1e-9, abs=1e-13)
    if b > 0 and a < 5:
        # Eq. (86) as printed fails
        assert abs(float(e.lorentzian_cos_integral_paper(a, b)) - ref) > 0.1 * abs(ref)


def test_eq85_ats_term_against_direct_integration():
    tau_phi, dw = 1e-6, 2 * math.pi * 0.6e6  # Fig. 20
    for t12 in (0.2e-6, 1e-6, 3e-6):
        # int_{-dw}^{inf} dz chi(z) cos(2 z t12), chi = w/(pi (w^2 + z^2)), w = 1/tau_phi
        w = 1.0 / tau_phi

        def f(z, w=w):
            return w / (math.pi * (w * w + z * z))

        tail = integrate.quad(f, 0.0, np.inf, weight="cos", wvar=2 * t12)[0]
        head = integrate.quad(lambda z, t12=t12: f(z) * math.cos(2 * z * t12), -dw, 0.0, epsabs=1e-14)[0]
        assert float(e.ats_iea_tau12(t12, tau_phi, dw)) == pytest.approx(tail + head, rel=1e-8)


def test_echo_vs_tau12_limits():
    tau_phi3, dw = 1e-6, 2 * math.pi * 0.6e6
    # tau12 -> 0: the ATS term is the Lorentzian weight above D_min: 1/2 + arctan(dw tau_phi)/pi
    small = float(e.ats_iea_tau12(1e-16, tau_phi3, dw))
    assert small == pytest.approx(0.5 + math.atan(dw * tau_phi3) / math.pi, rel=1e-6)
    # no cutoff (dw -> inf): pure exponential decay e^{-2 tau12/tau_phi}
    t = np.array([0.5e-6, 1e-6, 2e-6])
    np.testing.assert_allclose(e.ats_iea_tau12(t, tau_phi3, 1e12), np.exp(-2 * t / tau_phi3), rtol=1e-5)
    # 2LS part alone: e^{-2 tau12/tau_phi2}
    iea = e.echo_vs_tau12(t, C_2ls=1.0, tau_phi2_s=1e-5, C_ats=0.0, tau_phi3_s=tau_phi3, delta_omega_rad_s=dw)
    np.testing.assert_allclose(iea, np.exp(-2 * t / 1e-5), rtol=1e-12)
    # Fig. 20(a): with the cutoff the ATS term oscillates in tau12 with period pi/dw
    tt = np.linspace(1e-6, 6e-6, 800)
    y = e.ats_iea_tau12(tt, tau_phi3, dw) - np.exp(-2 * tt / tau_phi3)
    crossings = np.sum(np.diff(np.sign(y)) != 0)
    expected = (tt[-1] - tt[0]) / (math.pi / dw) * 2
    assert abs(crossings - expected) <= 2


def test_integrated_echo_limits():
    kw = {k: v for k, v in KW.items() if k != "tan_omega_dtau"}
    B = np.array([1e-3, 2e-3, 12.0])
    rel = e.integrated_echo_amplitude(B, BAS1, ats_ratio=0.3, **kw)
    assert abs(rel[-1] - 1.0) < 1e-6
    assert (rel[1] - 0.7) / (rel[0] - 0.7) == pytest.approx(4.0, rel=1e-2)


def test_bad_input():
    with pytest.raises(InputError):
        e.echo_integral_ats(np.array([0.1]), BAS1, **{**KW, "tau1_s": -1.0})
    with pytest.raises(InputError):
        e.lorentzian_cos_integral(-1.0, 1.0)


def test_integrated_echo_strong_pulse_limit_eq82():
    # Eq. (82): for Omega_R >> w (here 6.5e8 vs 6e4 rad/s, short pulses), sigma -> 1/(2 hbar Omega_R)
    kw = dict(
        T_K=0.012,
        freq_Hz=1e9,
        tau1_s=2e-9,
        tau2_s=4e-9,
        tau12_s=2e-6,
        p1F0_D_kV_m=50.0,
        Gamma=0.0,
        c_ats=5.008e6,
    )
    B = np.array([0.0, 0.05, 0.3, 1.0])
    full = np.asarray(e.integrated_echo_integral_ats(B, BAS1, **kw))[:, 0]
    strong = np.asarray(e.integrated_echo_integral_ats(B, BAS1, strong_pulse=True, **kw))[:, 0]
    np.testing.assert_allclose(strong, full, rtol=1e-3)
