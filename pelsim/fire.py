"""pelsim's one FIRE update (Bitzek, Koskinen, Gaehler, Moseler & Gumbsch, PRL 97, 170201 (2006)).

:func:`fire_update` is the velocity and time-step rule of FIRE, a pure JAX function of the
force and the FIRE state. Two loops use it: :func:`pelsim.minimize.fire` (the gradient of an
energy, positions (N, d)) and the NEB band optimizer in :mod:`pelsim.landscape.neb` (the NEB
force of a whole band, its state carried in the band's pytree so that bands vmap and a
relaxation cut into chunks follows one trajectory). The loops differ only in what they do
around the update: the force they evaluate, their stopping rules, and the step cap (the
minimiser rescales the velocity with a capped move; the band keeps its velocity and caps only
the move; both as they were tuned, so trajectories are unchanged).

Hand-written rather than ``jax_md.minimize.fire_descent``: that one has no cap on the step
(FIRE diverges on KA-BLJ at dt_max = 0.05 without one, /work/shared/MEASURED.md) and adds 1e-6
to |F|^2 in the velocity mixing (wrong once |F| < 1e-3, far above our fmax of 1e-10).
"""

from __future__ import annotations

import jax.numpy as jnp

__all__ = ["fire_update"]


def fire_update(F, v, dt, alpha, npos, *, dt_max, n_min, f_inc, f_dec, alpha_start, f_alpha):
    """One FIRE update: (v, dt, alpha, npos) after the force F (any shape; unit masses).

    Mixing v <- (1 - alpha) v + alpha |v| F / |F|; then, with the power P = F.v of the old
    velocity, after more than ``n_min`` steps in a row with P > 0 the time step grows by
    ``f_inc`` (at most ``dt_max``) and alpha shrinks by ``f_alpha``; at P <= 0 the velocity is
    zeroed, dt shrinks by ``f_dec`` and alpha is reset to ``alpha_start``; finally the Euler
    kick v <- v + dt F. The caller moves the positions by dt v (capped as it needs).
    """
    power = jnp.vdot(F, v)
    fn = jnp.sqrt(jnp.vdot(F, F))
    vn = jnp.sqrt(jnp.vdot(v, v))
    v = (1.0 - alpha) * v + alpha * F * vn / jnp.where(fn > 0, fn, 1.0)  # F = 0: no mixing (float32 too)
    pos = power > 0.0
    npos = jnp.where(pos, npos + 1, 0)
    grow = pos & (npos > n_min)
    dt = jnp.where(grow, jnp.minimum(dt * f_inc, dt_max), jnp.where(pos, dt, dt * f_dec))
    alpha = jnp.where(grow, alpha * f_alpha, jnp.where(pos, alpha, alpha_start))
    v = jnp.where(pos, v, jnp.zeros_like(v))
    return v + dt * F, dt, alpha, npos
