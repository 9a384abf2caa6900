"""pelsim.geometry: the minimum image against a brute-force search over the neighbouring images
(27 in 3D, 9 in 2D) in random orthorhombic boxes, numpy and JAX alike; wrapping."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import pelsim  # noqa: F401
from pelsim.geometry import free_displacement, minimum_image, periodic_displacement, wrap


def _brute_force(d, box):
    """The shortest of d + n box over the 3^dim neighbouring images n in {-1, 0, 1}^dim."""
    shifts = np.array(list(itertools.product((-1, 0, 1), repeat=box.size)), float) * box
    cand = d[:, None, :] + shifts[None, :, :]
    best = np.argmin(np.sum(cand * cand, axis=-1), axis=1)
    return cand[np.arange(len(d)), best]


@pytest.mark.parametrize("dim", [2, 3])
def test_minimum_image_is_the_nearest_of_the_neighbouring_images(dim):
    rng = np.random.default_rng(dim)
    for _ in range(20):
        box = rng.uniform(0.5, 20.0, dim)
        # positions anywhere in the box or one box outside: |d| < 1.5 box per coordinate, so
        # the nearest image is among the 3^dim neighbours of d
        Ra = rng.uniform(-0.25, 1.25, (200, dim)) * box
        Rb = rng.uniform(-0.25, 1.25, (200, dim)) * box
        d = Rb - Ra
        ref = _brute_force(d, box)
        for got in (
            minimum_image(d, box),
            np.asarray(minimum_image(jnp.asarray(d), jnp.asarray(box))),
            np.asarray(jax.jit(minimum_image)(d, box)),
            minimum_image(d, box, 1.0 / box),
            np.asarray(periodic_displacement(box)(jnp.asarray(Ra), jnp.asarray(Rb))),
        ):
            np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12 * box.max())
            assert np.all(np.abs(got) <= 0.5 * box * (1 + 1e-12))
        # same lattice point: the image differs from d by whole boxes
        n = (d - minimum_image(d, box)) / box
        np.testing.assert_allclose(n, np.round(n), atol=1e-9)


def test_minimum_image_library_follows_the_arguments():
    box = np.array([3.0, 4.0])
    d = np.array([[2.0, -3.5]])
    assert isinstance(minimum_image(d, box), np.ndarray)
    assert isinstance(minimum_image(jnp.asarray(d), box), jax.Array)
    np.testing.assert_allclose(minimum_image(d, box), [[-1.0, 0.5]])
    # a cubic box given as one length
    np.testing.assert_allclose(minimum_image(np.array([[2.0, -3.5]]), 3.0), [[-1.0, -0.5]])
    np.testing.assert_allclose(free_displacement(d, 2 * d), d)
    assert periodic_displacement(box) is periodic_displacement(list(box))  # cached: one jit per box


@pytest.mark.parametrize("dim", [2, 3])
def test_wrap_puts_positions_in_the_box_and_keeps_every_distance(dim):
    rng = np.random.default_rng(10 + dim)
    box = rng.uniform(1.0, 10.0, dim)
    R = rng.uniform(-3.0, 4.0, (300, dim)) * box
    R[0] = -1e-17  # mod rounds this up to exactly box: wrap maps it to 0
    for W in (wrap(R, box), np.asarray(wrap(jnp.asarray(R), jnp.asarray(box)))):
        assert np.all(W >= 0) and np.all(W < box)
        # the same points: whole boxes apart, and all minimum-image distances unchanged
        n = (R - W) / box
        np.testing.assert_allclose(n, np.round(n), atol=1e-9)
        i, j = rng.integers(0, len(R), (2, 500))
        np.testing.assert_allclose(
            minimum_image(W[i] - W[j], box), minimum_image(R[i] - R[j], box), atol=1e-9
        )
        np.testing.assert_allclose(wrap(W, box), W)  # idempotent
    assert np.all(wrap(R, box)[0] == 0.0)
