"""Dimer method: rotation = lowest Hessian mode, Mueller-Brown saddles, KA saddles (dimer + Newton
= eigenvector following on the dense Hessian), and the saddle energy of ase.mep.dimer on KA."""

import numpy as np
import pytest

import pelsim  # noqa: F401
from pelsim.landscape import surfaces as S
from pelsim.landscape.dimer import dimer, lowest_curvature
from pelsim.landscape.saddle import hessian_matrix, refine_saddle, single_ended_search


@pytest.mark.parametrize(
    "start,which", [((-0.75, 0.7), 0), ((-0.9, 0.5), 0), ((0.15, 0.35), 1), ((0.3, 0.2), 1)]
)
def test_dimer_mueller_brown_saddles(start, which):
    rng = np.random.default_rng(which)
    r = dimer(S.mueller_brown, S.as_position(*start), rng.normal(size=(1, 2)), fmax=1e-9, trust=0.05)
    assert r.converged and r.curvature < 0
    # literature positions are given to 6 decimals (their energies to ~2e-6)
    np.testing.assert_allclose(r.R.ravel(), S.MUELLER_BROWN_SADDLES[which, :2], atol=1e-6)
    assert abs(r.energy - S.MUELLER_BROWN_SADDLES[which, 2]) < 3e-6
    ef = refine_saddle(S.mueller_brown, S.as_position(*S.MUELLER_BROWN_SADDLES[which, :2]), method="ef")
    np.testing.assert_allclose(r.R, ef.R, atol=1e-9)
    assert abs(r.energy - ef.energy) < 1e-9
    lam = np.linalg.eigvalsh(hessian_matrix(S.mueller_brown, r.R))
    assert lam[0] < 0 < lam[1]
    assert abs(r.curvature - lam[0]) < 1e-6 * abs(lam[0])


@pytest.fixture(scope="module")
def ka_is():
    from pelsim.landscape.search import landscape_energy
    from pelsim.prepare import quench, random_configuration

    IS, res = quench(random_configuration("ka2d", 64, seed=1))
    energy, _ = landscape_energy(IS)
    return IS, res.energy, energy


def test_rotation_finds_lowest_mode_ka(ka_is):
    IS, _, energy = ka_is
    R = IS.positions + 0.05 * np.random.default_rng(3).normal(size=IS.positions.shape)
    lam, vec = np.linalg.eigh(hessian_matrix(energy, R))
    lam, vec = lam[np.abs(lam) > 1e-6], vec[:, np.abs(lam) > 1e-6]  # two translations
    C, n = lowest_curvature(energy, R, max_iter=2000, tol=1e-9)
    assert abs(C - lam[0]) < 1e-8 * max(1.0, abs(lam[0]))
    assert abs(abs(n.ravel() @ vec[:, 0]) - 1.0) < 1e-8


def test_dimer_and_ef_agree_on_ka_saddle(ka_is):
    """Single-ended search (ART activation + dimer + Newton) gives a true first-order saddle; the
    dimer restarted from a perturbed copy and eigenvector following on the dense Hessian land on
    the same saddle (energy to 1e-9 eps, positions to 1e-6 sigma)."""
    IS, E_is, energy = ka_is
    lam, vec = np.linalg.eigh(hessian_matrix(energy, IS.positions))
    mode = vec[:, np.argmax(lam > 1e-6)].reshape(IS.positions.shape)
    s = single_ended_search(energy, IS.positions, mode)
    assert s.converged and s.n_negative == 1 and s.max_force <= 1e-10 and s.energy > E_is
    R0 = s.R + 0.01 * np.random.default_rng(5).normal(size=s.R.shape)
    d = refine_saddle(energy, R0, direction=s.mode, method="dimer")
    ef = refine_saddle(energy, R0, direction=s.mode, method="ef")
    for r in (d, ef):
        assert r.converged and r.n_negative == 1 and r.max_force <= 1e-10
        assert abs(r.energy - s.energy) < 1e-9
        diff = r.R - s.R
        diff -= np.mean(diff, axis=0)  # a uniform translation is the same saddle
        assert np.abs(diff).max() < 1e-6
    assert d.method == "dimer" and abs(d.eigenvalue - ef.eigenvalue) < 1e-6


@pytest.mark.slow
def test_saddle_energy_matches_ase_dimer(full):
    """Same start and initial direction: ase.mep.dimer (finite-difference dimer, CG translation)
    through our ASE calculator reaches the saddle energy of our dimer within 1e-6 eps."""
    from ase.mep.dimer import DimerControl, MinModeAtoms, MinModeTranslate

    from pelsim.ase_calc import PelsimCalculator
    from pelsim.io import _to_atoms
    from pelsim.landscape.search import landscape_energy
    from pelsim.prepare import quench, random_configuration

    model, n = ("ka3d", 270) if full else ("ka3d", 160)
    IS, _ = quench(random_configuration(model, n, seed=2))
    energy, _ = landscape_energy(IS)
    lam, vec = np.linalg.eigh(hessian_matrix(energy, IS.positions))
    mode = vec[:, np.argmax(lam > 1e-6)].reshape(IS.positions.shape)
    s = single_ended_search(energy, IS.positions, mode)
    assert s.converged and s.n_negative == 1
    rng = np.random.default_rng(0)
    R0 = s.R + 0.02 * rng.normal(size=s.R.shape)
    n0 = s.mode + 0.1 * rng.normal(size=s.R.shape)
    ours = refine_saddle(energy, R0, direction=n0)
    assert ours.converged and ours.n_negative == 1

    atoms = _to_atoms(IS.copy(R0))
    atoms.calc = PelsimCalculator(model)
    ctrl = DimerControl(
        logfile=None,
        eigenmode_logfile=None,
        max_num_rot=4,
        f_rot_min=1e-3,
        maximum_translation=0.05,
        dimer_separation=1e-4,
    )
    d_atoms = MinModeAtoms(atoms, ctrl, eigenmodes=[n0 / np.linalg.norm(n0)], random_seed=0)
    opt = MinModeTranslate(d_atoms, logfile=None)
    opt.run(fmax=1e-4, steps=4000 if full else 2000)
    f = np.linalg.norm(atoms.get_forces(), axis=1).max()
    assert f < 1e-4
    assert abs(atoms.get_potential_energy() - ours.energy) < 1e-6
