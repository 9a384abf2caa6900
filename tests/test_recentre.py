"""NEB bands that leave the region where their energy is exact are re-centred and continued.

connect(..., recentre=) asks for an energy whose region covers the band, continues the band and
uses that energy downstream (search.recentring builds pair lists at the centre of the band);
the steps carry the check they were found with, so the catalogue check keeps them.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import pelsim  # noqa: F401
from pelsim.errors import InputError
from pelsim.landscape import surfaces as S
from pelsim.landscape.catalogue import Catalogue
from pelsim.landscape.connect import RECENTRE_STATS, connect, relax
from pelsim.landscape.neb import NEBParams
from pelsim.landscape.search import add_checked_step, band_reference, pair_list_energy, recentring

MB_SADDLE_0 = S.MUELLER_BROWN_SADDLES[0]  # (-0.822, 0.624): the saddle between minima 0 and 2
X_EDGE = -0.65  # the initial region: x > X_EDGE (the straight band 0 -> 2 stays right of it)


def _mb(i):
    return relax(S.mueller_brown, S.as_position(*S.MUELLER_BROWN_MINIMA[i, :2])).R


def _wrong_outside(inside_distance):
    """Mueller-Brown inside a region, a wrong surface outside (as a pair list that misses pairs):
    a steep wall grows with the distance beyond the region (``inside_distance(R) <= 0``)."""

    def energy(R):
        return S.mueller_brown(R) + 1e4 * jax.nn.relu(inside_distance(R)) ** 2

    return energy


def _half_plane():
    energy = _wrong_outside(lambda R: X_EDGE - R.ravel()[0])
    return energy, lambda R: R.ravel()[0] > X_EDGE


def _disk_hook(margin=0.15, calls=None):
    """Re-centring for the analytic surface: a disk around the centre of the band's extent."""

    def recentre(images):
        c, r = band_reference(images, None)
        c, rad = jnp.asarray(c.ravel()), r + margin
        if calls is not None:
            calls.append((np.asarray(images), c, rad))
        dist = lambda R: jnp.linalg.norm(R.ravel() - c) - rad
        return _wrong_outside(dist), lambda R: dist(R) < 0.0

    return recentre


P_MB = NEBParams(fmax=1e-4, max_steps=20000)


def test_band_leaving_its_region_is_recentred_and_finds_the_true_saddle():
    """Mueller-Brown 0 -> 2, energy exact only at x > -0.65 (wrong beyond): without a hook the
    branch ends; with it, the band continues on a disk around itself and the step is the one of
    the exact surface: same saddle, barrier and minima as an all-exact run, to 1e-9."""
    A, B = _mb(0), _mb(2)
    energy0, valid0 = _half_plane()
    exact = connect(S.mueller_brown, A, B, 12, P_MB)
    assert len(exact) == 1
    assert abs(exact[0].saddle.energy - MB_SADDLE_0[2]) < 2e-6

    stats = {}
    assert connect(energy0, A, B, 12, P_MB, is_valid=valid0, stats=stats) == []
    assert stats == dict(dict.fromkeys(RECENTRE_STATS, 0), invalid_branches=1)

    calls, stats = [], {}
    steps = connect(energy0, A, B, 12, P_MB, is_valid=valid0, recentre=_disk_hook(calls=calls), stats=stats)
    assert stats["recentred"] == len(calls) >= 1 and stats["invalid_branches"] == 0
    # the hook got the band where it stopped: just past the edge of the first region
    x_stop = calls[0][0].reshape(len(calls[0][0]), -1)[:, 0]
    assert X_EDGE - P_MB.lbfgs_max_step - 1e-12 < x_stop.min() < X_EDGE
    assert len(steps) == 1
    st, ex = steps[0], exact[0]
    assert st.saddle.max_force < 1e-10 and st.saddle.n_negative == 1
    assert np.allclose(st.saddle.R, ex.saddle.R, atol=1e-9)
    assert abs(st.saddle.energy - ex.saddle.energy) < 1e-9 and abs(st.barrier - ex.barrier) < 1e-9
    assert abs(st.asymmetry - ex.asymmetry) < 1e-9
    # the saddle lies outside the first region: the step carries the check it was found with
    assert not valid0(st.saddle.R) and st.is_valid is not valid0
    assert all(bool(st.is_valid(R)) for R in (st.min_a.R, st.saddle.R, st.min_b.R))
    assert abs(st.profile["V"].max() - st.barrier) < 1e-9

    # the catalogue check uses the step's own region: kept with the glass's check passed
    cat = Catalogue(None, N=1, dim=2)
    i, why = add_checked_step(cat, st, "is_pair", 0, 0, {}, valid0)
    assert why == "" and i == 0 and len(cat.dwp_rows) == 1
    st.is_valid = None  # a step without its own check falls back to the given one
    assert add_checked_step(cat, st, "is_pair", 0, 0, {}, valid0) == (None, "invalid")


def test_recentring_budget_and_give_up_end_the_branch():
    A, B = _mb(0), _mb(2)
    energy0, valid0 = _half_plane()
    stats = {}
    kw = dict(is_valid=valid0, recentre=_disk_hook(), stats=stats)
    assert connect(energy0, A, B, 12, P_MB, max_recentres=0, **kw) == []
    assert stats["recentre_budget_spent"] == 1 and stats["recentred"] == 0
    stats.clear()
    assert connect(energy0, A, B, 12, P_MB, is_valid=valid0, recentre=lambda images: None, stats=stats) == []
    assert stats["recentre_gave_up"] == 1 and stats["invalid_branches"] == 1
    with pytest.raises(InputError):
        connect(energy0, A, B, 12, P_MB, max_recentres=-1, **kw)


def test_band_reference_covers_every_image_across_the_box():
    rng = np.random.default_rng(0)
    box = np.array([5.0, 6.0])
    base = rng.uniform(0, 5, (7, 2))
    images = np.stack([base + 0.1 * k * rng.standard_normal((7, 2)) for k in range(6)])
    images = np.mod(images, box)  # wrapped: some particles jump across the box between images
    c, r = band_reference(images, box)
    d = images - c
    d -= box * np.round(d / box)
    dist = np.linalg.norm(d, axis=-1)
    assert np.isclose(dist.max(), r) and r < 1.0  # the true spread, not a box-sized one


def _ka2d_pair():
    from pelsim.landscape.search import adjacent_minima_example

    return adjacent_minima_example("ka2d", 64, seed=1)


def test_two_valid_pair_lists_agree_to_round_off():
    """Same configuration, two references within skin/2 of it (the IS and a band-centre-like
    shifted reference): energy and forces agree with each other and the all-pairs energy."""
    from pelsim.potentials import energy_fn
    from pelsim.prepare import quench, random_configuration

    conf, _ = quench(random_configuration("ka2d", 64, seed=2))
    rng = np.random.default_rng(1)
    R = conf.positions + 0.1 * rng.uniform(-1, 1, conf.positions.shape)  # <= 0.14 from both refs
    ref2 = conf.positions + 0.2 * rng.uniform(-1, 1, conf.positions.shape)  # R within 0.43 of it
    e1, v1 = pair_list_energy(conf, "smooth", conf.positions, 0.6)
    e2, v2 = pair_list_energy(conf, "smooth", ref2, 0.9)
    e0 = energy_fn("ka2d", conf.box, conf.species, "smooth")
    R = jnp.asarray(R)
    assert bool(v1(R)) and bool(v2(R))
    vals = [jax.value_and_grad(e)(R) for e in (e1, e2, e0)]
    for E, G in vals[1:]:
        assert abs(float(E) - float(vals[0][0])) < 1e-10
        assert float(jnp.max(jnp.abs(G - vals[0][1]))) < 1e-10


@pytest.mark.slow
def test_ka_steps_found_after_recentring_reach_the_catalogue_and_are_exact(full):
    """KA 2D N=64, a deliberately small pair list (skin 0.3: exact within 0.15 sigma of the IS)
    that the DWP's band must leave: with search.recentring the connection finds the saddle of the
    all-pairs run, the step passes the catalogue check given the IS list's check, and its minima
    and saddle are stationary under the independent O(N^2) reference energy (max|F| < 1e-8)."""
    from pelsim.models import load_model
    from pelsim.potentials import reference_energy

    a, b, sad = _ka2d_pair()
    skin = 0.3
    energy0, valid0 = pair_list_energy(a, "smooth", a.positions, skin)
    assert bool(valid0(jnp.asarray(a.positions)))
    p = NEBParams(fmax=1e-2, max_steps=2000, climb_after=0.1, dt_max=0.06)
    hook = recentring(a, margin=0.1, max_skin=1.0, skin=skin)
    stats = {}
    steps = connect(
        energy0,
        a.positions,
        b.positions,
        12,
        p,
        box=a.box,
        is_valid=valid0,
        recentre=hook,
        stats=stats,
        max_recentres=3 if full else 2,
    )
    assert stats["recentred"] >= 1 and hook.skins and max(hook.skins) <= 1.0
    assert len(steps) >= 1
    assert any(abs(st.saddle.energy - sad.energy) < 1e-8 for st in steps)
    ref = reference_energy(load_model("ka2d"), a.box, a.species)
    g = jax.jit(jax.grad(ref))
    cat = Catalogue(None, N=a.n, dim=2, box=a.box)
    for st in steps:
        assert not all(bool(valid0(jnp.asarray(R))) for R in st.images)  # needed the re-centring
        i, why = add_checked_step(cat, st, "is_pair", 0, 0, {}, valid0)
        assert why == "" and i is not None
        for R, E in (
            (st.min_a.R, st.min_a.energy),
            (st.saddle.R, st.saddle.energy),
            (st.min_b.R, st.min_b.energy),
        ):
            assert np.max(np.linalg.norm(np.asarray(g(jnp.asarray(R))), axis=1)) < 1e-8
            assert abs(float(ref(jnp.asarray(R))) - E) < 1e-9
    assert len(cat.dwp_rows) == len(
        {(min(r["min_a"], r["min_b"]), max(r["min_a"], r["min_b"])) for r in cat.dwp_rows}
    )


def test_recentred_connection_through_an_intermediate_minimum_finds_both_saddles():
    """Mueller-Brown 0 -> 1 runs through minimum 2 and saddle 0 at x = -0.82: the band leaves the
    region x > -0.65, is re-centred, and the connection gives the two elementary steps of the
    exact surface, chained through minimum 2, each carrying the check it was found with."""
    energy0, valid0 = _half_plane()
    p = NEBParams(k=1.0, fmax=1e-2, dt_max=0.01, max_step=0.01)
    stats = {}
    steps = connect(energy0, _mb(0), _mb(1), 16, p, is_valid=valid0, recentre=_disk_hook(), stats=stats)
    assert stats["recentred"] >= 1 and stats["invalid_branches"] == 0
    assert len(steps) == 2
    got = sorted(st.saddle.energy for st in steps)
    assert np.allclose(got, sorted(S.MUELLER_BROWN_SADDLES[:, 2]), atol=2e-6)
    assert np.allclose(steps[0].min_b.R, steps[1].min_a.R, atol=1e-8)
    for st in steps:
        assert st.saddle.max_force < 1e-10 and st.saddle.n_negative == 1
        assert all(bool(st.is_valid(R)) for R in (st.min_a.R, st.saddle.R, st.min_b.R))


def test_step_whose_profile_leaves_the_region_is_refused():
    """The tunneling parameters come from the path profile, so the catalogue check covers every
    profile image, not only the minima and the saddle: a region that holds both minima and the
    saddle but misses one interior image of the path refuses the step (counted "invalid")."""
    (st,) = connect(S.mueller_brown, _mb(0), _mb(2), 12, P_MB)
    k = next(i for i in range(1, len(st.images) - 1) if not np.allclose(st.images[i], st.saddle.R))
    hole = jnp.asarray(st.images[k])
    valid = lambda R: jnp.linalg.norm(R - hole) > 1e-6  # everywhere but at image k
    assert all(bool(valid(R)) for R in (st.min_a.R, st.saddle.R, st.min_b.R))
    cat = Catalogue(None, N=1, dim=2)
    assert add_checked_step(cat, st, "is_pair", 0, 0, {}, valid) == (None, "invalid")
    assert add_checked_step(cat, st, "is_pair", 0, 0, {}, lambda R: jnp.bool_(True))[1] == ""
