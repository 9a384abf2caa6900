"""ASE calculator: energies match pelsim, forces match finite differences, ASE optimizers run."""

import numpy as np
from ase.optimize import FIRE

from pelsim.ase_calc import PelsimCalculator
from pelsim.io import _to_atoms
from pelsim.potentials import energy_fn
from pelsim.prepare import random_configuration


def test_ase_calculator_forces_and_optimizer():
    conf = random_configuration("ka3d", 256, seed=4)
    atoms = _to_atoms(conf)
    atoms.calc = PelsimCalculator("ka3d", "smooth")
    E = atoms.get_potential_energy()
    assert abs(E - float(energy_fn("ka3d", conf.box, conf.species)(conf.positions))) < 1e-9 * abs(E)
    F = atoms.get_forces()
    h = 1e-3
    for i, a in [(0, 0), (99, 2)]:
        vals = []
        for x in (2 * h, h, -h, -2 * h):
            b = atoms.copy()
            b.calc = atoms.calc
            b.positions[i, a] += x
            vals.append(b.get_potential_energy())
        fd = -(8 * (vals[1] - vals[2]) - (vals[0] - vals[3])) / (12 * h)
        assert abs(fd - F[i, a]) < 1e-6 * max(1, abs(F[i, a]))
    assert np.abs(F.sum(axis=0)).max() < 1e-9  # Newton's third law
    opt = FIRE(atoms, logfile=None)
    opt.run(fmax=1e-3, steps=3000)
    assert np.linalg.norm(atoms.get_forces(), axis=1).max() < 1e-3
    assert atoms.get_potential_energy() < E
