"""pelsim.fire: the one FIRE update rule (Bitzek et al. 2006) of the minimiser and the NEB band."""

import jax.numpy as jnp
import numpy as np

import pelsim  # noqa: F401
from pelsim.fire import fire_update

RULE = dict(dt_max=0.03, n_min=5, f_inc=1.1, f_dec=0.5, alpha_start=0.1, f_alpha=0.99)


def test_uphill_power_stops_and_shrinks_the_step():
    F = jnp.array([[1.0, 0.0], [0.0, 2.0]])
    v = -F  # P = F.v < 0
    v1, dt, alpha, npos = fire_update(F, v, 0.02, 0.05, 7, **RULE)
    assert float(dt) == 0.01 and float(alpha) == 0.1 and int(npos) == 0
    np.testing.assert_allclose(v1, 0.01 * F)  # velocity zeroed, then the Euler kick dt F


def test_downhill_power_mixes_then_grows_the_step_after_n_min():
    rng = np.random.default_rng(0)
    F, v = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    v = v + 3 * F  # P > 0
    a, dt0 = 0.1, 0.02
    mixed = (1 - a) * v + a * np.linalg.norm(v) * F / np.linalg.norm(F)
    v1, dt, alpha, npos = fire_update(jnp.asarray(F), jnp.asarray(v), dt0, a, 2, **RULE)
    assert int(npos) == 3 and float(dt) == dt0 and float(alpha) == a  # not yet n_min steps
    np.testing.assert_allclose(v1, mixed + dt0 * F, rtol=1e-14)
    v1, dt, alpha, npos = fire_update(jnp.asarray(F), jnp.asarray(v), dt0, a, 5, **RULE)
    assert int(npos) == 6 and np.isclose(float(dt), dt0 * 1.1) and np.isclose(float(alpha), a * 0.99)
    np.testing.assert_allclose(v1, mixed + dt0 * 1.1 * F, rtol=1e-14)
    _, dt, _, _ = fire_update(jnp.asarray(F), jnp.asarray(v), 0.029, a, 9, **RULE)
    assert float(dt) == 0.03  # capped at dt_max
    # no force: no mixing, no NaN (float32 too)
    v1, *_ = fire_update(jnp.zeros((2, 2), jnp.float32), jnp.ones((2, 2), jnp.float32), 0.01, a, 0, **RULE)
    assert np.all(np.isfinite(v1))
