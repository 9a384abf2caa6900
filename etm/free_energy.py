"""Free-energy route to the thermodynamics of the ETM (independent check of Eqs. 16-19, 90-94).

F(T, B) = -k_B T sum ln Z over the systems, in float64 JAX, and its derivatives by autodiff:
C = -T d2F/dT2, M = -dF/dB. Every closed form of :mod:`etm.heat_capacity` and
:mod:`etm.magnetization` is tested against these.

* ATS: F = -2 pi P* n_ATS k_B int dD/D dD0/D0 T ln(2 cosh(E/2T)), E = sqrt(D^2 + (D0 phi)^2)
  (distribution Eq. 10, gap Eq. 9), with an upper cutoff D_max on the asymmetry (F itself
  diverges linearly without it; C and M converge as D_max -> inf, M with a relative
  error ~ D0max phi/D_max, about 1e-12 at the default D_max = 1e12 K). The
  integral is done by tensor Gauss-Legendre in ln D (three panels) and ln D0 - without the
  E-cap and the closed-form T = 0 part used by the fast closed forms.
* Paramagnetic ions: F = -n k_B T ln sum_{m=-J..J} exp(-g mu_B B m / k_B T) (2J+1 Zeeman levels).
* STM: F = -k_B g0 int_0^E_max dE T ln(2 cosh(E/2T)) for a constant 2LS DOS g0.

Units: T in K, B in T; F in J/g, C in J/(g K), M in A m^2/g.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from etm.hamiltonian import phase_factor_squared
from etm.quadrature import gauss_legendre_unit
from etm.units import K_B, MU_B_OVER_KB


def _t_ln_2cosh(E, T):
    """T ln(2 cosh(E/2T)) = E/2 + T log1p(exp(-E/T)), E >= 0 (no overflow)."""
    return 0.5 * E + T * jnp.log1p(jnp.exp(-E / T))


def f_ats(
    T, B, D_min, D0min_qS, D0max_qS, Pn=1.0, orientation_average=True, B_star=None, D_max=1e12, n_s=32, n_t=16
):
    """ATS free energy per gram [J/g] at scalar (or broadcastable) T [K], B [T].

    D-range [D_min, D_max] split into panels at D_min + T and D_min + 60 T (in ln D);
    D0-range [D0min, D0max] in ln D0. Pure jnp: differentiate with jax.grad.
    """
    T = jnp.asarray(T, float)
    B = jnp.asarray(B, float)
    c = jnp.sqrt(phase_factor_squared(B, orientation_average, B_star))
    xs, ws = gauss_legendre_unit(n_s)
    xt, wt = gauss_legendre_unit(n_t)
    tl = jnp.log(D0min_qS) + (jnp.log(D0max_qS) - jnp.log(D0min_qS)) * xt
    wt = wt * (jnp.log(D0max_qS) - jnp.log(D0min_qS))
    u = c[..., None] * jnp.exp(tl)  # (..., n_t)
    # quadrature nodes must not move with T (stop_gradient): then d/dT of the quadrature is the
    # quadrature of d/dT, and the huge T-independent ground-state part cannot leak into C
    Tn = jax.lax.stop_gradient(T)
    edges = [
        jnp.log(D_min),
        jnp.log(D_min + Tn),
        jnp.log(D_min + 60.0 * Tn),
        jnp.log(jnp.asarray(D_max, float)),
    ]
    total = 0.0
    for a, b in zip(edges[:-1], edges[1:], strict=False):
        s = a[..., None] + (b - a)[..., None] * xs  # (..., n_s)
        w = (b - a)[..., None] * ws
        E = jnp.sqrt(jnp.exp(2 * s)[..., :, None] + u[..., None, :] ** 2)  # (..., n_s, n_t)
        val = _t_ln_2cosh(E, T[..., None, None])
        total = total + jnp.sum(w[..., :, None] * wt * val, axis=(-2, -1))
    return -2.0 * np.pi * Pn * K_B * total


def f_paramagnetic(T, B, n_per_g, J, g=2.0):
    """Paramagnetic-ion free energy per gram [J/g] from the 2J+1 Zeeman levels E_m = g mu_B B m."""
    T = jnp.asarray(T, float)
    B = jnp.asarray(B, float)
    m = jnp.arange(-J, J + 0.5, 1.0)
    E = g * MU_B_OVER_KB * B[..., None] * m  # K
    lnZ = jax.scipy.special.logsumexp(-E / T[..., None], axis=-1)
    return -n_per_g * K_B * T * lnZ


def f_stm(T, g0_per_K_per_g, E_max_K=1e3, n=400):
    """STM free energy per gram [J/g] for a constant 2LS DOS g0 on [0, E_max]."""
    T = jnp.asarray(T, float)
    Tn = jax.lax.stop_gradient(T)
    edges = [0.0, 60.0 * Tn, E_max_K]
    x, w = gauss_legendre_unit(n)
    total = 0.0
    for a, b in zip(edges[:-1], edges[1:], strict=False):
        E = a + (b - a) * x
        total = total + jnp.sum((b - a) * w * _t_ln_2cosh(E, T))
    return -K_B * g0_per_K_per_g * total


@partial(jax.jit, static_argnums=(0, 1))
def _d2F_dT2(F, kw_items, T, B):
    kw = dict(kw_items)
    d2 = jax.grad(jax.grad(lambda t, b: F(t, b, **kw), 0), 0)
    return jax.vmap(d2)(T, B)


@partial(jax.jit, static_argnums=(0, 1))
def _dF_dB(F, kw_items, T, B):
    kw = dict(kw_items)
    return jax.vmap(jax.grad(lambda t, b: F(t, b, **kw), 1))(T, B)


def heat_capacity_from_F(F, T, B, **kw):
    """C = -T d2F/dT2 [J/(g K)] of a free-energy function F(T, B, **kw), by autodiff, vectorised.

    F must be a module-level function and the keyword values hashable (they are jit-static).
    """
    T, B = np.broadcast_arrays(np.asarray(T, float), np.asarray(B, float))
    vals = _d2F_dT2(F, tuple(sorted(kw.items())), jnp.asarray(T.ravel()), jnp.asarray(B.ravel()))
    return np.asarray(-T.ravel() * vals).reshape(T.shape)


def magnetization_from_F(F, T, B, **kw):
    """M = -dF/dB [A m^2/g] of a free-energy function F(T, B, **kw), by autodiff, vectorised."""
    T, B = np.broadcast_arrays(np.asarray(T, float), np.asarray(B, float))
    vals = _dF_dB(F, tuple(sorted(kw.items())), jnp.asarray(T.ravel()), jnp.asarray(B.ravel()))
    return np.asarray(-vals).reshape(T.shape)


def c_ats_free_energy(T, B, params, Pn=1.0, **kw):
    """C_ATS from -T d2F/dT2 of :func:`f_ats` [J/(g K)]."""
    return heat_capacity_from_F(
        f_ats,
        T,
        B,
        D_min=params.D_min,
        D0min_qS=params.D0min_qS,
        D0max_qS=params.D0max_qS,
        Pn=Pn,
        orientation_average=params.orientation_average,
        B_star=params.B_star,
        **kw,
    )


def m_ats_free_energy(T, B, params, Pn=1.0, **kw):
    """M_ATS from -dF/dB of :func:`f_ats` [A m^2/g]."""
    return magnetization_from_F(
        f_ats,
        T,
        B,
        D_min=params.D_min,
        D0min_qS=params.D0min_qS,
        D0max_qS=params.D0max_qS,
        Pn=Pn,
        orientation_average=params.orientation_average,
        B_star=params.B_star,
        **kw,
    )


def c_paramagnetic_free_energy(T, B, n_per_g, J, g=2.0):
    """C of the 2J+1 Zeeman levels from -T d2F/dT2 [J/(g K)]."""
    return heat_capacity_from_F(f_paramagnetic, T, B, n_per_g=n_per_g, J=J, g=g)


def m_paramagnetic_free_energy(T, B, n_per_g, J, g=2.0):
    """M of the 2J+1 Zeeman levels from -dF/dB [A m^2/g]."""
    return magnetization_from_F(f_paramagnetic, T, B, n_per_g=n_per_g, J=J, g=g)


def c_stm_free_energy(T, g0_per_K_per_g, E_max_K=1e3):
    """C of a constant 2LS DOS from -T d2F/dT2 [J/(g K)] (-> (pi^2/6) k_B g0 T for T << E_max)."""
    return heat_capacity_from_F(
        _f_stm_tb, T, 0.0, g0_per_K_per_g=float(g0_per_K_per_g), E_max_K=float(E_max_K)
    )


def _f_stm_tb(T, B, g0_per_K_per_g, E_max_K):
    return f_stm(T, g0_per_K_per_g, E_max_K)
