"""Polydisperse soft spheres (polydisperse-ss): the model's parameters, the diameters, and the
energy kernels against an independent numpy implementation, finite differences and autodiff."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pelsim.errors import InputError
from pelsim.models import PolydisperseModel, load_model, soft_sphere_coefficients
from pelsim.polydisperse import energy_fn, fixed_pair_energy
from pelsim.prepare import random_configuration
from pelsim.system import autodiff_hessian, value_and_grad

MODEL = load_model("polydisperse-ss")


def numpy_energy_forces(R, diameters, box, rc_factor=1.25, nonadd=0.2):
    """Independent reference: loops over particles in r (not s = r^2), closed-form c0, c2, c4."""
    xc = rc_factor
    c0, c2, c4 = -28.0 / xc**12, 48.0 / xc**14, -21.0 / xc**16
    n = len(R)
    E = 0.0
    F = np.zeros_like(R)
    for i in range(n - 1):
        d = R[i] - R[i + 1 :]
        d -= box * np.round(d / box)
        r = np.sqrt(np.sum(d * d, axis=1))
        si, sj = diameters[i], diameters[i + 1 :]
        sig = 0.5 * (si + sj) * (1.0 - nonadd * np.abs(si - sj))
        x = r / sig
        inside = x < xc
        x, r, d, sig = x[inside], r[inside], d[inside], sig[inside]
        E += np.sum(x**-12 + c0 + c2 * x**2 + c4 * x**4)
        dvdr = (-12 * x**-13 + 2 * c2 * x + 4 * c4 * x**3) / sig
        f = -(dvdr / r)[:, None] * d  # force on i from each j
        F[i] += f.sum(axis=0)
        np.subtract.at(F, np.arange(i + 1, n)[inside], f)
    return E, F


def test_model_parameters_match_the_papers():
    m = MODEL
    assert isinstance(m, PolydisperseModel) and m.dim == 3 and m.density == 1.0 and m.n_default == 1500
    assert m.rc_factor == 1.25 and m.non_additivity == 0.2
    assert m.sigma_min / m.sigma_max == pytest.approx(0.45)
    assert m.sigma_max == pytest.approx(1.6111, abs=1e-4) and m.sigma_min == pytest.approx(0.725)
    assert m.rc_max == pytest.approx(1.25 * m.sigma_max)
    xc = 1.25
    np.testing.assert_allclose(
        soft_sphere_coefficients(xc), [-28 / xc**12, 48 / xc**14, -21 / xc**16], rtol=1e-12
    )
    # v, v', v'' vanish at the cutoff
    c0, c2, c4 = soft_sphere_coefficients(xc)
    v = lambda x: x**-12 + c0 + c2 * x**2 + c4 * x**4  # noqa: E731
    dv = jax.grad(v)
    assert abs(v(xc)) < 1e-14 and abs(dv(xc)) < 1e-13 and abs(jax.grad(dv)(xc)) < 1e-12
    assert abs(jax.grad(jax.grad(dv))(xc)) > 1.0  # the third derivative does not vanish


def test_diameters_exact_distribution_and_deterministic():
    d = MODEL.diameters(1500, seed=3)
    assert abs(d.mean() - 1.0) < 1e-5  # quantile sample: mean exact up to O(1/N^2)
    assert d.std() / d.mean() == pytest.approx(0.2293, abs=2e-4)  # the PRX's 23 % polydispersity
    assert MODEL.sigma_min < d.min() and d.max() < MODEL.sigma_max
    np.testing.assert_array_equal(d, MODEL.diameters(1500, seed=3))
    assert not np.array_equal(d, MODEL.diameters(1500, seed=4))
    np.testing.assert_array_equal(np.sort(d), np.sort(MODEL.diameters(1500, seed=4)))
    # the empirical CDF is the model's CDF at the sample points (Kolmogorov distance <= 1/(2N))
    a, b = MODEL.sigma_min**-2, MODEL.sigma_max**-2
    cdf = (a - np.sort(d) ** -2) / (a - b)
    assert np.max(np.abs(cdf - (np.arange(1500) + 0.5) / 1500)) < 1e-12


@pytest.fixture(scope="module")
def glassy():
    """A compressed random configuration: many pairs inside the cutoff, some close."""
    conf = random_configuration("polydisperse-ss", 150, seed=1)
    assert conf.diameters is not None and conf.diameters.shape == (150,)
    rng = np.random.default_rng(0)
    R = conf.positions + 0.05 * rng.normal(size=conf.positions.shape)
    return conf, R


def test_energy_forces_against_numpy(glassy):
    conf, R = glassy
    E_ref, F_ref = numpy_energy_forces(R, conf.diameters, conf.box)
    assert E_ref > 1.0  # the test has interacting pairs
    for e in (
        energy_fn(conf.model, conf.box, conf.diameters),
        fixed_pair_energy(conf.model, conf.box, conf.diameters, R, skin=0.3)[0],
    ):
        E, F = e.energy_forces(jnp.asarray(R))
        assert abs(float(E) - E_ref) < 1e-10 * max(1.0, abs(E_ref))
        np.testing.assert_allclose(np.asarray(F), F_ref, atol=1e-10)
        Eg, g = value_and_grad(e, R)
        np.testing.assert_allclose(np.asarray(g), -F_ref, atol=1e-10)


def test_forces_against_finite_differences(glassy):
    conf, R = glassy
    e = energy_fn(conf.model, conf.box, conf.diameters)
    _, F = e.energy_forces(jnp.asarray(R))
    rng = np.random.default_rng(2)
    h = 1e-5
    for _ in range(5):
        v = rng.normal(size=R.shape)
        v /= np.linalg.norm(v)
        fd = (float(e(jnp.asarray(R + h * v))) - float(e(jnp.asarray(R - h * v)))) / (2 * h)
        assert fd == pytest.approx(-float(np.sum(np.asarray(F) * v)), rel=1e-6, abs=1e-8)


def test_fixed_list_valid_after_moves_and_cutoff_per_pair(glassy):
    conf, R = glassy
    e_all = energy_fn(conf.model, conf.box, conf.diameters)
    e_list, valid = fixed_pair_energy(conf.model, conf.box, conf.diameters, R, skin=0.4)
    R2 = R + np.random.default_rng(5).uniform(-0.1, 0.1, R.shape)
    assert bool(valid(jnp.asarray(R2)))
    assert float(e_list(jnp.asarray(R2))) == pytest.approx(float(e_all(jnp.asarray(R2))), abs=1e-10)


def test_analytic_hessian_against_autodiff(glassy):
    conf, R = glassy
    conf_small = random_configuration("polydisperse-ss", 100, seed=4)
    R = conf_small.positions + 0.05 * np.random.default_rng(1).normal(size=conf_small.positions.shape)
    for e in (
        energy_fn(conf_small.model, conf_small.box, conf_small.diameters),
        fixed_pair_energy(conf_small.model, conf_small.box, conf_small.diameters, R, skin=0.25)[0],
    ):
        H = np.asarray(e.analytic_hessian().dense(jnp.asarray(R)))
        Ha = np.asarray(autodiff_hessian(e, R)).reshape(H.shape)
        assert np.abs(Ha).max() > 1.0
        np.testing.assert_allclose(H, Ha, atol=1e-8 * np.abs(Ha).max())
        v = np.random.default_rng(0).normal(size=R.shape)
        np.testing.assert_allclose(
            np.asarray(e.analytic_hessian().hvp(jnp.asarray(R), v)).ravel(),
            H @ v.ravel(),
            atol=1e-9 * np.abs(H).max(),
        )


def test_compiles_once_per_bucket():
    """Two glasses of one N and bucket share the kernel (hash/eq by static parameters)."""
    c1 = random_configuration("polydisperse-ss", 100, seed=1)
    c2 = random_configuration("polydisperse-ss", 100, seed=2)
    e1 = energy_fn(c1.model, c1.box, c1.diameters)
    e2 = energy_fn(c2.model, c2.box, c2.diameters)
    assert e1.kernel == e2.kernel and hash(e1.kernel) == hash(e2.kernel)
    assert jax.tree_util.tree_structure(e1) == jax.tree_util.tree_structure(e2)


def test_minimiser_works_unchanged():
    from pelsim.minimize import minimize

    conf = random_configuration("polydisperse-ss", 100, seed=6)
    e = energy_fn(conf.model, conf.box, conf.diameters)
    res = minimize(e, conf.positions, fmax=1e-8)
    assert res.converged and res.max_force <= 1e-8
    E_ref, F_ref = numpy_energy_forces(np.asarray(res.R), conf.diameters, conf.box)
    assert abs(res.energy - E_ref) < 1e-9 and np.abs(F_ref).max() < 1e-7


def test_bad_inputs():
    conf = random_configuration("polydisperse-ss", 100, seed=1)
    with pytest.raises(InputError, match="diameters"):
        energy_fn(conf.model, conf.box, None)
    with pytest.raises(InputError, match="positive"):
        energy_fn(conf.model, conf.box, -conf.diameters)
    with pytest.raises(InputError, match="shorter than twice"):
        energy_fn(conf.model, 3.0, conf.diameters)
    with pytest.raises(InputError, match="no per-particle diameters"):
        energy_fn("ka3d", conf.box, conf.diameters)
    from pelsim.potentials import energy_fn as ka_energy

    with pytest.raises(InputError, match="per-particle diameters"):
        ka_energy("polydisperse-ss", conf.box, conf.species)


def test_md_dense_forces_against_numpy(glassy):
    """The MD path (dense neighbour list of the largest cutoff, diameters as an argument)."""
    from pelsim.neighbors import allocate, make_dense_neighbor_fn
    from pelsim.polydisperse import dense_energy_forces

    conf, R = glassy
    nf = make_dense_neighbor_fn(conf.model, conf.box, conf.n, 0.3)
    nbrs = allocate(nf, np.mod(R, conf.box))
    e, f = dense_energy_forces(conf.model, conf.box)
    E_ref, F_ref = numpy_energy_forces(R, conf.diameters, conf.box)
    d = jnp.asarray(conf.diameters)
    assert abs(float(e(jnp.asarray(R), nbrs.idx, d)) - E_ref) < 1e-10 * abs(E_ref)
    np.testing.assert_allclose(np.asarray(f(jnp.asarray(R), nbrs.idx, d)), F_ref, atol=1e-10)


def test_quench_with_pair_list_rebuilds():
    from pelsim.polydisperse import ALL_PAIRS_MAX_N, quench

    conf = random_configuration("polydisperse-ss", ALL_PAIRS_MAX_N + 100, seed=3)
    IS, res = quench(conf, fmax=1e-9, skin=0.3)
    assert res.converged and res.info["rebuilds"] >= 1  # the list was rebuilt and the quench went on
    E_ref, F_ref = numpy_energy_forces(IS.positions, IS.diameters, IS.box)
    assert res.energy == pytest.approx(E_ref, abs=1e-9)
    assert np.sqrt((F_ref**2).sum(1)).max() < 1e-8
    np.testing.assert_array_equal(IS.diameters, conf.diameters)
