"""I/O: extxyz round trips (exact float64), bad input, LAMMPS data, H5MD opened by MDAnalysis."""

import ase.io
import numpy as np
import pytest

from pelsim.config import Configuration
from pelsim.errors import InputError
from pelsim.io import H5MDWriter, read_extxyz, read_h5md, write_extxyz, write_lammps_data


def lattice_conf(n_side=6, dim=3, model="ka3d"):
    g = np.stack(np.meshgrid(*[np.arange(n_side)] * dim, indexing="ij"), -1).reshape(-1, dim) * 1.0
    g += np.random.default_rng(0).uniform(-0.1, 0.1, g.shape)
    sp = (np.arange(len(g)) % 5 == 0).astype(int)
    return Configuration(g, sp, [n_side * 1.0] * dim, model)


def test_extxyz_round_trip_exact(tmp_path):
    c = lattice_conf()
    F = np.random.default_rng(1).normal(size=c.positions.shape)
    write_extxyz(tmp_path / "a.extxyz", c, energy=-1.25, forces=F)
    c2 = read_extxyz(tmp_path / "a.extxyz")
    assert np.array_equal(c2.positions, c.positions) and np.array_equal(c2.species, c.species)
    assert np.array_equal(c2.box, c.box) and c2.model == "ka3d"
    atoms = ase.io.read(tmp_path / "a.extxyz")  # ASE reads our file: symbols, energy, forces
    assert atoms.get_chemical_symbols()[:2] == ["P", "Ni"]
    assert atoms.get_potential_energy() == -1.25
    assert np.array_equal(atoms.get_forces(), F)


def test_extxyz_2d(tmp_path):
    c = lattice_conf(dim=2, model="ka2d")
    write_extxyz(tmp_path / "b.extxyz", c)
    c2 = read_extxyz(tmp_path / "b.extxyz")
    assert c2.model == "ka2d" and np.array_equal(c2.positions, c.positions)


def _write_raw(path, body, header='Lattice="6 0 0 0 6 0 0 0 6" Properties=species:S:1:pos:R:3 pbc="T T T"'):
    lines = body.strip().splitlines()
    path.write_text(f"{len(lines)}\n{header}\n" + "\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(
    "body,header,match",
    [
        ("Ni 0 0 0\nNi nan 1 1", None, "NaN"),
        ("Ni 0 0 0\nP 0.3 0 0", None, "overlap"),
        ("Ni 0 0 0\nFe 1 1 1", None, "unknown symbol"),
        (
            "Ni 0 0 0\nP 1 1 1",
            'Lattice="6 0 0 0 6 0 0 0 6" Properties=species:S:1:pos:R:3 pbc="F F F"',
            "periodic",
        ),
        (
            "Ni 0 0 0\nP 1 1 1",
            'Lattice="6 1 0 0 6 0 0 0 6" Properties=species:S:1:pos:R:3 pbc="T T T"',
            "orthorhombic",
        ),
    ],
)
def test_bad_extxyz(tmp_path, body, header, match):
    p = _write_raw(tmp_path / "bad.extxyz", body, *([header] if header else []))
    with pytest.raises(InputError, match=match):
        read_extxyz(p)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_extxyz(tmp_path / "nope.extxyz")


def test_lammps_data_read_by_ase(tmp_path):
    c = lattice_conf()
    write_lammps_data(tmp_path / "c.data", c)
    atoms = ase.io.read(tmp_path / "c.data", format="lammps-data", atom_style="atomic")
    np.testing.assert_allclose(atoms.positions, np.mod(c.positions, c.box), atol=1e-12)
    assert np.array_equal(atoms.get_array("type") - 1, c.species)
    np.testing.assert_allclose(atoms.cell.lengths(), c.box)


def test_h5md_mdanalysis_round_trip(tmp_path):
    import MDAnalysis as mda

    c = lattice_conf()
    frames = [c.positions + 0.01 * k for k in range(4)]
    with H5MDWriter(tmp_path / "t.h5", c.species, c.box, "ka3d", dt=0.005) as w:
        for k, R in enumerate(frames):
            w.append(R, 100 * k, velocities=R * 0.5, observables={"potential_energy": -k * 1.0})
    assert not (tmp_path / ".t.h5.tmp").exists()
    u = mda.Universe.empty(c.n, trajectory=False)
    u.load_new(str(tmp_path / "t.h5"), format="H5MD", convert_units=False)
    assert len(u.trajectory) == 4
    for k, ts in enumerate(u.trajectory):
        np.testing.assert_allclose(ts.positions, frames[k], atol=1e-5)  # MDAnalysis keeps float32
        np.testing.assert_allclose(ts.dimensions[:3], c.box, atol=1e-6)
        assert abs(ts.time - 0.5 * k) < 1e-9
    c2 = read_h5md(tmp_path / "t.h5", 2)
    assert np.array_equal(c2.positions, frames[2]) and c2.info["step"] == 200


def test_cli_prepare_and_minimize(tmp_path):
    """pelsim prepare writes H5MD + extxyz; pelsim minimize quenches it to max|F| <= 1e-10."""
    import json
    import subprocess
    import sys

    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pelsim",
            "prepare",
            "--n",
            "300",
            "--T",
            "0.8",
            "--T-high",
            "1.0",
            "--steps-high",
            "300",
            "--rate",
            "0.2",
            "--write-every",
            "100",
            "--seed",
            "3",
            "--out",
            str(tmp_path),
            "--quiet",
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout.strip().splitlines()[-1])
    c = read_extxyz(d["extxyz"])
    assert c.n == 300 and abs(c.n / np.prod(c.box) - 1.2) < 1e-9
    assert np.allclose(read_h5md(d["h5md"]).positions, c.positions)
    out = subprocess.run(
        [sys.executable, "-m", "pelsim", "minimize", d["extxyz"], "--out", str(tmp_path / "is.extxyz")],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["converged"] and r["max_force"] <= 1e-10
    out = subprocess.run(
        [sys.executable, "-m", "pelsim", "energy", str(tmp_path / "is.extxyz"), "--json"],
        capture_output=True,
        text=True,
    )
    e = json.loads(out.stdout)
    assert e["max_force"] < 1e-9 and abs(e["energy"] - r["energy"]) < 1e-9 * abs(r["energy"])
