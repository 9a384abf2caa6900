"""The etm CLI: its output equals the Python API and independent routes; bad input exits 2.

Most calls run in-process through ``etm.cli.main([...])``; two subprocess calls check the
console script's exit codes and that no traceback reaches the user.
"""

import csv
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from etm.cli import main
from etm.errors import InputError
from etm.grids import outer_product, parse_grid
from etm.params import ATSParams
from etm.units import FLUX_PHASE_PER_T_K_A2

ETM = os.path.join(os.path.dirname(sys.executable), "etm")


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def table(text):
    rows = list(csv.reader(io.StringIO(text)))
    header = rows[0]
    data = np.array([[float(x) for x in r] for r in rows[1:]], dtype=float)
    return header, {h: data[:, i] for i, h in enumerate(header)}


# ----------------------------------------------------------------------------- grids


def test_grid_forms():
    assert parse_grid("0.5", "--T").tolist() == [0.5]
    assert parse_grid("0.1, 0.2,0.5", "--T").tolist() == [0.1, 0.2, 0.5]
    np.testing.assert_array_equal(parse_grid("0:2:5", "--B"), np.linspace(0, 2, 5))
    np.testing.assert_array_equal(parse_grid("-1:1:3", "--B"), [-1.0, 0.0, 1.0])
    T, B = outer_product([1.0, 2.0], [0.0, 0.5, 1.0])
    assert T.tolist() == [1, 1, 1, 2, 2, 2] and B.tolist() == [0, 0.5, 1, 0, 0.5, 1]


@pytest.mark.parametrize(
    "text", ["", "a", "1,,2", "1:2", "0:1:0", "0:1:x", "0:1:2:3", "nan", "1,inf", "0:1:1e12"]
)
def test_malformed_grids(text):
    with pytest.raises(InputError, match="--T"):
        parse_grid(text, "--T")


# ----------------------------------------------------------------------------- CLI = API

BAS = dict(D_min=0.53, D0min_qS=5.07e4, D0max_qS=2.90e5)  # Table 2, 0.90 K
BAS_CONC = dict(Pn=5.19e16, n_fe2=1.06e17, n_fe3=5.00e16)  # Table 1


def test_heat_capacity_equals_api_rows_T_outer_B_inner(capsys):
    from etm.heat_capacity import c_ats, c_paramagnetic

    code, out, err = run(
        capsys, "heat-capacity", "--material", "BAS-cp-0.90K", "--T", "0.6,0.9", "--B", "0:2:4"
    )
    assert code == 0, err
    header, c = table(out)
    assert header == ["T_K", "B_T", "C_ATS_J_per_gK", "C_para_J_per_gK", "C_total_J_per_gK"]
    T, B = outer_product([0.6, 0.9], np.linspace(0, 2, 4))
    np.testing.assert_array_equal(c["T_K"], T)
    np.testing.assert_array_equal(c["B_T"], B)
    p = ATSParams(**BAS)
    ats = c_ats(T, B, p, BAS_CONC["Pn"])
    para = c_paramagnetic(T, B, BAS_CONC["n_fe2"], 2.0, 2.0) + c_paramagnetic(
        T, B, BAS_CONC["n_fe3"], 2.5, 2.0
    )
    np.testing.assert_allclose(c["C_ATS_J_per_gK"], ats, rtol=1e-14)
    np.testing.assert_allclose(c["C_para_J_per_gK"], para, rtol=1e-14)
    np.testing.assert_allclose(c["C_total_J_per_gK"], ats + para, rtol=1e-14)
    # physics: the Fe terms vanish at B = 0 (no Zeeman splitting), the ATS term does not (Sec. 4.2)
    at0 = c["B_T"] == 0
    assert np.all(c["C_para_J_per_gK"][at0] == 0) and np.all(c["C_ATS_J_per_gK"][at0] > 0)


def test_explicit_flags_override_the_material(capsys):
    from etm.heat_capacity import c_ats

    code, out, _ = run(
        capsys,
        "heat-capacity",
        "--material",
        "BAS-cp-0.90K",
        "--D-min",
        "0.6",
        "--Pn",
        "1e16",
        "--n-fe2",
        "0",
        "--n-fe3",
        "0",
        "--T",
        "0.9",
        "--B",
        "0.5",
    )
    assert code == 0
    _, c = table(out)
    ref = c_ats(0.9, 0.5, ATSParams(0.6, BAS["D0min_qS"], BAS["D0max_qS"]), 1e16)
    assert c["C_ATS_J_per_gK"][0] == pytest.approx(float(ref), rel=1e-14)
    assert c["C_para_J_per_gK"][0] == 0.0


def test_orientation_average_is_phi2_over_3(capsys):
    """--no-orientation-average at B equals the default (phi^2/3) at sqrt(3) B."""
    flags = ["--D-min", "0.5", "--D0min-qS", "5e4", "--D0max-qS", "3e5", "--Pn", "1e16", "--T", "0.7"]
    _, out1, _ = run(capsys, "heat-capacity", *flags, "--B", "0.4", "--no-orientation-average")
    _, out2, _ = run(capsys, "heat-capacity", *flags, "--B", repr(float(0.4 * np.sqrt(3))))
    c1, c2 = table(out1)[1]["C_ATS_J_per_gK"][0], table(out2)[1]["C_ATS_J_per_gK"][0]
    assert c1 == pytest.approx(c2, rel=1e-12)


def test_magnetization_equals_api_and_minus_dF_dB(capsys):
    from etm.free_energy import m_ats_free_energy
    from etm.magnetization import m_ats, m_brillouin

    code, out, err = run(capsys, "magnetization", "--material", "Duran-M", "--T", "2,4.2", "--B", "0.5,2")
    assert code == 0, err
    header, c = table(out)
    assert header == ["T_K", "B_T", "M_ATS_Am2_per_g", "M_para_Am2_per_g", "M_total_Am2_per_g"]
    p = ATSParams(5.35e-2, 2.00e5, 2.81e5, B_star=1.63)  # Table 11
    T, B = c["T_K"], c["B_T"]
    np.testing.assert_allclose(c["M_ATS_Am2_per_g"], m_ats(T, B, p, 8.68e16), rtol=1e-14)
    para = m_brillouin(T, B, 3.07e17, 2.0, 2.0) + m_brillouin(T, B, 2.13e17, 2.5, 2.0)
    np.testing.assert_allclose(c["M_para_Am2_per_g"], para, rtol=1e-14)
    # independent route: M_ATS = -dF/dB of the free energy of the same distribution (autodiff)
    np.testing.assert_allclose(c["M_ATS_Am2_per_g"], m_ats_free_energy(T, B, p, 8.68e16), rtol=1e-6)


def test_paramagnetic_magnetization_saturates_at_n_g_muB_J(capsys):
    """Curie limit and saturation of the Brillouin column (Eq. 90) through the CLI."""
    from etm.units import MU_B

    _, out, _ = run(
        capsys,
        "magnetization",
        "--D-min",
        "0.1",
        "--D0min-qS",
        "1e4",
        "--D0max-qS",
        "2e4",
        "--Pn",
        "0",
        "--n-fe3",
        "1e17",
        "--T",
        "0.01",
        "--B",
        "10",
    )
    m = table(out)[1]["M_para_Am2_per_g"][0]
    assert m == pytest.approx(1e17 * 2.0 * MU_B * 2.5, rel=1e-9)


def test_dielectric_loss_dos_equal_api(capsys):
    from etm.dielectric import deps_ats
    from etm.dos import g_ats
    from etm.loss import dtan_delta_ats

    code, out, err = run(
        capsys, "dielectric", "--material", "BAS-eps-50mK", "--T", "0.05", "--B", "0,0.02,0.2"
    )
    assert code == 0, err
    header, c = table(out)
    assert header == ["T_K", "B_T", "deps_rel"]
    p = ATSParams(0.015, 2.440e5, 3.080e5)
    np.testing.assert_allclose(
        c["deps_rel"], deps_ats(c["T_K"], c["B_T"], p, 0.89e-5), rtol=1e-13, atol=1e-300
    )
    assert c["deps_rel"][0] == 0.0  # relative to B = 0 by definition (Eq. 51)

    code, out, err = run(
        capsys, "loss", "--material", "BK7-loss-15mK", "--T", "0.015", "--B", "0.1", "--frequency", "2e3"
    )
    assert code == 0, err
    header, c = table(out)
    assert header == ["T_K", "B_T", "dtan_delta"]
    p = ATSParams(0.0287, 0.69e3, 0.66e4)
    ref = dtan_delta_ats(0.015, 0.1, p, 2.02e-5, 3.34e9, 2 * np.pi * 2e3)
    assert c["dtan_delta"][0] == pytest.approx(float(ref), rel=1e-13)

    code, out, err = run(capsys, "dos", "--material", "BAS-cp-0.90K", "--E", "0.2,1,3", "--B", "0,0.5")
    assert code == 0, err
    header, c = table(out)
    assert header == ["E_K", "B_T", "g_ATS_per_K_per_g"]
    np.testing.assert_allclose(
        c["g_ATS_per_K_per_g"], g_ats(c["E_K"], c["B_T"], ATSParams(**BAS), 5.19e16), rtol=1e-14
    )
    # B = 0, E > D_min: g = 2 pi Pn ln(D0max/D0min) / E (Eq. 13); below D_min nothing
    sel = (c["B_T"] == 0) & (c["E_K"] > BAS["D_min"])
    np.testing.assert_allclose(
        c["g_ATS_per_K_per_g"][sel], 2 * np.pi * 5.19e16 * np.log(2.90e5 / 5.07e4) / c["E_K"][sel], rtol=1e-12
    )
    assert c["g_ATS_per_K_per_g"][(c["E_K"] == 0.2) & (c["B_T"] == 0)][0] == 0.0


def test_spectrum_equals_numerical_diagonalisation(capsys):
    code, out, err = run(
        capsys, "spectrum", "--E1", "0.3", "--E2", "-0.1", "--E3", "-0.2", "--D0", "1", "--phi=-3:3:7"
    )
    assert code == 0, err
    header, c = table(out)
    assert header == ["phi", "E0", "E1", "E2"]
    for i, phi in enumerate(c["phi"]):
        a = np.exp(1j * phi / 3)
        H = np.array([[0.3, a, a.conj()], [a.conj(), -0.1, a], [a, a.conj(), -0.2]])  # Eq. (6), D0 = 1
        ev = np.linalg.eigvalsh(H)
        np.testing.assert_allclose([c["E0"][i], c["E1"][i], c["E2"][i]], ev, atol=1e-12)


def test_tunneling_equals_eq4(capsys):
    code, out, _ = run(capsys, "tunneling", "--V0", "0,2,5", "--hbar-omega", "1,4")
    assert code == 0
    header, c = table(out)
    assert header == ["V0_K", "hbar_omega_K", "Delta0_K"]
    V0, hw = c["V0_K"], c["hbar_omega_K"]
    ref = hw / 2 * (3 - np.sqrt(8 * V0 / (np.pi * hw))) * np.exp(-2 * V0 / hw)
    np.testing.assert_allclose(c["Delta0_K"], np.maximum(ref, 0.0), rtol=1e-14)
    assert ref[4] < 0 and c["Delta0_K"][4] == 0.0  # V0/hbar Omega = 5 > 9 pi/8: clamped, never negative
    np.testing.assert_array_equal(V0, [0, 0, 2, 2, 5, 5])  # V0 outer, hbar Omega inner


def test_echo_passes_table8_values_to_the_api(capsys, monkeypatch):
    """The echo integral itself is tested in the echo module's tests (it costs ~15 s to
    compile); here a spy checks that the CLI hands etm.echo.echo_amplitude exactly the
    preset's values in SI units (Table 8: Gamma, c x 1e6; D_min mK -> K) and the defaults."""
    import etm.echo

    seen = {}

    def spy(B_T, params, **kw):
        seen.update(kw, B=np.asarray(B_T), params=params)
        return 1.0 - 0.5 * np.asarray(B_T)

    monkeypatch.setattr(etm.echo, "echo_amplitude", spy)
    code, out, err = run(capsys, "echo", "--material", "BK7-echo-1.5us", "--B", "0,0.2", "--T", "0.02")
    assert code == 0, err
    header, c = table(out)
    assert header == ["B_T", "echo_rel"]
    np.testing.assert_array_equal(c["echo_rel"], [1.0, 0.9])
    assert seen["params"] == ATSParams(0.01676, 0.92e3, 1.34e4)
    expected = dict(
        ats_ratio=0.5,
        T_K=0.02,
        freq_Hz=0.9e9,
        tau1_s=1e-7,
        tau2_s=2e-7,
        tau12_s=1.5e-6,
        p1F0_D_kV_m=0.60,
        Gamma=8.91e12,
        c_ats=1.03e6,
        tan_omega_dtau=0.207,
    )
    for k, v in expected.items():
        assert seen[k] == pytest.approx(v, rel=1e-12), k
    code, _, err = run(
        capsys, "echo", "--D-min", "0.02", "--D0min-qS", "1e3", "--D0max-qS", "1e4", "--B", "0.1"
    )
    assert code == 2 and "--p1F0" in err


def test_json_equals_csv_and_out_file(capsys, tmp_path):
    argv = ["heat-capacity", "--material", "Duran-cp-1.36K", "--T", "1.36", "--B", "0,1"]
    _, out, _ = run(capsys, *argv)
    _, js, _ = run(capsys, *argv, "--format", "json")
    rows = json.loads(js)
    _, c = table(out)
    assert [r["C_total_J_per_gK"] for r in rows] == c["C_total_J_per_gK"].tolist()
    f = tmp_path / "c.csv"
    code, out2, _ = run(capsys, *argv, "--out", str(f))
    assert code == 0 and out2 == "" and f.read_text() == out


def test_flux_convention_constant():
    assert FLUX_PHASE_PER_T_K_A2 == pytest.approx(1.51927e-5, rel=1e-5)


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["heat-capacity", "--material", "BAS-cp-0.90K", "--T", "0", "--B", "1"], "T"),
        (["heat-capacity", "--material", "BAS-cp-0.90K", "--T", "-1,1", "--B", "1"], "T"),
        (
            [
                "heat-capacity",
                "--D-min",
                "0.5",
                "--D0min-qS",
                "3e5",
                "--D0max-qS",
                "1e5",
                "--Pn",
                "1",
                "--T",
                "1",
                "--B",
                "1",
            ],
            "D0min",
        ),
        (["magnetization", "--material", "Pyrex", "--T", "1", "--B", "1"], "unknown material"),
        (["dielectric", "--material", "BAS-eps-50mK", "--T", "0.05", "--B", "0:1"], "--B"),
        (["dos", "--material", "BAS-cp-0.90K", "--E", "1,,2", "--B", "0"], "--E"),
        (["heat-capacity", "--T", "1", "--B", "1"], "--D-min"),
        (["heat-capacity", "--material", "BAS-cp-0.90K", "--T", "1", "--B", "-1"], "B"),
        (["loss", "--material", "BAS-loss-77mK", "--T", "0.08", "--B", "0", "--frequency", "0"], "frequency"),
        (["spectrum", "--E1", "0", "--E2", "0", "--E3", "0", "--D0", "-1", "--phi", "0"], "D0"),
        (
            ["fit", "heat-capacity", "--data", "/nonexistent/data.csv", "--material", "BAS-cp-0.90K"],
            "not found",
        ),
        (["heat-capacity", "--material", "BAS-cp-0.90K", "--T", "1", "--B", "1", "--plot", "x.pdf"], "png"),
        (["heat-capacity", "--T", "1"], "--B"),
        (["no-such-command"], "invalid choice"),
    ],
)
def test_bad_input_one_line_exit_2(capsys, argv, needle):
    code, out, err = run(capsys, *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "cmd",
    [
        "spectrum",
        "dos",
        "heat-capacity",
        "magnetization",
        "dielectric",
        "loss",
        "echo",
        "tunneling",
        "materials",
        "plot",
        "fit",
        "demo",
    ],
)
def test_help_for_every_command(capsys, cmd):
    code, out, _ = run(capsys, cmd, "--help")
    assert code == 0 and "usage: etm " + cmd in out


def test_materials_lists_presets(capsys):
    from etm.presets import material_names

    code, out, _ = run(capsys, "materials", "--format", "json")
    assert code == 0
    assert [r["name"] for r in json.loads(out)] == material_names()
    code, out, _ = run(capsys, "materials")
    assert "BAS-cp-0.90K" in out and "BK7-eps-15mK" in out and "Duran-M" in out


def test_console_script_exit_codes():
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    bad = subprocess.run(
        [ETM, "heat-capacity", "--material", "BAS-cp-0.90K", "--T", "0", "--B", "1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0 and bad.stderr.startswith("error: ")
    ok = subprocess.run(
        [ETM, "tunneling", "--V0", "1", "--hbar-omega", "2"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert ok.returncode == 0 and ok.stdout.splitlines()[0] == "V0_K,hbar_omega_K,Delta0_K"
