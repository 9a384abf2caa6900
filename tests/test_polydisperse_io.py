"""Per-particle diameters through extxyz, H5MD and LAMMPS data (atom_style charge, box off the
origin: the layout of the published swap-MC inherent structures) and ``pelsim energy``."""

import json
import subprocess
import sys

import numpy as np
import pytest

from pelsim.errors import InputError
from pelsim.io import (
    H5MDWriter,
    read_configuration,
    read_extxyz,
    read_h5md,
    read_lammps_data,
    write_extxyz,
    write_lammps_data,
)
from pelsim.prepare import random_configuration
from tests.test_polydisperse import numpy_energy_forces


@pytest.fixture(scope="module")
def conf():
    return random_configuration("polydisperse-ss", 100, seed=3)


def test_extxyz_round_trip(conf, tmp_path):
    write_extxyz(tmp_path / "c.extxyz", conf)
    back = read_extxyz(tmp_path / "c.extxyz")
    assert back.model == "polydisperse-ss"
    np.testing.assert_array_equal(back.diameters, conf.diameters)
    np.testing.assert_array_equal(back.positions, conf.positions)
    import ase.io

    atoms = ase.io.read(tmp_path / "c.extxyz")  # ASE sees the column too
    np.testing.assert_array_equal(atoms.arrays["diameter"], conf.diameters)


def test_h5md_round_trip_with_changing_diameters(conf, tmp_path):
    swapped = conf.diameters[::-1].copy()
    with H5MDWriter(tmp_path / "t.h5", conf.species, conf.box, conf.model, diameters=conf.diameters) as w:
        w.append(conf.positions, 0)
        w.append(conf.positions + 0.01, 10, diameters=swapped)
    first, last = read_h5md(tmp_path / "t.h5", 0), read_h5md(tmp_path / "t.h5")
    np.testing.assert_array_equal(first.diameters, conf.diameters)
    np.testing.assert_array_equal(last.diameters, swapped)
    assert read_configuration(tmp_path / "t.h5").diameters is not None


@pytest.mark.parametrize("origin", [0.0, -3.25])
def test_lammps_charge_round_trip(conf, tmp_path, origin):
    write_lammps_data(tmp_path / "c.data", conf, origin=origin)
    assert "Atoms # charge" in (tmp_path / "c.data").read_text()
    back = read_lammps_data(tmp_path / "c.data")
    assert back.model == "polydisperse-ss"
    np.testing.assert_array_equal(back.diameters, conf.diameters)
    d = back.positions - np.mod(conf.positions, conf.box)
    d -= conf.box * np.round(d / conf.box)
    assert np.abs(d).max() < 1e-12


def test_ka_lammps_atomic_round_trip(tmp_path):
    c = random_configuration("ka3d", 100, seed=1)
    write_lammps_data(tmp_path / "k.data", c)
    back = read_lammps_data(tmp_path / "k.data")
    assert back.model == "ka3d" and back.diameters is None
    np.testing.assert_array_equal(back.species, c.species)


# Hand-written, the published layout: atom_style charge, the diameter in the charge column, the box
# from -L/2 to L/2, atoms not in id order, image flags, no style comment. L = 4.8 (two pairs inside the
# cutoff: 1-2 at r = 1.0 with sigma_1 = 0.9, sigma_2 = 1.1, and 3-4 across the boundary at r = 0.9).
PUBLISHED = """LAMMPS data file written by hand (layout of the swap-MC inherent structures)

5 atoms
1 atom types

-2.4 2.4 xlo xhi
-2.4 2.4 ylo yhi
-2.4 2.4 zlo zhi

Masses

1 1.0

Atoms

2 1 1.1 1.0 0.0 0.0 0 0 0
1 1 0.9 0.0 0.0 0.0 0 0 0
3 1 1.0 1.95 1.5 0.0 0 0 0
4 1 1.0 -1.95 1.5 0.0 -1 0 0
5 1 1.3 0.0 -1.8 1.8 0 0 0

Velocities

1 0 0 0
"""


def _published_energy():
    c0, c2, c4 = -28 / 1.25**12, 48 / 1.25**14, -21 / 1.25**16
    v = lambda x: x**-12 + c0 + c2 * x**2 + c4 * x**4  # noqa: E731
    s12 = 1.0 * (1 - 0.2 * 0.2)  # (0.9 + 1.1)/2 (1 - 0.2 |0.9 - 1.1|)
    return v(1.0 / s12) + v(0.9 / 1.0)


def test_published_layout(tmp_path):
    p = tmp_path / "is.data"
    p.write_text(PUBLISHED)
    c = read_lammps_data(p, "polydisperse-ss")
    np.testing.assert_allclose(c.diameters, [0.9, 1.1, 1.0, 1.0, 1.3])  # ordered by id
    np.testing.assert_allclose(c.box, [4.8, 4.8, 4.8])
    np.testing.assert_allclose(c.positions[0], [2.4, 2.4, 2.4])  # shifted by -lo
    E_ref, _ = numpy_energy_forces(c.positions, c.diameters, c.box)
    assert E_ref == pytest.approx(_published_energy(), rel=1e-12)


def test_cli_energy_on_published_layout(tmp_path):
    p = tmp_path / "is.data"
    p.write_text(PUBLISHED)
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pelsim",
            "--device",
            "cpu",
            "energy",
            str(p),
            "--model",
            "polydisperse-ss",
            "--json",
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["energy"] == pytest.approx(_published_energy(), rel=1e-10)
    assert out["energy_per_particle"] == pytest.approx(_published_energy() / 5, rel=1e-10)
    c = read_lammps_data(p)
    _, F = numpy_energy_forces(c.positions, c.diameters, c.box)
    assert out["max_force"] == pytest.approx(np.sqrt((F**2).sum(1)).max(), rel=1e-10)


def test_bad_files(tmp_path, conf):
    p = tmp_path / "bad.data"
    p.write_text(PUBLISHED.replace("5 atoms", "6 atoms"))
    with pytest.raises(InputError, match="header says 6 atoms"):
        read_lammps_data(p, "polydisperse-ss")
    p.write_text("just text\n")
    with pytest.raises(InputError, match="not a LAMMPS data file"):
        read_lammps_data(p)
    q = conf.copy()
    q.diameters = None
    write_lammps_data(tmp_path / "nod.data", q)
    assert "Atoms # atomic" in (tmp_path / "nod.data").read_text()
    with pytest.raises(InputError, match="needs per-particle diameters"):
        read_lammps_data(tmp_path / "nod.data", "polydisperse-ss")
    write_lammps_data(tmp_path / "k.data", random_configuration("ka3d", 100, seed=1))
    with pytest.raises(InputError, match="atom types outside 1..1"):
        read_lammps_data(tmp_path / "k.data", "polydisperse-ss")
    write_extxyz(tmp_path / "nod.extxyz", q)
    with pytest.raises(InputError, match="needs per-particle diameters"):
        read_extxyz(tmp_path / "nod.extxyz")
