"""Analytic test surfaces with known minima and saddles.

They let every landscape tool (NEB, saddle refinement, connection, valleys,
tunneling) be tested against exact answers before it is run on KA-BLJ. Each
surface is a pure JAX function of a position array of shape (1, 2) (one
"particle" in 2D), so that it has the same calling convention as a particle
energy function of positions (N, d). Energies are in the surface's own units.

- Mueller-Brown (K. Mueller, L. D. Brown, Theor. Chim. Acta 53, 75 (1979)),
  with literature stationary points to 6 decimals.
- A three-fold symmetric three-well surface V = r^4 - 2 r^2 + c (x^3 - 3 x y^2)
  with analytic minima and saddles (a TWP test case, seed paper Eq. 5).
- A quartic double well V = V0 (x^2 - 1)^2 + e x + k y^2 / 2 (a DWP test case,
  seed paper Eqs. 3-4).
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np

_MB_A = jnp.array([-200.0, -100.0, -170.0, 15.0])
_MB_a = jnp.array([-1.0, -1.0, -6.5, 0.7])
_MB_b = jnp.array([0.0, 0.0, 11.0, 0.6])
_MB_c = jnp.array([-10.0, -10.0, -6.5, 0.7])
_MB_x0 = jnp.array([1.0, 0.0, -0.5, -1.0])
_MB_y0 = jnp.array([0.0, 0.5, 1.5, 1.0])

#: literature stationary points of Mueller-Brown: (x, y, energy)
MUELLER_BROWN_MINIMA = np.array(
    [
        [-0.558224, 1.441726, -146.699517],
        [0.623499, 0.028038, -108.166724],
        [-0.050011, 0.466694, -80.767817],
    ]
)
MUELLER_BROWN_SADDLES = np.array(
    [
        [-0.822002, 0.624313, -40.664843],
        [0.212487, 0.292988, -72.248942],
    ]
)


def mueller_brown(R):
    """Mueller-Brown energy of positions R with R.reshape(-1)[:2] = (x, y)."""
    x, y = jnp.reshape(R, (-1,))[0], jnp.reshape(R, (-1,))[1]
    dx, dy = x - _MB_x0, y - _MB_y0
    return jnp.sum(_MB_A * jnp.exp(_MB_a * dx**2 + _MB_b * dx * dy + _MB_c * dy**2))


def three_well(R, c: float = 0.5):
    """V = r^4 - 2 r^2 + c (x^3 - 3 x y^2): three equivalent wells at 60, 180, 300 degrees."""
    x, y = jnp.reshape(R, (-1,))[0], jnp.reshape(R, (-1,))[1]
    r2 = x * x + y * y
    return r2 * r2 - 2.0 * r2 + c * (x**3 - 3.0 * x * y * y)


def three_well_stationary(c: float = 0.5):
    """Exact minima (3, 3) and saddles (3, 3) of :func:`three_well`, rows (x, y, energy).

    Along a ray at angle theta, V = r^4 - 2 r^2 + c r^3 cos(3 theta). Minima sit at
    cos(3 theta) = -1 with 4 r^2 - 3 c r - 4 = 0; saddles at cos(3 theta) = +1 with
    4 r^2 + 3 c r - 4 = 0 (radial minimum, angular maximum).
    """
    rm = (3 * c + math.sqrt(9 * c * c + 64)) / 8
    rs = (-3 * c + math.sqrt(9 * c * c + 64)) / 8
    em = rm**4 - 2 * rm**2 - c * rm**3
    es = rs**4 - 2 * rs**2 + c * rs**3
    mins = [[rm * math.cos(t), rm * math.sin(t), em] for t in (math.pi / 3, math.pi, 5 * math.pi / 3)]
    sads = [[rs * math.cos(t), rs * math.sin(t), es] for t in (0.0, 2 * math.pi / 3, 4 * math.pi / 3)]
    return np.array(mins), np.array(sads)


def quartic_double_well(R, V0: float = 1.0, e: float = 0.0, k: float = 4.0):
    """V = V0 (x^2 - 1)^2 + e x + k y^2 / 2; for e = 0 minima at (+-1, 0), saddle (0, 0) at V0."""
    x, y = jnp.reshape(R, (-1,))[0], jnp.reshape(R, (-1,))[1]
    return V0 * (x * x - 1.0) ** 2 + e * x + 0.5 * k * y * y


def as_position(x: float, y: float):
    """A point of a 2D surface as a (1, 2) position array."""
    return jnp.array([[x, y]], dtype=jnp.float64)
