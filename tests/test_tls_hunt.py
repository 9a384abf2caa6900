"""TLS hunt (pelsim.landscape.pairs, pelsim.landscape.hunt): features against a brute-force loop,
the bookkeeping of minima, the prefilter's derivation on exhaustively screened real minima, the
ranker, the selection-aware statistics, and the screen against the full refinement."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest

from pelsim.errors import InputError
from pelsim.geometry import minimum_image
from pelsim.landscape.hunt import (
    DOUBLE_WELL,
    PairRanker,
    hunt_statistics,
    minima_from_sequence,
)
from pelsim.landscape.pairs import (
    FEATURES,
    displacement_clusters,
    feature_matrix,
    hessian_bound,
    pair_features,
    prefilter,
    prefilter_bounds,
)
from pelsim.landscape.routes import HuntParams

DATA = Path(__file__).parent / "data"


def _features_loop(R, E, box, masses, T, V):
    """Independent implementation: one pair at a time, plain Python over particles."""
    M, N, dim = R.shape
    out = []
    order = sorted(range(M), key=lambda k: (E[k], k))
    rank = {k: r / max(M - 1, 1) for r, k in enumerate(order)}
    for i, j in itertools.combinations(range(M), 2):
        u = []
        for p in range(N):
            d = R[j, p] - R[i, p]
            d = d - box * np.round(d / box)
            u.append(d)
        u = np.array(u)
        u -= u.mean(axis=0)
        n2 = np.array([float(x @ x) for x in u])
        top = sorted(range(N), key=lambda p: -n2[p])[:3]
        lo, hi = (i, j) if E[i] <= E[j] else (j, i)

        def dist(p, q, i=i):
            d = R[i, q] - R[i, p]
            d = d - box * np.round(d / box)
            return float(np.sqrt(d @ d))

        d2 = float(np.sum(masses * n2))
        # clusters of particles displaced > 0.2 joined within 2.0: plain union-find
        core = [p for p in range(N) if n2[p] > 0.2**2]
        parent = {p: p for p in core}

        def root(p, parent=parent):
            while parent[p] != p:
                p = parent[p]
            return p

        for p, q in itertools.combinations(core, 2):
            if dist(p, q) < 2.0:
                parent[root(p)] = root(q)
        groups: dict = {}
        for p in core:
            groups.setdefault(root(p), []).append(p)
        mine = [g for g in groups.values() if top[0] in g]
        share = sum(n2[p] for p in mine[0]) / sum(n2[p] for p in core) if core else 1.0
        f = {
            "abs_dE": abs(E[j] - E[i]),
            "E_low": E[lo] - min(E),
            "E_high": E[hi] - min(E),
            "rank_low": rank[lo],
            "rank_high": rank[hi],
            "dr1": np.sqrt(n2[top[0]]),
            "dr2": np.sqrt(n2[top[1]]),
            "dr3": np.sqrt(n2[top[2]]),
            "d": np.sqrt(d2),
            "d2_sum": d2,
            "pr": n2.sum() ** 2 / (N * np.sum(n2**2)),
            "n_moving": float(np.sum(np.sqrt(n2) > 0.1)),
            "r12": dist(top[0], top[1]),
            "r13": dist(top[0], top[2]),
            "r23": dist(top[1], top[2]),
            "transitions": T[i, j] + T[j, i],
            "visits_low": V[lo],
            "visits_high": V[hi],
            "dE_per_d2": abs(E[j] - E[i]) / d2,
            "n_clusters": float(len(groups)),
            "cluster_share": share,
        }
        out.append(f)
    return out


def test_pair_features_match_a_brute_force_loop():
    rng = np.random.default_rng(4)
    M, N, box = 6, 11, np.array([3.0, 3.5, 4.0])
    R0 = rng.uniform(0, 1, (N, 3)) * box
    R = np.stack([np.mod(R0 + rng.normal(0, 0.3, (N, 3)), box) for _ in range(M)])
    E = rng.normal(0, 1, M)
    masses = rng.uniform(0.5, 1.5, N)
    T = rng.integers(0, 3, (M, M)).astype(float)
    V = rng.integers(1, 9, M).astype(float)
    f = pair_features(R, E, box, masses, T, V, block=4)  # several blocks
    ref = _features_loop(R, E, box, masses, T, V)
    assert len(f["i"]) == M * (M - 1) // 2
    for k in FEATURES:
        np.testing.assert_allclose(f[k], [r[k] for r in ref], rtol=1e-12, atol=1e-12, err_msg=k)
    assert feature_matrix(f).shape == (len(ref), len(FEATURES))


def test_displacement_clusters_separate_independent_rearrangements():
    """Two rearrangements on opposite sides of a periodic box are two clusters; one that straddles
    the boundary is one (minimum image); the cluster share is the most displaced one's."""
    box = np.array([10.0, 10.0, 10.0])
    g = np.arange(0.5, 10.0, 1.0)
    R0 = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)
    u = np.zeros_like(R0)
    near = lambda c: np.flatnonzero(np.linalg.norm(minimum_image(R0 - c, box), axis=1) < 1.2)  # noqa: E731
    a, b = near(np.array([0.5, 0.5, 0.5])), near(np.array([5.5, 5.5, 5.5]))  # a straddles the corner
    u[a] = [0.3, 0.0, 0.0]
    u[b] = [0.0, 0.5, 0.0]
    cl = displacement_clusters(R0, u, box)
    assert len(cl) == 2 and sorted(map(len, cl)) == sorted([len(a), len(b)])
    assert {frozenset(c.tolist()) for c in cl} == {frozenset(a.tolist()), frozenset(b.tolist())}
    f = pair_features(np.stack([R0, np.mod(R0 + u, box)]), np.zeros(2), box)
    uu = u - u.mean(axis=0)  # the features remove the mean translation
    w_a, w_b = np.sum(uu[a] ** 2), np.sum(uu[b] ** 2)
    assert f["n_clusters"][0] == 2
    np.testing.assert_allclose(f["cluster_share"][0], w_b / (w_a + w_b), rtol=1e-9)
    u[a] = 0.0  # one rearrangement: share 1
    f = pair_features(np.stack([R0, np.mod(R0 + u, box)]), np.zeros(2), box)
    assert f["n_clusters"][0] == 1 and f["cluster_share"][0] == 1.0


def test_added_minima_keep_the_old_pairs_state_and_match_fresh_features():
    """add_minima (band-interior minima joining a glass): every old pair keeps its screening state
    at its new row, and the features of all pairs (cluster features of the old pairs carried over,
    not recomputed) equal those of the grown set of minima computed afresh."""
    from types import SimpleNamespace

    from pelsim.landscape.hunt import GlassHunt, _new_table, add_minima

    rng = np.random.default_rng(9)
    box = np.array([6.0, 6.0, 6.0])
    R0 = rng.uniform(0, 6, (40, 3))
    R = np.stack(
        [
            np.mod(R0 + rng.normal(0, 0.15, R0.shape) * (rng.uniform(size=(40, 1)) < 0.3), box)
            for _ in range(7)
        ]
    )
    E = rng.normal(0, 0.05, 7)
    seq = [0, 1, 2, 1, 3, 4]
    m = minima_from_sequence([(R[k], E[k], 0.0) for k in seq], box)
    bounds = prefilter_bounds(0.01, 0.01, 100.0)
    f = pair_features(m.positions, m.energies, box, None, m.transitions, m.visits)
    h = GlassHunt(
        0,
        SimpleNamespace(box=box),
        None,
        None,
        m,
        _new_table(f, prefilter(f, bounds)),
        bounds.as_dict(),
        100.0,
        np.array([2, 7]),
    )
    h.table["outcome"][:] = np.arange(len(f["i"])) % 5
    h.table["splitting"][:] = np.arange(len(f["i"])) * 0.1
    before = {
        (int(i), int(j)): (int(o), float(s))
        for i, j, o, s in zip(
            h.table["i"], h.table["j"], h.table["outcome"], h.table["splitting"], strict=True
        )
    }
    ctrl = [(int(h.table["i"][r]), int(h.table["j"][r])) for r in h.control]
    assert add_minima(h, R[5:], E[5:], [0.0, 0.0]) == 2
    t = h.table
    assert len(t["i"]) == 7 * 6 // 2
    for r, (i, j) in enumerate(zip(t["i"], t["j"], strict=True)):
        if (int(i), int(j)) in before:
            assert (int(t["outcome"][r]), float(t["splitting"][r])) == before[(int(i), int(j))]
            assert not t["expanded"][r]
        else:
            assert t["outcome"][r] == 0 and np.isnan(t["splitting"][r]) and t["expanded"][r]
    assert [(int(t["i"][r]), int(t["j"][r])) for r in h.control] == ctrl
    fresh = pair_features(
        h.minima.positions, h.minima.energies, box, None, h.minima.transitions, h.minima.visits
    )
    for k in FEATURES:
        np.testing.assert_allclose(t[k], fresh[k], rtol=1e-12, atol=1e-12, err_msg=k)


def _separable_wells(n=6, a=0.3, seed=3):
    """Particles on a cubic lattice (spacing 1, periodic box n), each in its own double well
    (x - x0)^2 - a^2)^2 + b_i (x - x0) + y-, z- harmonic: the minima are the 2^N flip states, known
    exactly, and independent flips in separate places are separate rearrangements."""
    from scipy.optimize import minimize

    g = np.arange(n) + 0.5
    R0 = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)
    b = np.random.default_rng(seed).uniform(-0.002, 0.002, len(R0))
    box = np.full(3, float(n))

    def energy_grad(x):
        d = minimum_image(x.reshape(-1, 3) - R0, box)
        e = np.sum((d[:, 0] ** 2 - a * a) ** 2 + b * d[:, 0] + d[:, 1] ** 2 + d[:, 2] ** 2)
        gr = np.stack([4 * d[:, 0] * (d[:, 0] ** 2 - a * a) + b, 2 * d[:, 1], 2 * d[:, 2]], 1)
        return e, gr.ravel()

    def quench(R):
        r = minimize(
            energy_grad,
            np.asarray(R, float).ravel(),
            jac=True,
            method="L-BFGS-B",
            options={"gtol": 1e-12, "ftol": 1e-15, "maxiter": 5000},
        )
        return r.x.reshape(-1, 3), float(r.fun), float(np.abs(r.jac).max())

    def state(flip):  # the exact minimum with the particles ``flip`` on the + side
        s = -np.ones(len(R0))
        s[list(flip)] = 1.0
        return quench(R0 + np.stack([s * a, 0 * s, 0 * s], 1))

    return R0, box, quench, state


def test_split_transitions_finds_the_single_rearrangement_minima():
    from pelsim.landscape.hunt import split_transitions

    R0, box, quench, state = _separable_wells()
    site = {tuple(np.round(r - 0.5).astype(int)): k for k, r in enumerate(R0)}
    p, q, r = site[(0, 0, 0)], site[(3, 3, 3)], site[(0, 0, 1)]  # p and r neighbours, q far away
    A, B = state([]), state([p, q, r])  # one transition moving two separate clusters: {p, r}, {q}
    mins = minima_from_sequence([A, B, A], box)
    assert split_transitions(mins, box, budget=10, quench_fn=quench) == 2 and mins.count == 4
    assert mins.from_splits == 2 and mins.visits[2:].tolist() == [0, 0] and not mins.transitions[2:].any()
    expect = [state([p, r]), state([q])]  # the larger cluster first
    for k, (R, E, _) in enumerate(expect):
        assert abs(mins.energies[2 + k] - E) < 1e-10
        assert np.max(np.abs(minimum_image(mins.positions[2 + k] - R, box))) < 1e-5
    # one cluster only (particles within the 2 sigma link): nothing to split; budget respected
    mins = minima_from_sequence([A, state([p, r])], box)
    assert split_transitions(mins, box, budget=10, quench_fn=quench) == 0
    mins = minima_from_sequence([A, B], box)
    assert split_transitions(mins, box, budget=1, quench_fn=quench) == 1 and mins.count == 3


def test_pair_features_are_symmetric_and_translation_invariant():
    rng = np.random.default_rng(5)
    box = np.array([5.0, 5.0, 5.0])
    R = rng.uniform(0, 5, (3, 20, 3))
    E = np.array([0.0, 0.3, -0.2])
    a = pair_features(R, E, box)
    b = pair_features(R[::-1], E[::-1], box)  # pairs in reverse order of minima
    shifted = pair_features(np.mod(R + np.array([1.7, -0.4, 2.2]), box), E, box)
    for k in ("abs_dE", "dr1", "dr2", "dr3", "d", "pr", "n_moving"):
        np.testing.assert_allclose(a[k], b[k][::-1], atol=1e-12)
        np.testing.assert_allclose(a[k], shifted[k], atol=1e-12)
    # a uniform translation of one minimum is no rearrangement
    same = pair_features(np.stack([R[0], np.mod(R[0] + 0.37, box)]), np.zeros(2), box)
    assert same["dr1"][0] < 1e-12 and same["n_moving"][0] == 0


def test_pair_features_refuse_bad_input():
    with pytest.raises(InputError, match="NaN"):
        pair_features(np.full((2, 3, 3), np.nan), np.zeros(2))
    with pytest.raises(InputError, match="positions"):
        pair_features(np.zeros((2, 3)), np.zeros(2))
    with pytest.raises(InputError, match="pair indices"):
        pair_features(np.zeros((2, 3, 3)), np.zeros(2), pairs=[(0, 5)])


def test_minima_from_sequence_counts_visits_and_transitions():
    rng = np.random.default_rng(0)
    X = [rng.uniform(0, 4, (8, 3)) for _ in range(3)]
    E = [-1.0, -0.5, -0.7]
    seq = [0, 0, 1, 1, 0, 2, 2, 1]
    m = minima_from_sequence([(X[k], E[k] + 1e-9 * n, 0.0) for n, k in enumerate(seq)], box=np.full(3, 4.0))
    assert m.count == 3 and m.sequence == seq
    np.testing.assert_array_equal(m.visits, [3, 3, 2])
    T = np.zeros((3, 3))
    T[0, 1] = T[1, 0] = T[0, 2] = T[2, 1] = 1
    np.testing.assert_array_equal(m.transitions, T)


def test_prefilter_bounds():
    b = prefilter_bounds(E_thr=0.01, hbar=0.03, lambda_max=400.0, zero_point_margin=1.5, dr1_max=2.0)
    assert b.zero_point == pytest.approx(1.5 * 0.5 * 0.03 * 20.0)
    assert b.abs_dE_max == pytest.approx(0.01 + b.zero_point)
    f = {"abs_dE": np.array([0.0, 0.3, 0.5, 0.1]), "dr1": np.array([0.5, 0.5, 0.5, 2.5])}
    np.testing.assert_array_equal(prefilter(f, b), [True, True, False, False])
    with pytest.raises(InputError):
        prefilter_bounds(0.01, 0.03, float("nan"))
    with pytest.raises(InputError):
        prefilter_bounds(0.01, 0.03, 1.0, zero_point_margin=0.5)


def test_hessian_bound_of_a_quadratic():
    import jax.numpy as jnp

    k = np.linspace(1.0, 50.0, 12).reshape(4, 3)
    energy = lambda R: 0.5 * jnp.sum(jnp.asarray(k) * R**2)
    masses = np.array([1.0, 2.0, 0.5, 1.0])
    lam = hessian_bound(energy, np.zeros((4, 3)), masses, iters=300)
    exact = float(np.max(k / masses[:, None]))
    assert exact <= lam <= 1.05 * exact * (1 + 1e-9)


def test_route_params_checked_and_schema_generated():
    from pelsim.campaign import config

    with pytest.raises(InputError, match="tls_hunt.quenches"):
        HuntParams(quenches=0)
    with pytest.raises(InputError, match="tls_hunt.control_fraction"):
        HuntParams(control_fraction=1.5)
    with pytest.raises(InputError, match="unknown tls_hunt"):
        HuntParams.from_dict({"quench_evry": 3})
    from dataclasses import fields

    from pelsim.landscape.routes import ROUTES

    for route, (cls, enabled) in ROUTES.items():  # one source of names, defaults and bounds
        keys = config.SCHEMA["search"][route]
        assert set(keys) == {f.name for f in fields(cls)} | {"enabled"}
        assert keys["enabled"].default is enabled
        for f in fields(cls):
            assert keys[f.name].default == getattr(cls(), f.name)
            assert (keys[f.name].min, keys[f.name].max) == (f.metadata["min"], f.metadata["max"])
    cfg = config.validate({"campaign": {"name": "x"}, "model": {"N": 270}, "glasses": {"count": 1}})
    assert HuntParams.from_dict(cfg["search"]["tls_hunt"]) == HuntParams()
    with pytest.raises(InputError, match="search.tls_hunt.T"):
        base = {"campaign": {"name": "x"}, "model": {"N": 270}, "glasses": {"count": 1}}
        config.validate(dict(base, search={"tls_hunt": {"T": -1.0}}))


def test_ranker_learns_a_planted_rule():
    rng = np.random.default_rng(1)
    n = 600
    feats = {k: rng.uniform(0, 1, n) for k in FEATURES}
    feats["abs_dE"] = rng.uniform(0, 0.05, n)
    E_thr = 0.01
    is_dw = feats["dr1"] < 0.5
    log_ratio = np.log10(feats["abs_dE"] / E_thr + 0.05) + 0.05 * rng.normal(size=n)
    X = feature_matrix(feats)
    train, test = np.arange(400), np.arange(400, n)
    r = PairRanker(E_thr, seed=0).fit(X[train], is_dw[train], np.where(is_dw, log_ratio, np.nan)[train])
    assert r.clf is not None and r.reg is not None
    score = r.score(X[test], {k: v[test] for k, v in feats.items()})
    truth = is_dw[test] & (log_ratio[test] < 0)
    assert truth.sum() >= 5
    # AUC of the score for the planted TLS
    pos, neg = score[truth], score[~truth]
    auc = np.mean(pos[:, None] > neg[None, :])
    assert auc > 0.9
    # without labels the prior ranks small |dE| and small dr1 first
    r0 = PairRanker(E_thr)
    s0 = r0.score(X, feats)
    assert np.corrcoef(s0, -feats["abs_dE"])[0, 1] > 0.5


def test_hunt_statistics_recall_and_estimates():
    S = [
        {
            "pool": 100,
            "control": 10,
            "control_tls": 2,
            "control_dw": 5,
            "screened": 40,
            "screened_dw": 20,
            "screened_tls": 8,
            "ranked": 30,
            "ranked_tls": 6,
            "refined": 5,
        },
        {
            "pool": 50,
            "control": 10,
            "control_tls": 1,
            "control_dw": 4,
            "screened": 30,
            "screened_dw": 10,
            "screened_tls": 3,
            "ranked": 20,
            "ranked_tls": 2,
            "refined": 2,
        },
    ]
    st = hunt_statistics(S, n_particles=100, E_thr=0.01, bootstrap=200)
    # expected TLS among the ranked pools: 90 * 2/10 + 40 * 1/10 = 22; found 8
    assert st["recall"] == pytest.approx(8 / 22)
    assert st["tls_estimated_in_pool"] == pytest.approx(100 * 0.2 + 50 * 0.1)
    assert st["n0_found"] == pytest.approx(11 / (2 * 100 * 0.01))
    assert st["n0_estimated"] == pytest.approx(25 / (2 * 100 * 0.01))
    assert st["reliable"] and np.isfinite(st["recall_err"])
    weak = hunt_statistics([dict(S[0], control_tls=0)], n_particles=100, E_thr=0.01)
    assert not weak["reliable"] and "caveat" in weak and np.isnan(weak["recall"])
    # the exact interval of the recall, a ratio of Poisson rates: ranked TLS 8 per 130 ranked-pool
    # pairs over control TLS 3 per 20 pairs (pooled recall 0.41); it holds the point estimate and,
    # with 3 control TLS, spans more than a factor 10
    assert st["recall_low"] < 8 / 130 / (3 / 20) < st["recall_high"]
    assert st["recall_high"] / st["recall_low"] > 10
    assert st["control_tls_glasses"] == 2
    # all control TLS in one glass: the bootstrap over glasses gives a zero spread (every resample
    # holding that glass has the same ratio), so the error is not measured and the figure unreliable
    one = [dict(S[0], control_tls=4), dict(S[1], control_tls=0), dict(S[1], control_tls=0)]
    st1 = hunt_statistics(one, n_particles=100, E_thr=0.01, bootstrap=200)
    assert st1["control_tls_glasses"] == 1 and np.isnan(st1["recall_err"])
    assert not st1["reliable"] and "one glass" in st1["caveat"]
    # a recall estimate above 1 (control rate below the ranked rate by chance) is flagged
    hi = [dict(S[0], control_tls=1, ranked_tls=20), dict(S[1], control_tls=1, ranked_tls=10)]
    sth = hunt_statistics(hi, n_particles=100, E_thr=0.01, bootstrap=50)
    assert sth["recall"] > 1 and "exceeds 1" in sth["caveat"]


def test_rate_ratio_exact_limits_and_symmetry():
    from pelsim.landscape.hunt import rate_ratio

    # 0 TLS in the stable glasses against 10 in as many unstable ones: under equal rates each of the
    # 10 falls on either side with probability 1/2, so P(all 10 on the unstable side) = 2^-10, and
    # the Clopper-Pearson upper bound of p is 1 - (alpha/2)^(1/10) (closed forms of the binomial)
    r = rate_ratio(0, 16, 10, 16)
    assert r["ratio"] == 0.0 and r["ratio_low"] == 0.0
    assert r["p_lower"] == pytest.approx(0.5**10, rel=1e-12)
    pu = 1 - 0.025 ** (1 / 10)
    assert r["ratio_high"] == pytest.approx(pu / (1 - pu), rel=1e-9)
    # unequal exposures: the ratio and the null move with them; swapping the two inverts the interval
    a, b = rate_ratio(3, 8, 12, 16), rate_ratio(12, 16, 3, 8)
    assert a["ratio"] == pytest.approx((3 / 8) / (12 / 16))
    assert a["ratio_low"] * b["ratio_high"] == pytest.approx(1.0, rel=1e-9)
    assert a["ratio_high"] * b["ratio_low"] == pytest.approx(1.0, rel=1e-9)
    assert a["ratio_low"] < a["ratio"] < a["ratio_high"]
    # no counts at all: nothing is measured
    none = rate_ratio(0, 4, 0, 4)
    assert np.isnan(none["ratio"]) and none["ratio_high"] == np.inf and none["p_lower"] == 1.0
    with pytest.raises(InputError, match="exposures"):
        rate_ratio(1, 0, 1, 2)


def test_rate_ratio_interval_covers_the_true_ratio():
    """Independent route: Poisson counts drawn with a known rate ratio; the exact interval must
    cover it in at least 95 % of draws (it is conservative), and the one-sided test must reject
    equal rates at the 5 % level in at most 5 % of draws when they are equal."""
    from pelsim.landscape.hunt import rate_ratio

    rng = np.random.default_rng(7)
    for true_ratio, E, E_ref, mu_ref in [(0.2, 16, 16, 0.6), (1.0, 10, 20, 0.3), (0.5, 30, 12, 1.5)]:
        cover, reject = 0, 0
        draws = 1500
        seen: dict = {}  # the counts repeat: one interval per distinct (k, k_ref)
        for _ in range(draws):
            k_ref = rng.poisson(mu_ref * E_ref)
            k = rng.poisson(true_ratio * mu_ref * E)
            if (k, k_ref) not in seen:
                seen[k, k_ref] = rate_ratio(k, E, k_ref, E_ref)
            r = seen[k, k_ref]
            cover += r["ratio_low"] <= true_ratio <= r["ratio_high"]
            reject += r["p_lower"] < 0.05
        assert cover / draws >= 0.95 - 2 * np.sqrt(0.05 * 0.95 / draws)
        if true_ratio == 1.0:
            assert reject / draws <= 0.05 + 2 * np.sqrt(0.05 * 0.95 / draws)
        if true_ratio == 0.2:  # 9.6 TLS expected in the reference: depletion by 5x is usually seen
            assert reject / draws > 0.6


def test_depletion_by_T_f_against_the_least_stable():
    from pelsim.landscape.hunt import depletion_by_T_f

    by = {
        "0.092": {"tls_found": 0.0, "glasses": 16, "screened_dw": 40},
        "0.12": {"tls_found": 10.0, "glasses": 16, "screened_dw": 800},
        "0.07": {"tls_found": 1.0, "glasses": 8, "screened_dw": 0},
    }
    d = depletion_by_T_f(by)
    assert d["reference_T_f"] == 0.12 and set(d["vs_reference"]) == {"0.07", "0.092"}
    g = d["vs_reference"]["0.092"]["tls_per_glass"]
    assert g["k"] == 0 and g["k_ref"] == 10 and g["p_lower"] == pytest.approx(0.5**10)
    # per DW: 40 of 840 DWs are the stable ones', so p0 = 40/840 and P(0 of 10) = (800/840)^10
    w = d["vs_reference"]["0.092"]["tls_per_dw"]
    assert w["p_lower"] == pytest.approx((800 / 840) ** 10, rel=1e-9)
    assert d["vs_reference"]["0.07"]["tls_per_dw"] is None
    assert d["vs_reference"]["0.07"]["tls_per_glass"]["ratio"] == pytest.approx((1 / 8) / (10 / 16))
    assert depletion_by_T_f({}) == {}


def _table_rows(t, k):
    return {c: t[c][k] for c in t}


@pytest.mark.slow
def test_prefilter_loses_no_tls_on_exhaustively_screened_minima():
    """Real minima (KA 3D N = 270 glass, low-T MD + quenches, tests/data): every pair screened
    (no prefilter). The derivation of the |dE| bound needs E >= |dE| - (zero-point term) for every
    double well; the empirical dr1 bound must hold for every DW with a splitting below 10 E_thr."""
    from pelsim.landscape.hunt import screen_pairs
    from pelsim.landscape.pairs import pair_indices
    from pelsim.landscape.search import landscape_energy
    from pelsim.units import get_preset

    d = np.load(DATA / "ka3d_n270_minima.npz")
    conf = _conf(d)
    energy, _ = landscape_energy(conf)
    pre = get_preset("argon")
    E_thr = pre.energy_reduced(1.0)
    lam = hessian_bound(energy, d["positions"][:4])
    b = prefilter_bounds(E_thr, pre.hbar, lam)
    f = pair_features(d["positions"], d["energies"], conf.box)
    I, J = pair_indices(len(d["energies"]))
    recs, _ = screen_pairs(energy, d["positions"], np.stack([I, J], 1), pre.hbar, conf.box, k_max=lam)
    dw = np.array([r["outcome"] == DOUBLE_WELL for r in recs])
    split = np.array([r["splitting"] for r in recs])
    assert dw.sum() >= 5
    assert np.all(split[dw] >= f["abs_dE"][dw] - b.zero_point)
    # the tight form of the derivation: |Delta - dE| is the zero-point difference
    delta = np.array([r["Delta"] for r in recs])
    assert np.all(np.abs(np.abs(delta[dw]) - f["abs_dE"][dw]) <= b.zero_point)
    low = dw & (split < 10 * E_thr)
    assert np.all(f["dr1"][low] <= b.dr1_max)
    mask = prefilter(f, b)
    assert np.all(mask[dw & (split < E_thr)])


def _conf(d):
    from pelsim.config import Configuration

    return Configuration(
        positions=d["positions"][0], species=d["species"], box=d["box"], model="ka3d", info={}
    )


@pytest.mark.slow
def test_screened_parameters_agree_with_the_refinement():
    """The screening band's splitting and Delta against the catalogue's refined DWP for the same
    pair (KA 2D N = 64, one saddle apart): the accuracy docs/landscape.md states."""
    from pelsim.landscape.catalogue import Catalogue
    from pelsim.landscape.connect import connect
    from pelsim.landscape.hunt import screen_pairs
    from pelsim.landscape.search import adjacent_minima_example, landscape_energy
    from pelsim.landscape.steps import SEARCH_NEB
    from pelsim.units import get_preset

    a, b, _sad = adjacent_minima_example()
    energy, _ = landscape_energy(a)
    hbar = get_preset("argon").hbar
    recs, bands = screen_pairs(energy, np.stack([a.positions, b.positions]), [(0, 1)], hbar, a.box)
    assert recs[0]["outcome"] == DOUBLE_WELL
    steps = connect(energy, a.positions, b.positions, 12, SEARCH_NEB, box=a.box, minimize_ends=False)
    assert len(steps) == 1
    cat = Catalogue(None, model="ka2d", N=a.n, dim=2, box=a.box, species=a.species, masses=np.ones(a.n))
    row = cat.dwp_rows[cat.add_step(steps[0], "test")]
    assert recs[0]["barrier"] == pytest.approx(row["barrier"], rel=0.05)
    assert abs(recs[0]["Delta"] - row["Delta"]) < 0.05 * abs(row["Delta"]) + 1e-3
    assert recs[0]["splitting"] == pytest.approx(row["splitting"], rel=0.1)
    print(json.dumps({"screen": recs[0], "refined": {k: row[k] for k in ("barrier", "Delta", "splitting")}}))


CAMPAIGN = """
[campaign]
name = "hunt-test"
[model]
name = "ka2d"
N = 64
[glasses]
count = 4
seed = 3
[preparation]
T_liquid = 1.0
equilibration_steps = 300
T_glass = 0.3
cooling_rate = 0.2
[search.is_pairs]
enabled = false
[search.single_ended]
enabled = false
[search.intra_basin]
enabled = false
[search.tls_hunt]
enabled = true
T = 0.8
quenches = {quenches}
quench_every = 50
iterations = 2
per_iteration = 4
interior_minima = 4
max_refine = 2
[analysis]
bootstrap = 20
[runner]
workers = 1
processes = false
"""


@pytest.mark.slow
def test_tls_hunt_campaign_route(tmp_path, full):
    """The [search.tls_hunt] route end to end through the campaign runner (KA 2D N = 64): task
    results carry the per-glass hunt counts, finalize writes tls_hunt.json and the report section."""
    from pelsim.campaign.runner import run

    cfg = tmp_path / "hunt.toml"
    cfg.write_text(CAMPAIGN.format(quenches=60 if full else 30))
    out = tmp_path / "out"
    summary = run(cfg, out, progress=False)
    stats = json.loads((out / "analysis" / "tls_hunt.json").read_text())
    assert len(stats["glasses"]) == 4
    st = stats["statistics"]
    assert st["glasses"] == 4
    # each glass placed by its own IS energy (the prepare tasks'), split at the median
    e = [json.loads((out / "tasks" / f"g{g:04d}" / "prepare.done.json").read_text()) for g in range(4)]
    e = [d["summary"]["is_energy_per_particle"] for d in e]
    assert stats["e_IS"] == e
    dep = stats["depletion_by_stability"]
    stable = np.asarray(e) < np.median(e)
    tls = np.array([g["screened_tls"] for g in stats["glasses"]])
    assert (dep["tls"]["k"], dep["tls"]["k_ref"]) == (tls[stable].sum(), tls[~stable].sum())
    for k in ("pool", "screened", "control"):
        assert st[k] == sum(g[k] for g in stats["glasses"])
    assert sum(g["minima"] for g in stats["glasses"]) >= 3  # MD at T = 0.8 (a liquid) hops
    assert summary["final"]["tls_hunt"]["screened"] == st["screened"]
    # every task kept its pair table: the counts of the statistics recomputed from the tables
    from pelsim.landscape.hunt import CONTROL, DOUBLE_WELL, read_pair_tables

    for g, gs in enumerate(stats["glasses"]):
        tables, back = read_pair_tables(out / "tasks" / f"g{g:04d}" / "tls_hunt.pairs.h5")
        t = tables[g]
        assert back["glasses"][0]["screened"] == gs["screened"] == int((t["source"] > 0).sum())
        assert gs["control"] == int(((t["source"] == CONTROL) & ~t["expanded"]).sum())
        assert gs["screened_dw"] == int(((t["source"] > 0) & (t["outcome"] == DOUBLE_WELL)).sum())
        assert gs["pool"] == int((t["pool"] & ~t["expanded"]).sum())
    report = (out / "report" / "report.md").read_text()
    assert "TLS hunt (selection-aware)" in report
    assert "## TLS against each glass's stability" in report


@pytest.mark.slow
def test_hunt_glasses_end_to_end_on_a_real_glass(tmp_path):
    """hunt_glasses on a real KA 3D N = 270 glass minimum (all-pairs energy): pairs are screened,
    the table is consistent with the summary, refined DWPs are catalogued as tls_hunt, and the pair
    tables round-trip through HDF5."""
    from pelsim.landscape.hunt import hunt_glasses, read_pair_tables, write_pair_tables

    d = np.load(DATA / "ka3d_n270_minima.npz")
    conf = _conf(d)
    p = HuntParams(
        T=0.4,
        quenches=12,
        quench_every=100,
        iterations=2,
        per_iteration=4,
        interior_minima=2,
        max_refine=1,
        split_minima=3,
    )
    cat, hunts, summary = hunt_glasses([conf], params=p, seeds=[5])
    g = summary["glasses"][0]
    t = hunts[0].table
    # split minima: converged minima of the pool's frame (not flagged as band minima)
    m = hunts[0].minima
    n_md = max(m.sequence) + 1
    assert g["minima_from_splits"] == m.from_splits == m.base - n_md <= 3
    assert np.all(m.max_force[n_md : m.base] <= 1e-10)
    assert not t["expanded"][(t["i"] < m.base) & (t["j"] < m.base)].any()
    assert g["screened"] == int((t["source"] > 0).sum()) >= 1
    # the rounds keep to the budget; after them only the control's backlog (pairs with minima of
    # the last round's bands drawn into the control) is screened, and nothing drawn stays pending
    backlog = t["iteration"] == p.iterations
    assert int(((t["source"] > 0) & ~backlog).sum()) <= p.iterations * p.per_iteration
    assert np.all(t["expanded"][backlog] & t["in_control"][backlog] & (t["source"][backlog] == 2))
    assert g["control_pending"] == 0 and not (t["in_control"] & (t["source"] == 0)).any()
    # the control covers both strata at one rate: the pairs with band minima are drawn into it
    # (Bernoulli at control_rate), never ranked in its place
    h0 = hunts[0]
    assert h0.control_rate == pytest.approx(len(h0.control) / int((t["pool"] & ~t["expanded"]).sum()))
    assert np.all(t["in_control"] <= t["pool"])
    assert g["expanded_control"] == int((t["in_control"] & t["expanded"]).sum())
    assert g["control"] + g["expanded_control"] == int(t["in_control"].sum())
    assert np.all(t["outcome"][t["source"] > 0] > 0)  # every screened pair has an outcome
    assert all(m == "tls_hunt" for m in cat.dwps()["method"])
    write_pair_tables(tmp_path / "pairs.h5", hunts, summary)
    tables, back = read_pair_tables(tmp_path / "pairs.h5")
    np.testing.assert_array_equal(tables[0]["outcome"], t["outcome"])
    assert back["glasses"][0]["screened"] == g["screened"]


def test_hunt_cli_refuses_bad_settings_before_any_work(tmp_path, capsys):
    from pelsim.cli import main

    glass = tmp_path / "g.extxyz"  # never read: the settings are refused first
    assert main(["hunt", str(glass), "--out", str(tmp_path / "c.h5"), "--quenches", "0"]) == 2
    assert "tls_hunt.quenches" in capsys.readouterr().err
    assert main(["hunt", str(glass), "--out", str(tmp_path / "c.h5"), "--control-fraction", "2"]) == 2
    assert main(["hunt", str(glass), "--out", str(tmp_path)]) == 2  # a directory as the catalogue
    assert not (tmp_path / "c.h5").exists()


def test_every_screened_tls_is_refined_whatever_the_budget():
    """The statistics count a screened TLS only once its refinement confirms it, so every pair
    screened below E_thr is refined even beyond max_refine; the budget still bounds the rest."""
    from types import SimpleNamespace

    from pelsim.landscape.hunt import DOUBLE_WELL, refine_candidates

    E_thr = 0.01
    split = np.array([0.5, 0.2, 0.9, 2.0, 0.05, 0.7, 50.0, 0.3]) * E_thr
    outcome = np.full(split.size, DOUBLE_WELL)
    outcome[5] = DOUBLE_WELL + 1  # not a double well: never refined
    t = {"i": np.arange(split.size), "j": np.arange(split.size) + 100, "splitting": split, "outcome": outcome}
    h = SimpleNamespace(table=t)
    p = HuntParams(max_refine=2, refine_other_dws=False, twp_edges=0)
    tls = [4, 1, 7, 0, 2]  # the screened TLS, lowest splitting first (row 5 is no double well)
    assert [r for r, _ in refine_candidates(h, p, E_thr)] == tls
    # a larger budget adds the candidates below refine_factor E_thr, then the other DWs
    p = HuntParams(max_refine=6, refine_other_dws=False, twp_edges=0)
    assert [r for r, _ in refine_candidates(h, p, E_thr)] == tls + [3]
    p = HuntParams(max_refine=7, refine_other_dws=True, twp_edges=0)
    assert [r for r, _ in refine_candidates(h, p, E_thr)] == tls + [3, 6]


def test_depletion_by_stability_places_each_glass_by_its_IS_energy():
    from scipy.stats import mannwhitneyu, spearmanr

    from pelsim.errors import InputError
    from pelsim.landscape.hunt import depletion_by_stability

    e = np.array([0.205, 0.231, 0.198, 0.226, 0.212, 0.238, 0.201, 0.219])
    tls = np.array([0, 2, 0, 3, 0, 1, 0, 3])  # only the four glasses above the median hold TLS
    dw = np.array([5, 40, 2, 60, 9, 30, 4, 20])
    S = [
        {"screened_tls": int(a), "screened_dw": int(b), "minima": int(b) // 2 + 1}
        for a, b in zip(tls, dw, strict=True)
    ]
    d = depletion_by_stability(S, e)
    assert d["median_e_IS"] == pytest.approx(np.median(e))
    assert d["glasses_stable"] == d["glasses_unstable"] == 4
    t = d["tls"]
    assert (t["k"], t["k_ref"]) == (0, 9) and t["ratio"] == 0.0
    assert t["p_lower"] == pytest.approx(0.5**9)  # equal exposures: P(all 9 in the upper half)
    stable = e < np.median(e)
    mw = mannwhitneyu(tls[stable], tls[~stable], alternative="less")
    assert t["mannwhitney_p_lower"] == pytest.approx(mw.pvalue)
    assert t["spearman_rho"] == pytest.approx(spearmanr(e, tls).statistic)
    assert d["screened_dw"]["k"] == int(dw[stable].sum()) and d["screened_dw"]["spearman_p_positive"] < 0.05
    assert d["tls_per_dw"]["k"] == 0 and d["tls_per_dw"]["exposure"] == dw[stable].sum()
    # mirrored stabilities: no depletion, the one-sided p-values go to the other end
    m = depletion_by_stability(S, -e)
    assert m["tls"]["ratio"] == math.inf and m["tls"]["p_lower"] == 1.0
    assert m["tls"]["spearman_p_positive"] > 0.9
    with pytest.raises(InputError, match="IS energies"):
        depletion_by_stability(S, e[:-1])
    with pytest.raises(InputError, match=">= 4 glasses"):
        depletion_by_stability(S[:3], e[:3])


def test_settled_interior_minimum_rule():
    from pelsim.landscape.hunt import SCREEN_DEEP_INTERIOR, settled_interior_minimum

    ends = [0.0, 0.5, 0.2, 0.3, 0.01]
    assert not settled_interior_minimum(ends)  # a shallow interior minimum above both ends
    assert not settled_interior_minimum([0.0, 0.4, -0.5 * SCREEN_DEEP_INTERIOR, 0.3, 0.1])
    assert settled_interior_minimum([0.0, 0.4, -2 * SCREEN_DEEP_INTERIOR, 0.3, 0.1])
    assert settled_interior_minimum([0.2, -0.1, 0.3, 0.1])  # below both ends, next to one
    assert not settled_interior_minimum([0.0, 1.0])


def test_two_strata_control_estimates_the_pool_without_bias():
    """Monte Carlo of the selection: per glass a pool of MD-minima pairs and a pool of pairs with
    band minima, with different TLS rates; the control draws both at one rate q, the ranked screen
    finds a known share of the other TLS. Averaged over replicates, the estimate of the TLS in the
    pool matches the truth and the recall matches the share found; leaving the band stratum out
    (the former estimator) misses its TLS."""
    rng = np.random.default_rng(3)
    q, find = 0.1, 0.6
    P, Px = 400, 300
    rate, rate_x = 0.01, 0.04  # the band pairs are richer in TLS, as measured
    ests, recalls, base_only, truth = [], [], [], []
    for _ in range(400):
        S, true = [], 0
        for _g in range(4):
            tls = rng.random(P) < rate
            tls_x = rng.random(Px) < rate_x
            c = rng.random(P) < q
            cx = rng.random(Px) < q
            fr = (rng.random(P) < find) & tls & ~c
            fx = (rng.random(Px) < find) & tls_x & ~cx
            true += tls.sum() + tls_x.sum()
            S.append(
                dict(
                    pool=P, control=int(c.sum()), control_tls=int((c & tls).sum()),
                    ranked_tls=int(fr.sum()), expanded_pool=Px, expanded_control=int(cx.sum()),
                    expanded_control_tls=int((cx & tls_x).sum()), expanded_ranked_tls=int(fx.sum()),
                    screened_tls=int((c & tls).sum() + fr.sum() + (cx & tls_x).sum() + fx.sum()),
                )
            )  # fmt: skip
        st = hunt_statistics(S, n_particles=100, E_thr=0.01, bootstrap=0)
        ests.append(st["tls_estimated_in_pool"])
        recalls.append(st["recall"])
        truth.append(true)
        old = hunt_statistics([{k: v for k, v in s.items() if "expanded" not in k} for s in S], 100, 0.01, 0)
        base_only.append(old["tls_estimated_in_pool"])
    ests, truth = np.array(ests), np.array(truth)
    expect = 4 * (P * rate + Px * rate_x)  # 64 TLS per replicate
    assert np.mean(truth) == pytest.approx(expect, rel=0.02)
    assert np.mean(ests) == pytest.approx(expect, rel=0.05)
    assert np.nanmedian(recalls) == pytest.approx(find, rel=0.1)
    assert np.mean(base_only) == pytest.approx(4 * P * rate, rel=0.1)  # the band TLS left out


def test_two_stage_quenches_find_the_minima_of_direct_quenches():
    """collect_minima quenches each MD snapshot to max|F| 1e-5 and polishes only the distinct
    minima to 1e-10: on a real glass (KA 3D N = 270, T = 0.35) the minima, their energies, visits
    and transitions must be those of quenching every snapshot to 1e-10 directly."""
    from pelsim.landscape.hunt import collect_minima

    d = np.load(DATA / "ka3d_n270_minima.npz")
    conf = _conf(d)
    conf.info["energy"], conf.info["max_force"] = float(d["energies"][0]), 0.0
    direct = collect_minima(conf, 0.35, 12, 50, seed=5, loose_fmax=None)
    staged = collect_minima(conf, 0.35, 12, 50, seed=5)
    assert direct.count >= 4  # the run leaves the first basin several times
    assert staged.count == direct.count
    np.testing.assert_allclose(staged.energies, direct.energies, rtol=0, atol=1e-8)
    assert staged.sequence == direct.sequence
    np.testing.assert_array_equal(staged.visits, direct.visits)
    np.testing.assert_array_equal(staged.transitions, direct.transitions)
    assert np.all(staged.max_force <= 1e-10)
    for a, b in zip(staged.positions, direct.positions, strict=True):
        assert np.max(np.abs(minimum_image(a - b, conf.box))) < 1e-6
