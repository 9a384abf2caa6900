"""analysis: distributions, TLS density, the etm bridge and the report, on synthetic catalogues
whose answers are known in closed form."""

from __future__ import annotations

import numpy as np
import pytest

from analysis import bridge
from analysis import distributions as dist
from analysis.report import analyse_arrays, units_for, write_report
from etm.heat_capacity import schottky
from etm.levels import heat_capacity_levels
from etm.units import EPS0, K_B

UNITS = units_for("argon", 1.2, 1.0)


def _uniform_dos_dwps(n_sys, n_glasses, E_max_K, rng):
    """Systems with a flat density of splittings on [0, E_max] (any Delta/Delta0 split)."""
    E = rng.uniform(0, E_max_K, n_sys)
    frac = rng.uniform(0, 1, n_sys)
    D0 = E * np.sqrt(frac)
    D = np.sqrt(E**2 - D0**2) * rng.choice([-1, 1], n_sys)
    kpe = UNITS["kelvin_per_epsilon"]
    return {
        "id": np.arange(n_sys),
        "glass": rng.integers(0, n_glasses, n_sys),
        "splitting_K": E,
        "Delta_K": D,
        "Delta0_K": D0,
        "V0": rng.random(n_sys),
        "d": rng.random(n_sys),
        "m_eff": 1 + rng.random(n_sys),
        "participation_ratio": rng.random(n_sys),
        "is_tls": E < UNITS["tls_threshold_K"],
        "splitting": E / kpe,
        "method": np.where(rng.random(n_sys) < 0.5, "is_pair", "intra_basin"),
    }


def test_units_argon():
    assert UNITS["kelvin_per_epsilon"] == pytest.approx(119.8)
    assert UNITS["length_m"] == pytest.approx(3.405e-10)
    assert UNITS["hbar"] == pytest.approx(0.0296, rel=0.02)  # the hbar* of argon


def test_flat_dos_gives_linear_heat_capacity_and_recovers_pbar():
    """A flat DOS n0 per volume gives C = (pi^2/6) k_B^2 n0 T for T << E_max (STM limit):
    the fitted P-bar must equal the input n0, alpha must vanish."""
    rng = np.random.default_rng(1)
    n_sys, n_g, n_part, E_max = 40000, 10, 1000, 20.0
    dwps = _uniform_dos_dwps(n_sys, n_g, E_max, rng)
    T = np.geomspace(0.02, 0.5, 30)
    hc = bridge.heat_capacity_prediction(dwps, np.arange(n_g), n_part, UNITS, T, n_boot=50)
    volume = n_g * n_part / UNITS["number_density_m3"]
    n0_true = n_sys / (E_max * K_B) / volume  # J^-1 m^-3
    assert hc["fit"]["Pbar_fit_J_m3"] == pytest.approx(n0_true, rel=0.03)
    assert abs(hc["fit"]["alpha"]) < 0.03
    # bootstrap band is a few percent for 40000 systems in 10 glasses, and nonzero
    assert 0 < np.max(hc["C_err"] / hc["C_J_gK"]) < 0.1


def test_tls_density_counts_and_units():
    rng = np.random.default_rng(2)
    dwps = _uniform_dos_dwps(500, 5, 4.0, rng)
    glasses = np.arange(8)  # three glasses without any DWP still count
    t = dist.tls_density(
        dwps, 100, glasses, 1.0 / 119.8, 1.2, UNITS["energy_J"], UNITS["length_m"], n_boot=100
    )
    n_tls = int((dwps["splitting_K"] < 1.0).sum())
    assert t["n_tls"] == n_tls
    n0 = n_tls / (8 * 100 * (1.0 / 119.8))
    assert t["n0_per_particle_per_epsilon"] == pytest.approx(n0)
    # independent arithmetic: per particle per J times particles per m^3
    pbar = n0 / (119.8 * 1.380649e-23) * 1.2 / (3.405e-10) ** 3
    assert t["Pbar_J_m3"] == pytest.approx(pbar, rel=1e-12)
    assert t["n0_err"] > 0


def test_bootstrap_error_vanishes_for_identical_glasses():
    vals = np.tile(np.array([0.1, 0.4, 0.5, 0.9]), 5)
    glass = np.repeat(np.arange(5), 4)
    h = dist.histogram(vals, glass, np.arange(5), np.linspace(0, 1, 5), n_boot=50)
    assert np.allclose(h["error"], 0) and np.isclose((h["density"] * np.diff(h["edges"])).sum(), 1)
    h2 = dist.histogram(np.r_[vals, 0.2], np.r_[glass, 0], np.arange(5), np.linspace(0, 1, 5), n_boot=50)
    assert h2["error"].max() > 0


def test_levels_heat_capacity_matches_schottky_and_degenerate_form():
    T = np.geomspace(0.01, 10, 40)
    E = 0.7
    two = heat_capacity_levels(T, np.array([0.0, E]))
    np.testing.assert_allclose(two, np.asarray(schottky(E, T)), rtol=1e-10, atol=1e-300)
    # levels (0, D, D): C/k = (D/T)^2 * 2 e^{-D/T} / (1 + 2 e^{-D/T})^2
    x = E / T
    ref = x**2 * 2 * np.exp(-x) / (1 + 2 * np.exp(-x)) ** 2
    np.testing.assert_allclose(heat_capacity_levels(T, np.array([0.0, E, E])), ref, rtol=1e-10)


def test_twp_spectrum_zero_field_and_field_dependence():
    kpe = UNITS["kelvin_per_epsilon"]
    D0_K = 0.05
    twps = {
        "id": np.array([0]),
        "glass": np.array([0]),
        "E1": np.zeros(1),
        "E2": np.zeros(1),
        "E3": np.zeros(1),
        "D0": np.full((1, 3), D0_K / kpe),
        "loop_area_particle_max": np.array([1.0]),
        "spectrum": np.zeros((1, 3)),
        "loop_area": np.ones(1),
    }
    lev = bridge.twp_levels(twps, [0.0, 1.0], UNITS)
    # symmetric ring at phi = 0: -D0, -D0, 2D0 (seed Eq. 8 with E_i = 0) -- for hoppings +D0
    np.testing.assert_allclose(np.sort(lev[0, 0]), np.sort([2 * D0_K, -D0_K, -D0_K]), atol=1e-9)
    # a field lifts the degeneracy (Aharonov-Bohm phase)
    assert lev[0, 1, 1] - lev[0, 1, 0] > 1e-9


def test_dielectric_resonant_slope_of_stm_sample_matches_stm():
    """Systems sampled from the STM P(Delta, Delta0) = P-bar/Delta0 give the resonant log slope -2C/3
    (seed Eq. 36) for Delta0_min << T << E_max."""
    rng = np.random.default_rng(3)
    n, n_g, n_part = 200000, 4, 5000
    d0min, d0max, dmax = 1e-4, 50.0, 50.0
    D = rng.uniform(0, dmax, n)
    D0 = np.exp(rng.uniform(np.log(d0min), np.log(d0max), n))
    dwps = {"splitting_K": np.hypot(D, D0), "Delta0_K": D0, "Delta_K": D, "glass": rng.integers(0, n_g, n)}
    settings = {"units": UNITS, "n_particles": n_part, "frequency_Hz": 1e3}
    T = np.geomspace(0.2, 2.0, 60)  # Delta0_min << T << E_max, and thousands of systems with E ~ T
    d = bridge.dielectric_prediction(dwps, np.arange(n_g), settings, T)
    volume = n_g * n_part / UNITS["number_density_m3"]
    pbar = n / (dmax * np.log(d0max / d0min)) / K_B / volume  # J^-1 m^-3
    p0 = bridge.DIELECTRIC_DEFAULTS["p0_debye"] * bridge.DEBYE_C_M
    C = pbar * p0**2 / (EPS0 * bridge.DIELECTRIC_DEFAULTS["eps_r"])
    Tg = d["T_K"]  # the prediction's own grid (it extends below T0)
    m = (Tg >= 0.2) & (Tg <= 2.0)
    assert m.sum() >= 5
    slope = np.polyfit(np.log(Tg[m]), d["resonant"][m], 1)[0]
    assert slope == pytest.approx(-2 * C / 3, rel=0.05)


def test_method_comparison_ks():
    rng = np.random.default_rng(4)
    n = 400
    m = np.where(np.arange(n) < n // 2, "is_pair", "intra_basin")
    same = {"method": m, "V0": rng.random(n), "is_tls": np.zeros(n, bool)}
    diff = {
        "method": m,
        "V0": np.where(m == "is_pair", rng.random(n), 0.5 + rng.random(n)),
        "is_tls": np.zeros(n, bool),
    }
    assert dist.compare_methods(same)["V0"]["ks_pvalue"] > 1e-3
    assert dist.compare_methods(diff)["V0"]["ks_pvalue"] < 1e-10
    assert dist.compare_methods(same)["counts"] == {"is_is": 200, "intra_basin": 200}


def test_report_from_synthetic_catalogue(tmp_path):
    rng = np.random.default_rng(5)
    dwps = _uniform_dos_dwps(300, 3, 5.0, rng)
    settings = {
        "n_glasses": 3,
        "n_particles": 100,
        "units": UNITS,
        "bootstrap": 20,
        "T_min_K": 0.01,
        "T_max_K": 2.0,
        "fields_T": [0.0, 1.0],
        "frequency_Hz": 1e3,
    }
    res = analyse_arrays(dwps, {"id": np.zeros(0, int)}, tmp_path / "analysis", settings)
    path = write_report(res, tmp_path / "report", {"name": "synthetic", "model": "ka3d", "N": 100})
    text = path.read_text()
    assert "P-bar" in text and "![heat capacity](heat_capacity.png)" in text
    for png in ("dwp_histograms.png", "heat_capacity.png", "dielectric.png", "joint_Delta_lnDelta0.png"):
        assert (tmp_path / "report" / png).stat().st_size > 5000
    assert (tmp_path / "analysis" / "predictions.json").is_file()


def test_echo_of_one_system_decays_with_its_rate():
    """A single resonant 2LS: echo(tau12)/echo(tau_min) = exp(-2 r (tau12 - tau_min)) with
    r = 1/tau_phi + Delta0^2 E / (gamma tanh(E/2T)) (seed Eqs. 39, 76)."""
    from etm.echo import OMEGA_PER_K

    E = 2 * np.pi * bridge.ECHO_SETUP["freq_Hz"] / OMEGA_PER_K  # resonant at 1 GHz
    dwps = {"splitting_K": np.array([E]), "Delta0_K": np.array([0.8 * E]), "glass": np.array([0])}
    settings = {"units": UNITS, "n_particles": 1000, "Pbar_fit_J_m3": 1e45}
    d = bridge.echo_prediction(dwps, np.arange(1), settings)
    _, _, _, _, gamma, _, _ = bridge._dielectric_inputs(dwps, np.arange(1), settings)
    a = bridge.ECHO_SETUP
    r = 1 / a["tau_phi_s"] + (0.8 * E) ** 2 * E / (gamma * np.tanh(E / (2 * a["T_K"])))
    tau = d["tau12_s"]
    np.testing.assert_allclose(d["sim"], np.exp(-2 * r * (tau - tau[0])), rtol=1e-8, atol=1e-12)
    assert d["n_resonant"] == 1


def _field_twps(n=3, seed=11):
    """TWPs whose A-B effect is large: D ~ 0.1-1 K, loop areas giving phi ~ 1 rad at 1 T (|q/e| = 1)."""
    rng = np.random.default_rng(seed)
    kpe = UNITS["kelvin_per_epsilon"]
    sigma_A = UNITS["length_m"] * 1e10
    from etm.units import FLUX_PHASE_PER_T_K_A2

    S_A2 = rng.uniform(0.5, 1.5, n) / FLUX_PHASE_PER_T_K_A2
    E = rng.normal(0.0, 0.3, (n, 3))
    return {
        "id": np.arange(n),
        "glass": np.zeros(n, int),
        "E1": E[:, 0] / kpe,
        "E2": E[:, 1] / kpe,
        "E3": E[:, 2] / kpe,
        "D0": rng.uniform(0.1, 1.0, (n, 3)) / kpe,
        "loop_area_particle_max": S_A2 / sigma_A**2,
    }


def _direct_F(twps, T, B, settings, bias=None):
    """Free energy [K] of the TWPs by direct diagonalisation and level sums, orientation averaged
    as the prediction states (Gauss-Legendre in cos beta); bias adds -bias_i to the wells."""
    from etm.hamiltonian import h_3ls_amplitudes
    from etm.units import FLUX_PHASE_PER_T_K_A2

    kpe = UNITS["kelvin_per_epsilon"]
    S = twps["loop_area_particle_max"] * (UNITS["length_m"] * 1e10) ** 2
    x, w = np.polynomial.legendre.leggauss(bridge.TWP_DEFAULTS["orientation_nodes"])
    F = 0.0
    for i in range(len(twps["id"])):
        E = np.array([twps["E1"][i], twps["E2"][i], twps["E3"][i]]) * kpe
        D = twps["D0"][i] * kpe
        for c, wc in zip(0.5 * (x + 1), 0.5 * w, strict=True):
            H = np.asarray(h_3ls_amplitudes(*E, *D, FLUX_PHASE_PER_T_K_A2 * B * S[i] * c))
            if bias is not None:
                H = H - np.diag(bias)
            ev = np.linalg.eigvalsh(H)
            F += wc * (-T * np.log(np.exp(-(ev - ev.min()) / T).sum()) + ev.min())
    return F


def test_twp_field_predictions_equal_the_free_energy_route():
    """C = -T d2F/dT2 and M = -dF/dB (finite differences of F from eigvalsh level sums), the
    static eps' = -d2F/dF^2 in an electric field along x, y, z (isotropic average), in SI units."""
    twps = _field_twps()
    settings = {"units": UNITS, "n_particles": 100, "fields_T": [0.0, 0.5, 1.0], "twp": {"n_fields": 5}}
    T = np.array([0.2, 1.0])
    p = bridge.twp_field_predictions(twps, np.arange(1), settings, T)
    assert p["n_twps"] == 3 and p["field_resolved"]
    mass_g = bridge.sample_mass_g(1, 100, UNITS["particle_mass_kg"])
    for k, B in enumerate(p["B_T"]):
        for i, t in enumerate(T):
            h = 1e-3 * t
            F = [_direct_F(twps, tt, B, settings) for tt in (t - h, t, t + h)]
            C = -t * (F[0] - 2 * F[1] + F[2]) / h**2 * K_B / mass_g
            assert p["C_J_gK"][i, k] == pytest.approx(C, rel=1e-4)
            if B > 0:
                dB = 1e-4
                M = -(_direct_F(twps, t, B + dB, settings) - _direct_F(twps, t, B - dB, settings)) / (2 * dB)
                assert p["M_Am2_g"][i, k] == pytest.approx(M * K_B / mass_g, rel=1e-5)
    # a field shifts the levels (A-B effect): C, M and eps' change with B
    assert abs(p["C_J_gK"][0, -1] - p["C_J_gK"][0, 0]) > 1e-3 * p["C_J_gK"][0, 0]
    assert p["M_Am2_g"][0, 0] == 0 and np.all(p["M_Am2_g"][:, 1:] != 0)
    assert np.max(np.abs(p["deps_rel"][:, -1])) > 1e-3 * np.max(np.abs(p["deps"][:, 0]))
    # static eps' (resonant + relaxation) = -d2F/dF^2 with well dipoles p0 at 120 degrees
    w_K = bridge._dipole_weight_K(np.arange(1), settings)
    ang = 2 * np.pi * np.arange(3) / 3
    dip = np.stack([np.cos(ang), np.sin(ang), np.zeros(3)], axis=1)
    t, k, f = 1.0, len(p["B_T"]) - 1, 1e-3
    chi = 0.0
    for axis in range(3):
        Fs = [_direct_F(twps, t, p["B_T"][k], settings, s * f * dip[:, axis]) for s in (-1, 0, 1)]
        chi += -(Fs[0] - 2 * Fs[1] + Fs[2]) / f**2 / 3
    assert p["deps"][1, k] + p["deps_relaxation"][1, k] == pytest.approx(w_K * chi, rel=1e-4)


def test_twp_echo_against_field_and_zero_field_spectrum_of_the_catalogue():
    """The echo is 1 at B = 0 by construction and moves with B for a symmetric TWP whose lowest
    gap 2 sqrt(3) D0 sin(phi/3) sweeps through 1 GHz (0.048 K); on the stored KA catalogue the
    B = 0 levels are its `spectrum` column."""
    kpe = UNITS["kelvin_per_epsilon"]
    twps = _field_twps(1)
    twps.update(E1=np.zeros(1), E2=np.zeros(1), E3=np.zeros(1))
    twps["D0"] = np.array([[0.08, 0.08, 0.08]]) / kpe
    settings = {"units": UNITS, "n_particles": 100, "fields_T": [0.0, 1.0], "twp": {"n_fields": 11}}
    p = bridge.twp_field_predictions(twps, np.arange(1), settings, [0.1], dwp_echo_J=1.0)
    # degenerate lowest pair at B = 0: no TWP echo there, then it rises through resonance
    J = p["echo_twp_J"]
    assert abs(J[0]) < 1e-20 and np.isnan(p["echo_twp_rel"]).all() and J.max() > 1.0
    np.testing.assert_allclose(p["echo_rel"], 1.0 + J, rtol=1e-12)  # DWP part J = 1, field independent
    from pelsim.landscape.catalogue import Catalogue

    cat = Catalogue.open("docs/data/ka_twp_catalogue.h5", "r")
    t, units = cat.twps(), units_for(cat.attrs["unit_preset"], 1.2, 1.0)
    cat.close()
    lev = bridge.twp_levels(t, [0.0], units)[:, 0, :]
    np.testing.assert_allclose(lev, t["spectrum"] * units["kelvin_per_epsilon"], atol=1e-9)


def test_report_of_the_ka_twp_catalogue_shows_the_field_curves(tmp_path):
    """docs/data/ka_twp_catalogue.h5 (one TWP): the report has the TWP field section and figures,
    and predictions['twp'] holds C, M, eps' and the echo on the (T, B) grid."""
    from analysis.report import analyse

    settings = {
        "n_glasses": 1,
        "n_particles": 270,
        "units": UNITS,
        "bootstrap": 5,
        "T_min_K": 0.01,
        "T_max_K": 2.0,
        "fields_T": [0.0, 1.0],
        "frequency_Hz": 1e3,
    }
    res = analyse("docs/data/ka_twp_catalogue.h5", tmp_path / "analysis", settings)
    tw = res["predictions"]["twp"]
    nT, nB = len(tw["T_K"]), len(tw["B_T"])
    for key in ("C_J_gK", "M_Am2_g", "deps", "deps_rel"):
        assert tw[key].shape == (nT, nB) and np.all(np.isfinite(tw[key])), key
    assert tw["echo_rel"].shape == (nB,) and tw["n_twps"] == 1
    assert not tw["field_resolved"]  # neutral KA particles, D ~ 1e-7 K: the A-B effect is ~1e-30 K
    path = write_report(res, tmp_path / "report", {"name": "ka twp", "model": "ka3d", "N": 270})
    text = path.read_text()
    assert "![TWP field](twp_field.png)" in text and "below float64 resolution" in text
    for png in ("twp_field.png", "twp_heat_capacity.png"):
        assert (tmp_path / "report" / png).stat().st_size > 20000
