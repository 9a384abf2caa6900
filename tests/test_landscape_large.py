"""The N > 400 landscape path: NEB on the fixed pair list of ``search.landscape_energy``.

For N > PAIR_LIST_MIN_N the landscape energy is a static pair list built at a reference IS
(skin 1.5 sigma), exact while no particle has moved more than 0.75 sigma from it. Checked at
N = 1000 (3D KA, the NEB benchmark pair of benchmarks/data, list built at another IS of the
same MD run) against the all-pairs energy (``potentials.energy_fn``, exact for any positions):
(1) on a band that stays inside the skin, the converged pair-list CI-NEB is a converged
all-pairs CI-NEB with the same energies and barrier (1e-8); (2) a band that leaves the skin is
reported invalid (``NEBResult.valid`` False) rather than silently wrong.
N ~ 500 is not possible in 3D: the box (7.5 sigma at N = 500) must exceed 2 (r_c + skin) =
8 sigma, so ``landscape_energy`` raises for 400 < N < 615 (reported to the lead).
"""

from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

import pelsim  # noqa: F401
from pelsim.io import read_extxyz
from pelsim.landscape.identity import max_displacement
from pelsim.landscape.neb import NEBParams, neb, periodic_displacement
from pelsim.landscape.search import PAIR_LIST_MIN_N, landscape_energy
from pelsim.models import load_model
from pelsim.potentials import energy_fn

DATA = Path(__file__).resolve().parents[1] / "benchmarks" / "data"


@pytest.fixture(scope="module")
def system():
    """Two adjacent ISs of KA 3D N=1000; pair list built at an earlier IS of the run."""
    ref, A, B = (read_extxyz(DATA / f"ka3d_n1000_is{k}.extxyz") for k in (0, 3, 4))
    energy, is_valid = landscape_energy(ref)
    exact = energy_fn(load_model("ka3d"), ref.box, ref.species)
    return A, B, energy, is_valid, exact


def test_pair_list_neb_equals_all_pairs_neb(system):
    A, B, energy, is_valid, exact = system
    assert A.n > PAIR_LIST_MIN_N and hasattr(energy, "n_pairs")  # the pair-list path is in use
    assert 0.05 < max_displacement(A.positions, B.positions, A.box) < 0.5  # distinct, inside the skin
    disp = periodic_displacement(A.box)
    p = NEBParams(fmax=1e-2, climb_after=0.0, max_steps=3000)
    r = neb(energy, A.positions, B.positions, 4, p, disp, is_valid=is_valid)
    assert r.converged and r.valid
    assert r.barrier > 0.1  # a real barrier (0.46 eps for this pair)
    # the same band is a converged CI-NEB of the all-pairs energy: zero further steps
    r_ex = neb(exact, None, None, 4, p, disp, band=r.images, is_valid=is_valid)
    assert r_ex.steps == 0 and r_ex.converged
    assert abs(r_ex.barrier - r.barrier) < 1e-8
    assert np.max(np.abs(r_ex.energies - r.energies)) < 1e-8


def test_band_leaving_the_skin_is_reported_invalid(system):
    A, B, energy, is_valid, _ = system
    disp = periodic_displacement(A.box)
    # one particle of the end moved 0.9 sigma: the band leaves the 0.75 sigma validity radius
    far = B.positions.copy()
    far[0] += np.array([0.9, 0.0, 0.0])
    assert not bool(is_valid(jnp.asarray(far)))
    r = neb(energy, A.positions, far, 4, NEBParams(fmax=1e30), disp, is_valid=is_valid)
    assert not r.valid  # (the band inside the skin is valid: previous test)
