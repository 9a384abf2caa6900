"""Fixed-order Gauss-Legendre quadrature helpers shared by the etm observables, and the
overflow-safe sech^2 of their thermal factors (seed Eqs. 15, 41, 55).

The ATS observables (C, M, epsilon', ...) are integrals over the asymmetry D and the
tunneling parameter D0 of the distribution of seed Eq. (10). In the logarithmic variables
s = ln D and t = ln(D0 phi) the measure dD/D dD0/D0 is flat and the integrands are analytic
(no kinks at the cutoffs E_c1, E_c2 of Eq. 13, no near-logarithmic singularities), so a
fixed, moderate number of Gauss-Legendre nodes gives float64-level accuracy and the whole
(T, B) grid can be evaluated in one vectorised, jitted pass. This is why the quadrature is
hand-written here instead of calling an adaptive scipy routine point by point.
"""

from __future__ import annotations

from functools import cache

import numpy as np


@cache
def gauss_legendre_unit(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on [0, 1] (numpy float64, cached)."""
    x, w = np.polynomial.legendre.leggauss(int(n))
    return 0.5 * (x + 1.0), 0.5 * w


def sech2(x):
    """sech^2(x) = 4 e^{-2|x|} / (1 + e^{-2|x|})^2, without overflow at large |x| (JAX)."""
    import jax.numpy as jnp

    e = jnp.exp(-2.0 * jnp.abs(x))
    return 4.0 * e / (1.0 + e) ** 2


def map_nodes(a, b, n: int):
    """Nodes and weights mapped to [a, b]; a, b broadcast; returns arrays of shape (..., n)."""
    x, w = gauss_legendre_unit(n)
    import jax.numpy as jnp

    a = jnp.asarray(a)[..., None]
    b = jnp.asarray(b)[..., None]
    return a + (b - a) * x, (b - a) * w


def integrate_ats_log(integrand, D_min, D0_min, D0_max, c, E_hi, n_s: int = 40, n_t: int = 16):
    """Integral of ``integrand(E, D, u)`` over dD/D dD0/D0 on the ATS domain, capped at E <= E_hi.

    Domain: D >= D_min, D0_min <= D0 <= D0_max, u = c * D0 (c = D0phi/D0 from the field),
    E = sqrt(D^2 + u^2) <= E_hi (the cap must lie where the integrand is negligible, e.g.
    E_c1 + 50 T for thermal factors). Variables s = ln D on [ln D_min, ln sqrt(E_hi^2 - u1^2)]
    (the same nodes for every D0, so exp(s) is computed once per point) and t = ln D0 on
    [ln D0_min, ln min(D0_max, sqrt(E_hi^2 - D_min^2)/c)]. Beyond the cap the integrand must be
    negligible (it is not masked). All array arguments broadcast; c = 0 (B = 0) is allowed.
    The loop over the n_t outer nodes is a lax.scan, so memory stays at (grid size x n_s).
    Pure jnp: jit-able and differentiable. ``integrand`` gets E, D of shape (..., n_s) and
    u of shape (..., 1).
    """
    import jax
    import jax.numpy as jnp

    D_min, D0_min, D0_max, c, E_hi = jnp.broadcast_arrays(
        *(jnp.asarray(v, float) for v in (D_min, D0_min, D0_max, c, E_hi))
    )
    xs, ws = gauss_legendre_unit(n_s)
    xt, wt = gauss_legendre_unit(n_t)
    u_cap = jnp.sqrt(jnp.maximum(E_hi**2 - D_min**2, 0.0))
    safe_c = jnp.where(c > 0, c, 1.0)
    D0_hi = jnp.where(c > 0, jnp.minimum(D0_max, u_cap / safe_c), D0_max)
    t_lo = jnp.log(D0_min)
    t_len = jnp.maximum(jnp.log(D0_hi) - t_lo, 0.0)
    s_lo = jnp.log(D_min)
    D_hi = jnp.sqrt(jnp.maximum(E_hi**2 - (c * D0_min) ** 2, D_min**2))
    s_len = jnp.log(D_hi) - s_lo
    D = jnp.exp(s_lo[..., None] + s_len[..., None] * xs)
    D2 = D**2

    def body(acc, node):
        x, w = node
        u = (c * jnp.exp(t_lo + t_len * x))[..., None]
        E = jnp.sqrt(D2 + u**2)
        return acc + w * jnp.sum(ws * integrand(E, D, u), axis=-1), None

    acc, _ = jax.lax.scan(body, jnp.zeros(D_min.shape), (jnp.asarray(xt), jnp.asarray(wt)))
    return acc * t_len * s_len
