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
