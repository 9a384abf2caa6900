"""``pelsim neb | splitting | search | energy``: every bad option or input is refused as one line
before any work (the computations are replaced by tripwires that fail the test if reached).

Exit codes: 2 bad input, 3 an output that cannot be written, 1 a calculation that failed.
"""

from __future__ import annotations

import errno
import os

import numpy as np
import pytest

from pelsim.cli import main


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    return code, lines


def _refused(capsys, code_wanted, words, *argv):
    code, lines = _run(capsys, *argv)
    assert code == code_wanted, (code, lines)
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    for w in words:
        assert w in lines[0], lines[0]


@pytest.fixture()
def tripwires(monkeypatch):
    """The computations behind the subcommands: reaching one means a refusal came too late."""
    import pelsim.landscape.connect as connect
    import pelsim.landscape.search as search
    import pelsim.tunneling as tunneling

    def tripped(*args, **kwargs):
        raise AssertionError("the computation started before the refusal")

    for mod, name in (
        (connect, "connect"),
        (connect, "relax"),
        (search, "search_glasses"),
        (search, "landscape_energy"),
        (tunneling, "dwp_parameters"),
    ):
        monkeypatch.setattr(mod, name, tripped)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Two KA 2D configurations on a square lattice (valid input; no computation needed)."""
    from pelsim.config import Configuration
    from pelsim.io import write_extxyz
    from pelsim.models import load_model

    d = tmp_path_factory.mktemp("cfg")
    m = load_model("ka2d")
    n, k = 64, 8
    L = m.box_length(n)
    grid = np.stack(np.meshgrid(np.arange(k), np.arange(k), indexing="ij"), -1).reshape(-1, 2)
    R = grid * (L / k) + 0.1
    species = np.array([0] * 51 + [1] * 13, np.int32)
    write_extxyz(d / "A.extxyz", Configuration(R, species, np.full(2, L), "ka2d"))
    R2 = R.copy()
    R2[0] += 0.05
    write_extxyz(d / "B.extxyz", Configuration(R2, species, np.full(2, L), "ka2d"))
    far = R.copy()
    far[40, 0] = 1e308  # wrapped into the cell it lands somewhere, with none of its digits left
    write_extxyz(d / "far.extxyz", Configuration(far, species, np.full(2, L), "ka2d"))
    m3 = load_model("ka3d")
    L3 = m3.box_length(300)
    g3 = np.stack(np.meshgrid(*[np.arange(7)] * 3, indexing="ij"), -1).reshape(-1, 3)[:300] * (L3 / 7) + 0.1
    write_extxyz(d / "C3.extxyz", Configuration(g3, np.repeat([0, 1], [240, 60]), np.full(3, L3), "ka3d"))
    x = np.linspace(-1.5, 1.5, 61)
    (d / "p.csv").write_text("x,V\n" + "\n".join(f"{a:.17g},{(a * a - 1) ** 2:.17g}" for a in x))
    return d


@pytest.mark.parametrize(
    "option, value, words",
    [
        ("--k", "-1", ["--k", "(0, 10000]", "-1"]),
        ("--k", "nan", ["--k", "nan"]),
        ("--k", "1e9", ["--k"]),
        ("--images", "100000", ["--images", "[1, 1000]"]),
        ("--images", "0", ["--images"]),
        ("--fmax", "nan", ["--fmax", "> 0"]),
        ("--fmax", "-1", ["--fmax", "> 0"]),
        ("--fmax", "inf", ["--fmax"]),
    ],
)
def test_neb_options(capsys, files, tripwires, option, value, words):
    _refused(capsys, 2, words, "neb", files / "A.extxyz", files / "B.extxyz", option, value)


def test_neb_out_that_cannot_be_written(capsys, files, tripwires, monkeypatch, tmp_path):
    a, b = files / "A.extxyz", files / "B.extxyz"
    _refused(capsys, 2, ["--out", "is a directory"], "neb", a, b, "--out", tmp_path)
    if not os.access("/sys", os.W_OK) or not os.path.isdir("/sys/pelsim-test"):  # refuses new files
        _refused(capsys, 3, ["--out", "/sys/pelsim-test/x.h5"], "neb", a, b, "--out", "/sys/pelsim-test/x.h5")
    import pelsim.cli.checks as checks

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(tmp_path / "x.h5"))

    monkeypatch.setattr(checks.tempfile, "mkstemp", read_only)
    _refused(capsys, 3, ["--out", "Read-only file system"], "neb", a, b, "--out", tmp_path / "x.h5")
    _refused(capsys, 3, ["--out", "Read-only file system"], "search", a, "--out", tmp_path / "c.h5")
    assert not list(tmp_path.iterdir())


def test_bad_coordinates_refused_on_read(capsys, files, tripwires):
    _refused(capsys, 2, ["far.extxyz", "1e+308", "box lengths"], "energy", files / "far.extxyz")
    _refused(capsys, 2, ["far.extxyz", "box lengths"], "neb", files / "far.extxyz", files / "B.extxyz")
    # a 3D file read as the 2D model: refused, not silently projected onto the xy plane
    c3 = files / "C3.extxyz"
    _refused(capsys, 2, ["C3.extxyz", "non-zero z", "ka2d"], "neb", c3, c3, "--model", "ka2d")


@pytest.mark.parametrize(
    "option, value, words",
    [
        ("--hbar", "1e300", ["--hbar", "(0, 10]"]),
        ("--hbar", "inf", ["--hbar"]),
        ("--hbar", "nan", ["--hbar"]),
        ("--hbar", "0", ["--hbar"]),
        ("--rtol", "-1", ["--rtol", "(0, 0.1]"]),
        ("--rtol", "nan", ["--rtol"]),
        ("--rtol", "0.5", ["--rtol"]),
    ],
)
def test_splitting_options(capsys, files, tripwires, option, value, words):
    argv = ["splitting", files / "p.csv", "--hbar", "0.1", option, value]
    _refused(capsys, 2, words, *argv)


def test_splitting_overflow_is_one_line(capsys, files, monkeypatch):
    import pelsim.tunneling as tunneling

    def overflow(*args, **kwargs):
        return 1e300**2

    monkeypatch.setattr(tunneling, "dwp_parameters", overflow)
    _refused(capsys, 1, ["p.csv", "overflow"], "splitting", files / "p.csv", "--hbar", "0.1")
