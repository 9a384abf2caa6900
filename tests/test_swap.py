"""Swap Monte Carlo: exact energy changes, detailed balance (the exact distribution of the 24
diameter permutations of 4 particles), and a reduced-scale equilibration check of hybrid MD/swap."""

import itertools
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pelsim.errors import InputError
from pelsim.models import load_model
from pelsim.polydisperse import energy_fn
from pelsim.prepare import random_configuration
from pelsim.swap import SwapMD, SwapThermo, self_intermediate_scattering, swap_attempts, swap_delta

MODEL = load_model("polydisperse-ss")


def tiny():
    """4 particles of distinct diameters close enough to interact, in a box of side 5."""
    R = np.array([[1.0, 1.0, 1.0], [2.05, 1.1, 1.0], [1.5, 2.0, 1.1], [2.3, 2.2, 1.9]])
    diam = np.array([0.8, 1.0, 1.2, 1.5])
    box = np.full(3, 5.0)
    idx = np.array([[k for k in range(4) if k != i] for i in range(4)], np.int32)
    return R, diam, box, idx


def test_swap_delta_is_the_exact_energy_change():
    conf = random_configuration("polydisperse-ss", 120, seed=2)
    from pelsim.polydisperse import pair_list
    from pelsim.potentials import _dense_rows

    i, j = pair_list(MODEL, conf.box, np.full(120, MODEL.sigma_max), conf.positions, 0.0)  # reach of any pair
    idx = jnp.asarray(_dense_rows(i, j, 120))
    R = jnp.asarray(conf.positions)
    E = lambda d: float(energy_fn(MODEL, conf.box, d)(R))  # noqa: E731
    rng = np.random.default_rng(0)
    for _ in range(10):
        a, b = rng.choice(120, 2, replace=False)
        d2 = conf.diameters.copy()
        d2[[a, b]] = d2[[b, a]]
        dE = float(swap_delta(MODEL, R, idx, jnp.asarray(conf.diameters), a, b, jnp.asarray(conf.box)))
        assert dE == pytest.approx(E(d2) - E(conf.diameters), abs=1e-10)


def test_detailed_balance_exact_distribution_of_four_particles():
    R, diam, box, idx = tiny()
    kT = 0.5
    perms = list(itertools.permutations(range(4)))
    E = np.array([float(energy_fn(MODEL, box, diam[list(p)])(jnp.asarray(R))) for p in perms])
    assert E.max() - E.min() > 3 * kT  # a distribution far from uniform: the test can fail
    p_exact = np.exp(-(E - E.min()) / kT)
    p_exact /= p_exact.sum()
    run = jax.jit(
        lambda key, d: swap_attempts(MODEL, key, jnp.asarray(R), jnp.asarray(idx), d, kT, 1, box),
    )

    @partial(jax.jit, static_argnums=2)
    def chain(key, d0, steps):
        def body(c, k):
            d, _ = run(k, c)
            return d, d

        return jax.lax.scan(body, d0, jax.random.split(key, steps))[1]

    samples = np.asarray(chain(jax.random.PRNGKey(1), jnp.asarray(diam), 200_000))
    lookup = {tuple(diam[list(p)]): k for k, p in enumerate(perms)}
    counts = np.bincount([lookup[tuple(s)] for s in samples], minlength=24)
    freq = counts / counts.sum()
    # correlated samples: allow 5 sigma of a binomial with an effective size of 1/4 of the samples
    sig = np.sqrt(p_exact * (1 - p_exact) / (len(samples) / 4))
    assert np.all(np.abs(freq - p_exact) < 5 * sig + 1e-4), np.c_[freq, p_exact]
    assert np.max(np.abs(freq - p_exact)) < 0.01  # measured 0.002; a chain run at 1.2 kT gives 0.017


def test_window_keeps_detailed_balance_and_blocks_far_pairs():
    R, diam, box, idx = tiny()
    d, acc = swap_attempts(
        MODEL,
        jax.random.PRNGKey(0),
        jnp.asarray(R),
        jnp.asarray(idx),
        jnp.asarray(diam),
        100.0,
        500,
        box,
        window=0.25,
    )
    # only neighbours in diameter (0.8-1.0, 1.0-1.2) may exchange: 1.5 stays on particle 3
    assert float(d[3]) == 1.5 and int(acc) > 0


@pytest.mark.slow
def test_hybrid_equilibrates_reduced(full):
    """A liquid at kT = 0.2 (above the PRX's T_MCT ~ 0.1): after a short run the energy has no drift,
    F_s(q = 2 pi) decays below 1/e and the diameter autocorrelation decays (reduced: N = 300;
    measured at N = 300 after a 50-block start: F_s = 0.06 and C_sigma = 0.67 after 100 blocks
    (10 tau, 100 swap sweeps), C_sigma = 0.29 after 400, swap acceptance 16 %)."""
    n = 1500 if full else 300
    conf = random_configuration("polydisperse-ss", n, seed=0)
    md = SwapMD(conf.model, conf.box, conf.diameters, kT=0.2, dt=0.01, md_steps=10, seed=0)
    md.init(conf.positions)
    md.run(200)  # from the random start to the liquid
    R0, d0 = md.unwrapped.copy(), np.asarray(md.diameters).copy()
    th = SwapThermo()
    fs, cd = [], []

    def record(m):
        fs.append(self_intermediate_scattering(m.unwrapped - R0))
        dd = np.asarray(m.diameters) - 1.0
        cd.append(np.mean(dd * (d0 - 1.0)) / np.mean((d0 - 1.0) ** 2))

    md.run(400, th, callback=record)
    a = th.arrays()
    half = len(a["potential"]) // 2
    drift = abs(a["potential"][half:].mean() - a["potential"][:half].mean())
    assert drift < 0.01  # per particle, eps
    assert abs(a["temperature"].mean() - 0.2) < 0.02
    assert fs[0] > 0.6 and fs[-1] < np.exp(-1)
    assert cd[0] > 0.9 and cd[-1] < 0.45
    assert 0.01 < a["acceptance"].mean() < 0.9
    np.testing.assert_allclose(np.sort(np.asarray(md.diameters)), np.sort(conf.diameters))  # swaps only


def test_bad_inputs():
    conf = random_configuration("polydisperse-ss", 100, seed=0)
    with pytest.raises(InputError, match="kT > 0"):
        SwapMD(conf.model, conf.box, conf.diameters, kT=0.0)
    with pytest.raises(InputError, match="integrator"):
        SwapMD(conf.model, conf.box, conf.diameters, kT=0.1, integrator="nve")
