"""1D tunneling splitting (sinc DVR), walls, WKB (seed Eq. 3), two parabolas (Eq. 4)."""

import functools

import numpy as np
import pytest

from etm.tunneling import delta0_two_parabola, delta0_wkb
from pelsim.errors import InputError
from pelsim.tunneling import dwp_parameters, levels, sinc_dvr_levels
from pelsim.units import PRESETS, custom, get_preset


def ho_basis_levels(c2, c4, hbar, n_basis, w=2.0):
    """Independent route: H = p^2/2 + c2 x^2 + c4 x^4 in a harmonic-oscillator basis."""
    m = n_basis + 8
    a = np.diag(np.sqrt(np.arange(1, m)), 1)
    x = np.sqrt(hbar / (2 * w)) * (a + a.T)
    p2 = -(hbar * w / 2) * ((a - a.T) @ (a - a.T))
    x2 = x @ x
    H = (0.5 * p2 + c2 * x2 + c4 * (x2 @ x2))[:n_basis, :n_basis]
    return np.linalg.eigvalsh(H)[:2]


@pytest.mark.parametrize("hbar", [0.3, 0.2])
def test_quartic_splitting_converges_to_1e8_relative(hbar):
    # V = (x^2 - 1)^2 = x^4 - 2 x^2 + 1
    E, n = levels(lambda x: (x * x - 1) ** 2, -3.0, 3.0, hbar, rtol=1e-12)
    ref = ho_basis_levels(-2.0, 1.0, hbar, 260) + 1.0
    ref_split = ref[1] - ref[0]
    assert abs((E[1] - E[0]) - ref_split) < 1e-8 * ref_split
    assert np.allclose(E, ref, rtol=1e-11)
    # the independent sinc-DVR route on a fixed grid agrees too
    x = np.linspace(-3, 3, 602)[1:-1]
    Ef = sinc_dvr_levels((x * x - 1) ** 2, x[1] - x[0], hbar)
    assert abs((Ef[1] - Ef[0]) - ref_split) < 1e-8 * ref_split


def test_harmonic_oscillator_exact():
    w, hbar = 1.7, 0.05
    E, _ = levels(lambda x: 0.5 * w * w * x * x, -2.0, 2.0, hbar, rtol=1e-12)
    assert np.allclose(E, [0.5 * hbar * w, 1.5 * hbar * w], rtol=1e-11)


def test_symmetric_profile_ending_at_minima_gets_harmonic_walls():
    hbar = 0.25
    s = np.linspace(-1.0, 1.0, 801)
    V = (s * s - 1) ** 2
    p = dwp_parameters(s, V, hbar, dVds=4 * s * (s * s - 1))
    assert p["walls_extended"]
    assert abs(p["V0"] - 1.0) < 1e-12 and abs(p["d"] - 2.0) < 1e-12 and abs(p["asymmetry"]) < 1e-14
    assert abs(p["hbar_omega_a"] - hbar * np.sqrt(8.0)) < 1e-6
    assert abs(p["Delta"]) < 1e-12 and abs(p["Delta0"] - p["splitting"]) < 1e-8 * p["splitting"]
    # independent construction of the same extended potential: quartic inside, 4 (|x|-1)^2 outside
    W = lambda x: np.where(np.abs(x) < 1, (x * x - 1) ** 2, 4.0 * (np.abs(x) - 1) ** 2)
    E, _ = levels(W, -4.0, 4.0, hbar, rtol=1e-7)  # W''' jumps at |x| = 1: algebraic convergence
    assert abs(p["splitting"] - (E[1] - E[0])) < 1e-5 * p["splitting"]
    # softer (harmonic) walls than the quartic's lower the splitting, but only moderately
    Eq, _ = levels(lambda x: (x * x - 1) ** 2, -3.0, 3.0, hbar)
    assert 0.6 < p["splitting"] / (Eq[1] - Eq[0]) < 1.0


def test_profile_rising_at_ends_used_as_given_and_asymmetry():
    hbar, e = 0.25, 0.05
    x = np.linspace(-2.0, 2.0, 2001)
    V = (x * x - 1) ** 2 + e * x
    p = dwp_parameters(x, V, hbar)
    assert not p["walls_extended"]
    E, _ = levels(lambda y: (y * y - 1) ** 2 + e * y, -2.0, 2.0, hbar, rtol=1e-11)
    assert abs(p["splitting"] - (E[1] - E[0])) < 1e-7 * (E[1] - E[0])
    # asymmetry raises the splitting above the symmetric one (E = sqrt(Delta^2 + Delta0^2))
    Es, _ = levels(lambda y: (y * y - 1) ** 2, -2.0, 2.0, hbar, rtol=1e-11)
    assert p["asymmetry"] > 0 and p["Delta"] > 0
    assert p["splitting"] > Es[1] - Es[0]
    assert p["Delta0"] <= p["splitting"]
    # weak asymmetry: the pair is still (E0, E1)
    assert (p["level_A"], p["level_B"]) == (0, 1)
    assert p["splitting"] == pytest.approx(p["splitting_lowest"], rel=1e-10)


def _gap(c, hbar, x):
    E = sinc_dvr_levels((x * x - 1) ** 2 + c * x, x[1] - x[0], hbar)
    return E[1] - E[0]


@functools.lru_cache(maxsize=1)
def _anticrossing_scan(hbar):
    xg = np.linspace(-2.2, 2.2, 602)[1:-1]
    cs = np.linspace(-2e-7, 2e-7, 9)  # the crossing is at c = 0 by symmetry; gap(c) ~ |2 c| off it
    return xg, np.array([_gap(ci, hbar, xg) for ci in cs])


@pytest.mark.parametrize("c", [0.0, 0.05, 0.3, 0.6])
def test_tilted_quartic_delta0_equals_exact_anticrossing_gap(c):
    """V = (x^2 - 1)^2 + c x: Delta0 of the tunneling pair is the anticrossing gap of the
    ground pair as the tilt is scanned through the level crossing at c = 0 (independent
    route: sinc DVR on the analytic potential, gap minimised over a fine scan of c).
    c = 0.3, 0.6 are strongly asymmetric (|Delta| > hbar*omega): E1 - E0 is then a
    vibration of the lower well, the old sqrt(splitting^2 - Delta^2) gave 0."""
    hbar = 0.1
    xg, gaps = _anticrossing_scan(hbar)
    exact = gaps.min()
    assert np.argmin(gaps) == 4 and gaps[0] > 1.5 * exact  # the scan brackets a true anticrossing
    x = np.linspace(-2.2, 2.2, 4001)
    p = dwp_parameters(x, (x * x - 1) ** 2 + c * x, hbar)
    assert p["Delta0_method"] == "anticrossing"
    assert abs(p["Delta0"] - exact) < 2e-5 * exact  # spline of the 4001-point profile: ~1e-5
    assert abs(p["bias_resonance"] + c) < 1e-9
    # the pair: lowest state in each well; E1 - E0 kept as splitting_lowest
    E = sinc_dvr_levels((xg * xg - 1) ** 2 + c * xg, xg[1] - xg[0], hbar, n_levels=8)
    assert abs(p["splitting_lowest"] - (E[1] - E[0])) < 2e-5 * (E[1] - E[0])
    assert abs(p["splitting"] - abs(E[p["level_B"]] - E[p["level_A"]])) < 2e-5 * p["splitting"]
    if c >= 0.3:
        assert abs(p["Delta"]) > p["hbar_omega_a"] and p["splitting_lowest"] < abs(p["Delta"])
        assert p["level_B"] > 1 and p["splitting"] > abs(p["Delta"]) * 0.9
    # two-state consistency: E^2 = Delta_q^2 + Delta0^2 with the quantum bias near Delta
    assert p["splitting"] ** 2 >= p["Delta0"] ** 2


def test_delta0_floor():
    # a barrier so thick that Delta0 is far below round-off: reported 0, never noise
    hbar = 0.02
    x = np.linspace(-2.0, 2.0, 2001)
    p = dwp_parameters(x, 4.0 * (x * x - 1) ** 2 + 0.1 * x, hbar)
    assert p["Delta0"] == 0.0 and p["Delta0_floor"] > 0
    assert p["splitting"] > 0.19  # the pair energy is still the asymmetry


def test_seed_eqs_3_and_4():
    # Eq. 3 at d = 0 is hbar Omega; it decays as exp(-(d/hbar) sqrt(2 V0))
    assert delta0_wkb(1.0, 0.3, 0.0, 1.0, 0.1) == pytest.approx(0.3)
    assert delta0_wkb(2.0, 0.3, 1.5, 1.0, 0.1) == pytest.approx(0.3 * np.exp(-15.0 * 2.0), rel=1e-14)
    # Eq. 4 by hand at V0 = hbar Omega: 0.5 (3 - sqrt(8/pi)) e^-2
    assert delta0_two_parabola(1.0, 1.0) == pytest.approx(0.5 * (3 - np.sqrt(8 / np.pi)) * np.exp(-2))
    assert delta0_two_parabola(10.0, 1.0) == 0.0  # beyond its validity, never negative


def test_bad_profiles():
    with pytest.raises(InputError):
        dwp_parameters([0, 1, 1, 2], [0, 1, 1, 0], 0.1)
    with pytest.raises(InputError):
        dwp_parameters(np.linspace(0, 1, 10), np.linspace(0, 1, 10) ** 2 + 5, 0.1)  # one well
    with pytest.raises(InputError):
        dwp_parameters(np.linspace(-1, 1, 10), np.zeros(10), -0.1)


def test_unit_presets():
    assert PRESETS["argon"].hbar == pytest.approx(0.0296, abs=5e-5)
    assert get_preset("argon").energy_K(1.0) == 119.8
    # hbar* scales as 1 / (sigma sqrt(m eps))
    c = custom(119.8 * 4, 3.405, 39.948)
    assert c.hbar == pytest.approx(PRESETS["argon"].hbar / 2, rel=1e-14)
    with pytest.raises(InputError):
        get_preset("neon")
    with pytest.raises(InputError):
        custom(-1.0, 3.4, 40.0)


def test_upper_well_below_zero_point_energy_holds_no_state():
    """Tilted quartic V = x^4/4 - x^2/2 + c x with c = 0.36: the upper (right) well is
    0.004 deep. With hbar = 0.05 its zero-point energy (~0.017) exceeds that, so no state is
    localised in it below the barrier top and the quantum entries are NaN; with hbar = 0.003
    (zero-point energy 0.001) the well holds its state, below the barrier top."""
    s = np.linspace(-2.2, 2.2, 801)
    V = s**4 / 4 - s**2 / 2 + 0.36 * s
    r = dwp_parameters(s, V, hbar=0.05)
    depth_b = r["barrier"] - r["asymmetry"]
    assert 0.0 < depth_b < 0.5 * r["hbar_omega_b"]
    assert r["Delta0_method"] == "no_localised_state"
    assert np.isnan(r["Delta0"]) and np.isnan(r["E_B"])
    r = dwp_parameters(s, V, hbar=0.003)
    V_top = r["barrier"] + V.min()  # energies are measured from the lower well's bottom
    assert r["Delta0_method"] != "no_localised_state"
    assert r["E_A"] < r["E_B"] < V_top + 1e-12
