"""Fits (etm.fit, ``etm fit``): synthetic data from a preset plus noise round-trip.

The data are generated from a preset of the paper's tables with Gaussian noise of known
sigma; the fit starts 20-30 % away and must recover every free parameter within 3 of its
reported standard errors, with a reduced chi^2 consistent with 1. Noise-free data must be
recovered to high precision (the optimiser really converges).
"""

import json

import numpy as np
import pytest

from etm.cli import main
from etm.columns import heat_capacity_columns, magnetization_columns
from etm.errors import InputError
from etm.fit import fit_arrays, format_report, within_sigma
from etm.presets import preset_values

CP_FREE = ("Pn", "n_fe2", "n_fe3", "D_min", "D0min_qS", "D0max_qS")


def _cp_data(noise_rel, seed=1):
    truth = preset_values("BAS-cp-0.90K")
    T = np.repeat([0.6, 0.9, 1.36], 40)
    B = np.tile(np.linspace(0.0, 3.0, 40), 3)
    y0 = heat_capacity_columns(T, B, truth)["C_total_J_per_gK"]
    sigma = noise_rel * np.max(np.abs(y0))
    y = y0 + np.random.default_rng(seed).normal(0.0, sigma, y0.shape) if sigma > 0 else y0
    return truth, T, B, y, sigma


def _start(truth, names, factors=(1.3, 0.8, 1.25, 1.2, 0.8, 1.2)):
    s = dict(truth)
    for name, f in zip(names, factors, strict=False):
        s[name] = truth[name] * f
    return s


def test_heat_capacity_round_trip_within_3_sigma():
    truth, T, B, y, sigma = _cp_data(0.01)
    rep = fit_arrays(
        "heat-capacity", {"T_K": T, "B_T": B}, y, _start(truth, CP_FREE), sigma=np.full_like(y, sigma)
    )
    assert rep["success"]
    assert set(p for p, v in rep["params"].items() if v["vary"]) == set(CP_FREE)
    z = within_sigma(rep, truth)
    assert max(z.values()) < 3.0, z
    # chi2 of 114 dof: reduced chi2 = 1 +- sqrt(2/114) = 0.13; allow 3 sigma
    assert abs(rep["reduced_chi2"] - 1.0) < 0.4
    # error bars are meaningful: P* n_ATS is determined to a few percent at 1 % noise
    assert 0 < rep["params"]["Pn"]["stderr"] / truth["Pn"] < 0.1
    # the two Fe concentrations are strongly anti-correlated (both shift C_para's peak)
    assert rep["correlations"]["n_fe2,n_fe3"] < -0.5


def test_noise_free_data_recovered_exactly():
    truth, T, B, y, _ = _cp_data(0.0)
    free = ("Pn", "D_min", "D0min_qS", "D0max_qS")
    rep = fit_arrays("heat-capacity", {"T_K": T, "B_T": B}, y, _start(truth, free), vary=list(free))
    for name in free:
        assert rep["params"][name]["value"] == pytest.approx(truth[name], rel=1e-6), name


def test_dielectric_round_trip():
    """Eq. (51) at three temperatures; D0min fixed: alone, (amplitude, D0min, D0max) are nearly
    degenerate (only amplitude x ln(D0max/D0min) and the D0 scale are seen), as the fit's
    correlations of +-1 show when all are free."""
    from etm.columns import dielectric_columns

    truth = preset_values("BAS-eps-94mK")
    B = np.tile(np.linspace(0.0, 0.6, 40), 3)
    T = np.repeat([0.03, 0.094, 0.3], 40)
    y0 = dielectric_columns(T, B, truth)["deps_rel"]
    sigma = 0.02 * np.max(np.abs(y0))
    y = y0 + np.random.default_rng(3).normal(0, sigma, y0.shape)
    free = ["amplitude", "D_min", "D0max_qS"]
    start = _start(truth, free, (1.2, 0.85, 1.1))
    rep = fit_arrays("dielectric", {"T_K": T, "B_T": B}, y, start, vary=free, sigma=sigma)
    z = within_sigma(rep, truth)
    assert rep["success"] and max(z.values()) < 3.0, (z, format_report(rep))
    assert rep["params"]["D0min_qS"] == {"value": truth["D0min_qS"], "stderr": None, "vary": False}


def test_magnetization_offset_is_fitted():
    truth = preset_values("Duran-M")
    B = np.tile(np.linspace(0.2, 5.0, 25), 2)
    T = np.repeat([2.0, 4.2], 25)
    y0 = magnetization_columns(T, B, truth)["M_total_Am2_per_g"] + truth["M_offset"]
    sigma = 1e-3 * np.max(np.abs(y0))
    y = y0 + np.random.default_rng(5).normal(0, sigma, y0.shape)
    free = ["Pn", "n_fe2", "n_fe3", "M_offset"]
    start = _start(truth, free, (1.2, 0.8, 1.2, 0.5))
    rep = fit_arrays("magnetization", {"T_K": T, "B_T": B}, y, start, vary=free, sigma=sigma)
    z = within_sigma(rep, truth)
    assert rep["success"] and max(z.values()) < 3.0, (z, format_report(rep))


def test_fit_cli_json_and_text(tmp_path, capsys):
    truth, T, B, y, sigma = _cp_data(0.01, seed=7)
    f = tmp_path / "cp.csv"
    lines = ["T_K,B_T,C_total_J_per_gK,err"] + [
        f"{t:.17g},{b:.17g},{c:.17g},{sigma:.17g}" for t, b, c in zip(T, B, y, strict=True)
    ]
    f.write_text("\n".join(lines) + "\n")
    code = main(
        [
            "fit",
            "heat-capacity",
            "--data",
            str(f),
            "--material",
            "BAS-cp-0.90K",
            "--D-min",
            "0.6",
            "--Pn",
            "6e16",
            "--sigma",
            "err",
            "--vary",
            "Pn,D_min,D0min_qS,D0max_qS",
            "--format",
            "json",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    rep = json.loads(out)
    assert rep["params"]["n_fe2"]["vary"] is False
    z = within_sigma(rep, truth)
    assert set(z) == {"Pn", "D_min", "D0min_qS", "D0max_qS"} and max(z.values()) < 3.0, z
    code = main(
        [
            "fit",
            "heat-capacity",
            "--data",
            str(f),
            "--material",
            "BAS-cp-0.90K",
            "--vary",
            "Pn,D_min",
            "--bounds",
            "D_min=0.3:0.8",
        ]
    )
    out, _ = capsys.readouterr()
    assert code == 0 and "reduced chi2" in out and "Pn" in out and "correlations" in out


def test_fit_errors(tmp_path, capsys):
    f = tmp_path / "bad.csv"
    f.write_text("T_K,B_T\n1,0\n1,1\n")
    code = main(["fit", "heat-capacity", "--data", str(f), "--material", "BAS-cp-0.90K"])
    assert code == 2 and "missing column" in capsys.readouterr().err
    truth, T, B, y, _ = _cp_data(0.0)
    with pytest.raises(InputError, match="unknown parameter"):
        fit_arrays("heat-capacity", {"T_K": T, "B_T": B}, y, truth, vary=["Gamma"])
    with pytest.raises(InputError, match="starting value"):
        fit_arrays(
            "heat-capacity", {"T_K": T, "B_T": B}, y, truth, vary=["D_min"], bounds={"D_min": (0.6, 0.9)}
        )
    with pytest.raises(InputError, match="unknown fit model"):
        fit_arrays("entropy", {}, y, truth)
