"""The default NEB band optimizer (safeguarded global L-BFGS with FIRE fallback, neb._relax_band).

Against FIRE on the same bands: the same saddles (analytic surfaces, KA) in fewer steps, and
convergence where L-BFGS alone is not reliable (Mueller-Brown: soft springs along a path with
large parallel forces, where the safeguards hand the band over to FIRE).
"""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import pelsim  # noqa: F401
from pelsim.landscape import surfaces as S
from pelsim.landscape.connect import relax
from pelsim.landscape.neb import NEBParams, neb
from pelsim.landscape.saddle import refine_saddle

DATA = Path(__file__).resolve().parents[1] / "benchmarks" / "data"
MB = NEBParams(k=1.0, fmax=1e-6, dt_max=0.01, max_step=0.01, max_steps=50000)


def _mb(i):
    return relax(S.mueller_brown, S.as_position(*S.MUELLER_BROWN_MINIMA[i, :2])).R


@pytest.mark.parametrize("energy_weighted", [False, True])
def test_mueller_brown_saddle_with_default_optimizer(energy_weighted):
    p = replace(MB, energy_weighted=energy_weighted, k=2.0 if energy_weighted else 1.0)
    r = neb(S.mueller_brown, _mb(2), _mb(1), 12, p)
    rf = neb(S.mueller_brown, _mb(2), _mb(1), 12, replace(p, optimizer="fire"))
    assert r.converged and r.max_force < 1e-6
    ci = r.images[r.i_climb]
    assert np.allclose(ci.ravel(), S.MUELLER_BROWN_SADDLES[1, :2], atol=2e-6)
    # refined from the climbing image: the literature saddle (6 decimals)
    sad = refine_saddle(S.mueller_brown, ci)
    assert abs(sad.energy - S.MUELLER_BROWN_SADDLES[1, 2]) < 2e-6  # literature: 6 decimals
    assert abs(r.energies[r.i_climb] - sad.energy) < 1e-9  # energy error ~ |F|^2 / lambda
    assert abs(r.barrier - rf.barrier) < 1e-9
    # measured 1148 vs 1283 (plain springs), 3116 vs 2900 (energy-weighted; both after the fallback)
    assert r.steps < 1.2 * rf.steps


def test_mueller_brown_split_path_band():
    # minimum 0 -> minimum 1 through the shallow minimum 2 (connect's first band, fmax 1e-2)
    p = NEBParams(k=1.0, fmax=1e-2, dt_max=0.01, max_step=0.01)
    r = neb(S.mueller_brown, _mb(0), _mb(1), 16, p)
    rf = neb(S.mueller_brown, _mb(0), _mb(1), 16, replace(p, optimizer="fire"))
    assert r.converged and rf.converged
    assert r.interior_minima() and abs(r.energies.max() - S.MUELLER_BROWN_SADDLES[0, 2]) < 1e-3
    assert r.steps < rf.steps  # measured 234 vs 603


def test_ka_band_fewer_steps_than_fire_same_barrier(full):
    """KA 3D N=1000, the NEB benchmark pair (benchmarks/data, is3 -> is4, elementary, barrier
    0.46216 eps). Reduced: 4 images, fmax 1e-2. Full: the benchmark band (16 images, fmax 1e-3),
    where the climbing image alternates between images early on (the former L-BFGS, which reset
    its memory on every switch, did not converge there)."""
    from pelsim.io import read_extxyz
    from pelsim.landscape.neb import periodic_displacement
    from pelsim.landscape.search import landscape_energy

    ref, A, B = (read_extxyz(DATA / f"ka3d_n1000_is{k}.extxyz") for k in (0, 3, 4))
    energy, is_valid = landscape_energy(ref)
    disp = periodic_displacement(A.box)
    n, fmax = (16, 1e-3) if full else (4, 1e-2)
    p = NEBParams(fmax=fmax, climb_after=0.0, max_steps=5000)
    r = neb(energy, A.positions, B.positions, n, p, disp, is_valid=is_valid)
    rf = neb(energy, A.positions, B.positions, n, replace(p, optimizer="fire"), disp, is_valid=is_valid)
    assert r.converged and r.valid and rf.converged
    assert abs(r.barrier - rf.barrier) < (1e-6 if full else 1e-3)
    assert abs(r.barrier - 0.46216) < (1e-4 if full else 1e-2)  # reduced: 4 images, fmax 1e-2
    # measured: 246 vs 1139 (full), 75 vs 118 (reduced)
    assert r.steps < (rf.steps / 3 if full else rf.steps), (r.steps, rf.steps)
