"""Minimisers reach max|F| <= 1e-10 on analytic surfaces and on KA-BLJ; the on-device quench
(one jitted program with pair-list rebuilds) matches the host-side path."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pelsim import quench as device
from pelsim.errors import InputError
from pelsim.hessian import check_minimum
from pelsim.minimize import minimize, quench
from pelsim.models import load_model
from pelsim.potentials import energy_fn
from pelsim.prepare import random_configuration


def muller_brown(R):
    A = jnp.array([-200.0, -100.0, -170.0, 15.0])
    a = jnp.array([-1.0, -1.0, -6.5, 0.7])
    b = jnp.array([0.0, 0.0, 11.0, 0.6])
    c = jnp.array([-10.0, -10.0, -6.5, 0.7])
    x0 = jnp.array([1.0, 0.0, -0.5, -1.0])
    y0 = jnp.array([0.0, 0.5, 1.5, 1.0])
    x, y = R[0, 0], R[0, 1]
    return jnp.sum(A * jnp.exp(a * (x - x0) ** 2 + b * (x - x0) * (y - y0) + c * (y - y0) ** 2))


@pytest.mark.parametrize("method", ["lbfgs", "fire", "auto"])
def test_muller_brown_minima(method):
    # known minima: (-0.558, 1.442) E=-146.70, (0.623, 0.028) E=-108.17
    for start, xmin, emin in [
        ((-0.4, 1.2), (-0.55822, 1.44173), -146.69952),
        ((0.5, 0.2), (0.62350, 0.02804), -108.16672),
    ]:
        res = minimize(
            muller_brown,
            np.array([start]),
            method=method,
            fmax=1e-10,
            **({"dt_max": 0.002, "max_disp": 0.01} if method == "fire" else {}),
        )
        assert res.converged and res.max_force <= 1e-10
        np.testing.assert_allclose(res.R[0], xmin, atol=1e-4)
        assert abs(res.energy - emin) < 1e-4


def test_quartic_double_well_exact():
    E = lambda R: jnp.sum((R[:, 0] ** 2 - 1) ** 2 + 2 * R[:, 1] ** 2)
    res = minimize(E, np.array([[0.3, 0.4]]), method="lbfgs")
    assert res.converged
    np.testing.assert_allclose(res.R, [[1.0, 0.0]], atol=1e-10)


def test_ka_quench_reaches_1e10():
    conf = random_configuration("ka3d", 300, seed=5)
    res = quench(load_model("ka3d"), conf.box, conf.species, conf.positions, fmax=1e-10)
    assert res.converged and res.steps > 10
    # independent check with the all-pairs energy (no pair list)
    e = energy_fn("ka3d", conf.box, conf.species)
    g = np.asarray(jax.grad(e)(jnp.asarray(res.R)))
    assert np.sqrt(np.max(np.sum(g**2, axis=1))) < 1e-9
    assert abs(float(e(jnp.asarray(res.R))) - res.energy) < 1e-9 * abs(res.energy)
    assert res.energy / conf.n < -5.5  # a glassy IS of KA (smooth cutoff): about -6.1 per particle
    assert res.info["rebuilds"] > 0  # the on-device rebuilds were exercised
    # a true minimum: no negative Hessian eigenvalue besides the 3 translations
    chk = check_minimum(e, res.R, fmax=1e-9)
    assert chk.is_minimum and chk.lowest_eigenvalue > 0


@pytest.fixture(scope="module")
def displaced_is():
    """An IS (N=300, smooth) with every particle displaced by ~0.1 sigma: the quench back needs
    several rebuilds of a skin-0.1 list but stays in one smooth basin (same IS for every path)."""
    conf = random_configuration("ka3d", 300, seed=7)
    model = load_model("ka3d")
    IS = quench(model, conf.box, conf.species, conf.positions, fmax=1e-10)
    R0 = IS.R + np.random.default_rng(0).normal(0.0, 0.06, IS.R.shape)
    return model, conf, IS, R0


def test_device_rebuilds_match_host_path(displaced_is):
    model, conf, IS, R0 = displaced_is
    dev = quench(model, conf.box, conf.species, R0, fmax=1e-10, method="lbfgs", skin=0.1)
    host = quench(model, conf.box, conf.species, R0, fmax=1e-10, method="lbfgs", skin=0.1, pairs="dense")
    assert dev.converged and host.converged
    assert dev.info["rebuilds"] >= 3
    assert abs(dev.energy - host.energy) < 1e-10 * abs(host.energy)
    np.testing.assert_allclose(dev.R, host.R, atol=1e-8)
    assert abs(dev.energy - IS.energy) < 1e-10 * abs(IS.energy)


def test_float32_prestage_same_minimum(displaced_is):
    model, conf, IS, R0 = displaced_is
    mixed = quench(model, conf.box, conf.species, R0, fmax=1e-10, f32_fmax=1e-3)
    assert mixed.converged and mixed.info["f32_steps"] > 0
    # same basin here; from hot parents the float32 stage may end in a nearby other minimum
    assert abs(mixed.energy - IS.energy) < 1e-9
    shift = mixed.R - IS.R  # the same structure up to a rigid translation (the noise has a mean)
    np.testing.assert_allclose(shift - shift.mean(axis=0), 0.0, atol=1e-6)


def test_capacity_overflow_is_retried(displaced_is, monkeypatch):
    model, conf, IS, R0 = displaced_is
    ref = device.device_quench(model, conf.box, conf.species, R0, fmax=1e-10, skin=0.2)
    # a list far too short for the neighbor count: the first build overflows, nothing is
    # evaluated with it, and the host reruns with the capacity the build reported
    monkeypatch.setattr(device, "list_capacity", lambda *a: 8)
    monkeypatch.setattr(device, "_CAPACITY", {})
    res = device.device_quench(model, conf.box, conf.species, R0, fmax=1e-10, skin=0.2)
    assert res.info["overflows"] >= 1 and res.converged
    assert res.info["capacity"] >= ref.info["capacity"] - 8
    assert abs(res.energy - ref.energy) < 1e-10 * abs(ref.energy)


def test_bad_input():
    with pytest.raises(InputError):
        minimize(lambda R: jnp.sum(R**2), np.array([np.nan, 1.0]))
    with pytest.raises(InputError, match="method"):
        minimize(lambda R: jnp.sum(R**2), np.ones((1, 2)), method="bfgs")


def test_quench_bad_input(displaced_is):
    model, conf, _, R0 = displaced_is
    with pytest.raises(InputError, match="pairs"):
        quench(model, conf.box, conf.species, R0, pairs="sparse")
    with pytest.raises(InputError, match="shape"):
        device.device_quench(model, conf.box, conf.species, R0[:50])
    with pytest.raises(InputError, match="skin"):
        device.device_quench(model, conf.box, conf.species, R0, skin=-0.1)
