"""CLI: pelsim splitting / neb / catalogue (table, export) on a quartic profile and a KA-2D pair."""

import json
import subprocess
import sys

import numpy as np
import pytest

import pelsim  # noqa: F401
from pelsim.cli import main
from pelsim.tunneling import levels


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_splitting_cli_quartic(tmp_path, capsys):
    hbar = 0.3
    x = np.linspace(-2.2, 2.2, 2201)
    p = tmp_path / "q.csv"
    p.write_text("x,V\n" + "\n".join(f"{a:.17g},{(a * a - 1) ** 2:.17g}" for a in x))
    code, out, _ = run(capsys, "splitting", str(p), "--hbar", str(hbar), "--json")
    assert code == 0
    d = json.loads(out)
    E, _ = levels(lambda y: (y * y - 1) ** 2, -2.2, 2.2, hbar, rtol=1e-12)
    # the profile rises far above the wells at its ends: used as given (no walls)
    assert d["walls_extended"] is False
    assert d["splitting"] == pytest.approx(E[1] - E[0], rel=1e-6)
    assert d["V0"] == pytest.approx(1.0, abs=1e-9) and abs(d["Delta"]) < 1e-9
    assert d["Delta0"] == pytest.approx(d["splitting"], rel=1e-9)
    for k in ("Delta0_wkb", "Delta0_parabola"):
        assert k in d


def test_splitting_cli_errors(tmp_path, capsys):
    code, _, err = run(capsys, "splitting", str(tmp_path / "none.csv"), "--hbar", "0.1")
    assert code == 2 and err.startswith("error:") and "none.csv" in err
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    code, _, err = run(capsys, "splitting", str(bad), "--hbar", "0.1")
    assert code == 2 and "x,V" in err
    code, _, err = run(capsys, "splitting", str(bad), "--hbar", "-1")
    assert code == 2 and "hbar" in err


@pytest.fixture(scope="module")
def ka_pair(tmp_path_factory):
    from pelsim.io import write_extxyz
    from pelsim.landscape.search import adjacent_minima_example

    d = tmp_path_factory.mktemp("ka")
    a, b, s = adjacent_minima_example("ka2d", 64, seed=1)
    write_extxyz(d / "A.extxyz", a)
    write_extxyz(d / "B.extxyz", b)
    return d, a, b, s


@pytest.mark.slow
def test_neb_cli_and_export(ka_pair, capsys):
    d, a, b, s = ka_pair
    code, out, err = run(
        capsys,
        "neb",
        str(d / "A.extxyz"),
        str(d / "B.extxyz"),
        "--images",
        "16",
        "--json",
        "--out",
        str(d / "path.h5"),
    )
    assert code == 0, err
    r = json.loads(out)
    # the NEB saddle is the single-ended (eigenvector-following) saddle of the pair
    assert r["barrier"] == pytest.approx(s.energy - r["E_A"], abs=1e-8)
    assert r["saddle_max_force"] < 1e-8 and r["n_negative_modes"] == 1
    assert r["asymmetry"] == pytest.approx(r["E_B"] - r["E_A"], abs=1e-12)
    code, out, _ = run(capsys, "catalogue", str(d / "path.h5"))
    assert code == 0 and "barrier" in out and "neb" in out
    code, out, _ = run(capsys, "catalogue", str(d / "path.h5"), "--export", str(d / "exp"))
    index = json.loads((d / "exp" / "index.json").read_text())
    assert len(index) == 1
    rec = index[0]
    for k in ("id", "potential", "barrier", "asymmetry", "splitting", "Delta0", "method", "is_tls"):
        assert k in rec
    # independent re-check of the exported files with the engine's all-pairs reference energy
    import jax

    from pelsim.io import read_extxyz
    from pelsim.models import load_model
    from pelsim.potentials import reference_energy

    confs = {n: read_extxyz(d / "exp" / str(rec["id"]) / f"{n}.extxyz") for n in ("min_a", "saddle", "min_b")}
    E = reference_energy(load_model("ka2d"), confs["min_a"].box, confs["min_a"].species)
    e = {n: float(E(c.positions)) for n, c in confs.items()}
    assert rec["barrier"] == pytest.approx(e["saddle"] - e["min_a"], abs=1e-8)
    assert rec["asymmetry"] == pytest.approx(e["min_b"] - e["min_a"], abs=1e-8)
    for c in confs.values():
        F = np.asarray(jax.grad(E)(c.positions))
        assert np.max(np.linalg.norm(F, axis=1)) < 1e-7
    H = np.asarray(jax.hessian(E)(confs["saddle"].positions)).reshape(128, 128)
    assert int(np.sum(np.linalg.eigvalsh(H) < -1e-6)) == 1


def test_neb_cli_bad_input(tmp_path, capsys):
    code, _, err = run(capsys, "neb", str(tmp_path / "a.extxyz"), str(tmp_path / "b.extxyz"))
    assert code == 2 and err.startswith("error:")


def test_console_script_runs():
    r = subprocess.run(
        [sys.executable, "-m", "pelsim", "splitting", "--help"], capture_output=True, text=True
    )
    assert r.returncode == 0 and "--hbar" in r.stdout
