"""TLS hunting: the screened route (ranked + control) against the exhaustive route, in one run.

On fixed KA 3D glasses (benchmarks/data/ka3d_n1000_{poor,well}.extxyz: N = 1000, cooled from
T = 1.0 to 0.3 at 0.1 and at 0.001 per tau, then quenched; written by ``--prepare``), for each glass:

1. minima from low-T MD with frequent quenches (pelsim.landscape.hunt.collect_minima), at the hunt's
   default T = 0.25: at T = 0.4 the poorly annealed glass ages during the run (consecutive quenches
   differ by 100-300 particles and |dE| of 1-14 eps, 2026-12-04, docs/landscape.md), so its pairs
   of minima hold almost no double wells;
2. the features of every pair and the prefilter (pelsim.landscape.pairs) give the pool;
3. **exhaustive route**: the screening NEB + 1D Schroedinger splitting on *every* pool pair (a
   uniform subset of ``--max-pool`` when the pool is larger), one pair at a time, each timed;
4. **screened route**: the hunt's active-learning rounds (PairRanker + the uniform control sample)
   choose ``iterations x per_iteration`` pairs of the same pool. The screening of a pair is
   deterministic, so the screened route *replays* the exhaustive results of the pairs it chooses:
   its cost is the sum of their measured screening times plus its own feature/ranking time.
   ``--dump FILE`` keeps the exhaustive results; ``--replay FILE`` runs step 4 alone on them (to
   compare rankers without recomputing the NEBs).

Figures (last line, one JSON object):
- ``screened_pairs_per_machine_hour``: pairs given a splitting per hour of screening (exhaustive
  route: all its NEBs and 1D solves over its wall time) - the issue's goal is >= 500 at N = 1000 on
  2 cores;
- ``tls_rate_ratio``: TLS found per machine-hour, screened route over exhaustive route (goal >= 10);
- ``screen_recall``: TLS found by the screened route / TLS in the pool (found by the exhaustive
  route), and the control sample's estimate of it (goal >= 0.95);
- the counts behind them, per glass. Time of the minima collection is reported separately
  (both routes need it).

    python benchmarks/bench_tls_hunt.py [--quenches 100] [--T 0.25] [--glasses poor,well] [--prepare]
        [--max-pool 300] [--split 40] [--per-iteration 8] [--dump FILE | --replay FILE]

Measured figures (2026-12-04) and what they mean: docs/landscape.md "TLS hunting".
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).parent / "data"
PREP = {"poor": 0.1, "well": 0.001}


def prepare(name: str, rate: float) -> Path:
    from pelsim.io import write_extxyz
    from pelsim.prepare import cool, equilibrate, quench, random_configuration

    c = random_configuration("ka3d", 1000, seed=11)
    c, _, _ = equilibrate(c, 1.0, 2000, seed=11, progress=False)
    c, _ = cool(c, 1.0, 0.3, rate, seed=11, progress=False)
    IS, res = quench(c)
    path = DATA / f"ka3d_n1000_{name}.extxyz"
    write_extxyz(path, IS, energy=res.energy)
    return path


def exhaustive_glass(path: Path, a, glass: int) -> dict:
    """Steps 1-3 for one glass: minima, pool, and the screening NEB on every pair of the (capped)
    pool, each timed. Returns a record that :func:`screened_glass` replays (and ``--dump`` keeps)."""
    from pelsim.io import read_extxyz
    from pelsim.landscape.hunt import LEFT_REGION, pair_energy, plan_hunt, screen_pairs
    from pelsim.landscape.routes import HuntParams
    from pelsim.units import get_preset

    pre = get_preset("argon")
    E_thr, hbar = pre.energy_reduced(1.0), pre.hbar
    p = HuntParams(T=a.T, quenches=a.quenches, quench_every=a.quench_every, split_minima=a.split)
    conf = read_extxyz(path, "ka3d")
    t0 = time.perf_counter()
    h = plan_hunt(conf, glass, p, hbar, E_thr, seed=glass)
    t_minima = time.perf_counter() - t0
    t = h.table
    rng = np.random.default_rng(glass)
    pool = np.flatnonzero(t["pool"])
    pool = np.sort(rng.permutation(pool)[: a.max_pool])  # a uniform subset when the pool is capped
    print(
        f"{path.name}: {h.minima.count} minima, pool {int(t['pool'].sum())}, screening {len(pool)}",
        file=sys.stderr,
    )
    # exhaustive route: every pool pair, timed one by one (the first includes the compilation)
    out = {k: np.full(len(pool), np.nan) for k in ("splitting", "barrier", "Delta", "Delta0", "seconds")}
    out["outcome"] = np.zeros(len(pool), np.int8)
    for n, r in enumerate(pool):
        t1 = time.perf_counter()
        pe = pair_energy(h, int(t["i"][r]), int(t["j"][r]))
        if pe is None:  # too far apart for a pair list: no single double well
            rec = {"outcome": LEFT_REGION}
        else:
            rec = screen_pairs(
                pe[0],
                h.minima.positions,
                [(t["i"][r], t["j"][r])],
                hbar,
                conf.box,
                is_valid=pe[1],
                n_images=p.images,
                k_max=h.lambda_max,
            )[0][0]
        out["seconds"][n] = time.perf_counter() - t1
        for k in ("outcome", "splitting", "barrier", "Delta", "Delta0"):
            out[k][n] = rec.get(k, np.nan)
        if (n + 1) % 25 == 0:
            print(f"  {n + 1}/{len(pool)} pairs, {np.nansum(out['seconds']):.0f} s", file=sys.stderr)
    compile_s = 0.0
    if len(pool) > 1:  # count the compilation separately
        med = float(np.median(out["seconds"][1:]))
        compile_s = float(out["seconds"][0]) - med
        out["seconds"][0] = med
    m = h.minima
    return dict(
        glass=path.name,
        index=glass,
        E_thr=E_thr,
        epsilon_K=pre.epsilon_K,
        minima_seconds=t_minima,
        compile_seconds=compile_s,
        box=np.asarray(conf.box),
        positions=m.positions,
        energies=m.energies,
        transitions=m.transitions,
        visits=m.visits,
        n_md=int(max(m.sequence) + 1),
        split_seconds=float(m.seconds.get("split", 0.0)),
        bounds=h.bounds,
        pool_uncapped=int(t["pool"].sum()),
        pairs_total=int(len(t["i"])),
        rows=pool,
        i=t["i"][pool],
        j=t["j"][pool],
        **out,
    )


def screened_glass(g: dict, a) -> dict:
    """Step 4: the hunt's active-learning rounds (ranked + uniform control) over the pool of ``g``,
    replaying the exhaustive results of the pairs they choose (the screening of a pair is
    deterministic), and the per-glass counts."""
    from pelsim.landscape.hunt import CONTROL, DOUBLE_WELL, RANKED, PairRanker
    from pelsim.landscape.pairs import feature_matrix, pair_features

    E_thr = float(g["E_thr"])
    pairs = np.stack([g["i"], g["j"]], axis=1)
    t2 = time.perf_counter()
    feats = pair_features(
        g["positions"], g["energies"], g["box"], None, g["transitions"], g["visits"], pairs=pairs
    )
    X = feature_matrix(feats)
    P = len(pairs)
    outcome = np.asarray(g["outcome"], int)
    is_dw = outcome == DOUBLE_WELL
    is_tls = is_dw & (np.asarray(g["splitting"]) < E_thr)
    near = is_dw & (np.asarray(g["splitting"]) < 10 * E_thr)  # within a decade of the threshold
    secs = np.asarray(g["seconds"], float)
    rng = np.random.default_rng(int(g["index"]) + 101)
    n_ctrl = int(round(a.control_fraction * a.iterations * a.per_iteration))
    control = rng.permutation(P)[:n_ctrl]  # uniform over the pool
    ranker = PairRanker(E_thr, seed=int(g["index"]))
    chosen: dict = {}
    per_round_ctrl = np.array_split(control, a.iterations)
    for it in range(a.iterations):
        if it > 0:
            rows = np.array(sorted(chosen))
            lr = np.log10(np.maximum(np.asarray(g["splitting"])[rows], 1e-300) / E_thr)
            ranker.fit(X[rows], is_dw[rows], lr)
        for r in per_round_ctrl[it]:
            chosen[int(r)] = CONTROL
        n_rank = a.per_iteration - len(per_round_ctrl[it])
        free = np.array([r for r in range(P) if r not in chosen and r not in set(control.tolist())], int)
        if len(free):
            sc = ranker.score(X[free], {k: v[free] for k, v in feats.items()})
            for r in free[np.argsort(-sc, kind="stable")[:n_rank]]:
                chosen[int(r)] = RANKED
    t_rank = time.perf_counter() - t2
    import networkx as nx

    G = nx.Graph()  # double wells of the exhaustive route: their triangles are TWP candidates
    G.add_edges_from(zip(np.asarray(g["i"])[is_dw].tolist(), np.asarray(g["j"])[is_dw].tolist(), strict=True))
    triangles = sum(nx.triangles(G).values()) // 3
    n_md = int(g.get("n_md", len(g["energies"])))
    split = (np.asarray(g["i"]) >= n_md) | (np.asarray(g["j"]) >= n_md)  # a pair with a split minimum
    by_origin = {
        name: {"pairs": int(sel.sum()), "dw": int((is_dw & sel).sum()), "tls": int((is_tls & sel).sum())}
        for name, sel in (("md_pairs", ~split), ("split_pairs", split))
    }
    rows = np.array(sorted(chosen), int)
    ctrl = np.array([r for r, s in chosen.items() if s == CONTROL], int)
    rank = np.array([r for r, s in chosen.items() if s == RANKED], int)
    return {
        "glass": str(g["glass"]),
        "minima": int(len(g["energies"])),
        "pairs": int(g["pairs_total"]),
        "pool": P,
        "pool_uncapped": int(g["pool_uncapped"]),
        "bounds": {k: float(v) for k, v in dict(g["bounds"]).items()},
        "minima_seconds": float(g["minima_seconds"]),
        "split_seconds": float(g.get("split_seconds", 0.0)),
        "minima_from_splits": int(len(g["energies"]) - n_md),
        "by_origin": by_origin,
        "compile_seconds": float(g["compile_seconds"]),
        "seconds_per_pair_median": float(np.median(secs)) if P else None,
        "seconds_per_neb_median": float(np.median(secs[outcome != 4])) if np.any(outcome != 4) else None,
        "exhaustive": {
            "pairs": P,
            "seconds": float(secs.sum()),
            "dw": int(is_dw.sum()),
            "near_tls": int(near.sum()),
            "tls": int(is_tls.sum()),
            "dw_triangles": int(triangles),
            "dw_single_cluster": int((is_dw & (feats["n_clusters"] <= 1)).sum()),
            "single_cluster": int((feats["n_clusters"] <= 1).sum()),
        },
        "screened": {
            "pairs": len(rows),
            "seconds": float(secs[rows].sum() + t_rank),
            "ranking_seconds": t_rank,
            "dw": int(is_dw[rows].sum()),
            "near_tls": int(near[rows].sum()),
            "tls": int(is_tls[rows].sum()),
            "control": len(ctrl),
            "control_tls": int(is_tls[ctrl].sum()),
            "ranked": len(rank),
            "ranked_tls": int(is_tls[rank].sum()),
        },
        "outcomes": {str(k): int((outcome == k).sum()) for k in range(6)},
        "splittings_K": sorted(float(x * g["epsilon_K"]) for x in np.asarray(g["splitting"])[is_dw])[:10],
    }


def save_dump(path: Path, glasses: list[dict]) -> None:
    import pickle

    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "wb") as f:
        pickle.dump(glasses, f)
    tmp.replace(path)


def load_dump(path: Path) -> list[dict]:
    import pickle

    with open(path, "rb") as f:
        return pickle.load(f)


def _ratio(res, key):
    ex = sum(r["exhaustive"][key] for r in res) / sum(r["exhaustive"]["seconds"] for r in res)
    sc = sum(r["screened"][key] for r in res) / sum(r["screened"]["seconds"] for r in res)
    return sc / ex if ex > 0 else None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--glasses", default="poor,well")
    ap.add_argument(
        "--glass-files",
        dest="glass_files",
        default="",
        help="comma-separated KA 3D extxyz glasses (inherent structures, any N) instead of --glasses "
        "(e.g. a campaign's prepared glasses: the quickstart's N = 270)",
    )
    ap.add_argument("--T", type=float, default=0.25)
    ap.add_argument("--quenches", type=int, default=100)
    ap.add_argument("--quench-every", dest="quench_every", type=int, default=100)
    ap.add_argument("--iterations", type=int, default=4)
    ap.add_argument("--per-iteration", dest="per_iteration", type=int, default=8)
    ap.add_argument("--max-pool", dest="max_pool", type=int, default=300, help="cap on exhaustive NEBs")
    ap.add_argument("--split", type=int, default=40, help="HuntParams.split_minima (new minima per glass)")
    ap.add_argument("--control-fraction", dest="control_fraction", type=float, default=0.25)
    ap.add_argument("--prepare", action="store_true", help="(re)write the benchmark glasses first")
    ap.add_argument("--dump", type=Path, help="keep the exhaustive route's per-pair results here (pickle)")
    ap.add_argument("--replay", type=Path, help="screened route only, on a --dump of an earlier run")
    a = ap.parse_args()
    names = [g for g in a.glasses.split(",") if g] if not a.glass_files else []
    files = [Path(f) for f in a.glass_files.split(",") if f]
    for f in files:
        if not f.is_file():
            raise SystemExit(f"no glass file {f}")
    for n in names if not a.replay else []:
        if n not in PREP:
            raise SystemExit(f"unknown glass {n!r} (expected poor, well)")
        if a.prepare or not (DATA / f"ka3d_n1000_{n}.extxyz").exists():
            print(f"preparing {n} (cooling rate {PREP[n]})", file=sys.stderr)
            prepare(n, PREP[n])
    if a.replay:
        dumped = load_dump(a.replay)
    else:
        dumped = []
        for k, path in enumerate(files or [DATA / f"ka3d_n1000_{n}.extxyz" for n in names]):
            dumped.append(exhaustive_glass(path, a, k))
            if a.dump:
                save_dump(a.dump, dumped)
    res = []
    for g in dumped:
        r = screened_glass(g, a)
        print(json.dumps(r), file=sys.stderr)
        res.append(r)
    ex_pairs = sum(r["exhaustive"]["pairs"] for r in res)
    ex_s = sum(r["exhaustive"]["seconds"] for r in res)
    ex_tls = sum(r["exhaustive"]["tls"] for r in res)
    sc_s = sum(r["screened"]["seconds"] for r in res)
    sc_tls = sum(r["screened"]["tls"] for r in res)
    c_n = sum(r["screened"]["control"] for r in res)
    c_t = sum(r["screened"]["control_tls"] for r in res)
    pool = sum(r["pool"] for r in res)
    rate_ex = ex_tls / (ex_s / 3600) if ex_s else 0.0
    rate_sc = sc_tls / (sc_s / 3600) if sc_s else 0.0
    out = {
        "N": int(len(dumped[0]["positions"][0])) if dumped else None,
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(a).items()},
        "screened_pairs_per_machine_hour": ex_pairs / (ex_s / 3600) if ex_s else 0.0,
        "tls_per_hour_exhaustive": rate_ex,
        "tls_per_hour_screened": rate_sc,
        "tls_rate_ratio": rate_sc / rate_ex if rate_ex > 0 else None,
        "screen_recall": sc_tls / ex_tls if ex_tls else None,
        "screen_recall_control_estimate": (
            (sc_tls - c_t) / ((pool - c_n) * c_t / c_n) if c_n and c_t else None
        ),
        "tls_exhaustive": ex_tls,
        "tls_screened": sc_tls,
        "pool": pool,
        "dw_exhaustive": sum(r["exhaustive"]["dw"] for r in res),
        "dw_screened": sum(r["screened"]["dw"] for r in res),
        # double wells (and those within 10x of the TLS threshold) per machine-hour, screened over
        # exhaustive: what the screen does while the pools hold too few TLS for tls_rate_ratio
        "dw_rate_ratio": _ratio(res, "dw"),
        "near_tls_rate_ratio": _ratio(res, "near_tls"),
        "near_tls_exhaustive": sum(r["exhaustive"]["near_tls"] for r in res),
        "near_tls_screened": sum(r["screened"]["near_tls"] for r in res),
        "minima_seconds": sum(r["minima_seconds"] for r in res),
        "goals": {"screened_pairs_per_machine_hour": 500, "tls_rate_ratio": 10, "screen_recall": 0.95},
        "glasses": [{k: r[k] for k in ("glass", "minima", "pool", "exhaustive", "screened")} for r in res],
    }
    print(json.dumps(out, default=float))


if __name__ == "__main__":
    main()
