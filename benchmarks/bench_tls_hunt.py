"""TLS hunting: the screened route (ranked + control) against the exhaustive route, in one run.

On fixed KA 3D glasses (benchmarks/data/ka3d_n1000_{poor,well}.extxyz: N = 1000, cooled from
T = 1.0 to 0.3 at 0.1 and at 0.001 per tau, then quenched; written by ``--prepare``), for each glass:

1. minima from low-T MD with frequent quenches (pelsim.landscape.hunt.collect_minima);
2. the features of every pair and the prefilter (pelsim.landscape.pairs) give the pool;
3. **exhaustive route**: the screening NEB + 1D Schroedinger splitting on *every* pool pair, one
   pair at a time, each timed;
4. **screened route**: the hunt's active-learning rounds (PairRanker + the uniform control sample)
   choose ``iterations x per_iteration`` pairs of the same pool. The screening of a pair is
   deterministic, so the screened route *replays* the exhaustive results of the pairs it chooses:
   its cost is the sum of their measured screening times plus its own feature/ranking time.

Figures (last line, one JSON object):
- ``screened_pairs_per_machine_hour``: pairs given a splitting per hour of screening (exhaustive
  route: all its NEBs and 1D solves over its wall time) - the issue's goal is >= 500 at N = 1000 on
  2 cores;
- ``tls_rate_ratio``: TLS found per machine-hour, screened route over exhaustive route (goal >= 10);
- ``screen_recall``: TLS found by the screened route / TLS in the pool (found by the exhaustive
  route), and the control sample's estimate of it (goal >= 0.95);
- the counts behind them, per glass. Time of the minima collection is reported separately
  (both routes need it).

    python benchmarks/bench_tls_hunt.py [--quenches 150] [--T 0.4] [--glasses poor,well] [--prepare]
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


def run_glass(path: Path, a, glass: int) -> dict:
    from pelsim.io import read_extxyz
    from pelsim.landscape.hunt import (
        CONTROL,
        DOUBLE_WELL,
        LEFT_REGION,
        RANKED,
        PairRanker,
        pair_energy,
        plan_hunt,
        screen_pairs,
    )
    from pelsim.landscape.routes import HuntParams
    from pelsim.units import get_preset

    pre = get_preset("argon")
    E_thr, hbar = pre.energy_reduced(1.0), pre.hbar
    p = HuntParams(
        T=a.T,
        quenches=a.quenches,
        quench_every=a.quench_every,
        iterations=a.iterations,
        per_iteration=a.per_iteration,
    )
    conf = read_extxyz(path, "ka3d")
    t0 = time.perf_counter()
    h = plan_hunt(conf, glass, p, hbar, E_thr, seed=glass)
    t_minima = time.perf_counter() - t0
    t = h.table
    rng = np.random.default_rng(glass)
    pool = np.flatnonzero(t["pool"])
    pool = np.sort(rng.permutation(pool)[: a.max_pool])  # a uniform subset when the pool is capped
    # exhaustive route: every pool pair, timed one by one (the first includes the compilation)
    recs, secs = {}, {}
    for r in pool:
        t1 = time.perf_counter()
        pe = pair_energy(h, int(t["i"][r]), int(t["j"][r]))
        if pe is None:  # too far apart for a pair list: no single double well
            rec = [{"outcome": LEFT_REGION, "splitting": float("nan")}]
        else:
            rec, _ = screen_pairs(
                pe[0],
                h.minima.positions,
                [(t["i"][r], t["j"][r])],
                hbar,
                conf.box,
                is_valid=pe[1],
                n_images=p.images,
                k_max=h.lambda_max,
            )
        secs[int(r)] = time.perf_counter() - t1
        recs[int(r)] = rec[0]
    compile_s = secs[int(pool[0])] - float(np.median(list(secs.values()))) if len(pool) else 0.0
    if len(pool):
        secs[int(pool[0])] = float(np.median(list(secs.values())))  # count the compilation separately
    is_tls = {r: rec["outcome"] == DOUBLE_WELL and rec["splitting"] < E_thr for r, rec in recs.items()}
    is_dw = {r: rec["outcome"] == DOUBLE_WELL for r, rec in recs.items()}
    # screened route: the hunt's rounds, replaying the exhaustive results
    from pelsim.landscape.pairs import FEATURES, feature_matrix

    t2 = time.perf_counter()
    feats = {k: t[k] for k in FEATURES}
    X = feature_matrix(feats)
    in_pool = set(map(int, pool))
    n_ctrl = int(round(p.control_fraction * p.iterations * p.per_iteration))
    control = [int(r) for r in rng.permutation(sorted(in_pool))[:n_ctrl]]  # uniform over the pool
    ranker = PairRanker(E_thr, seed=glass)
    chosen: dict = {}
    per_round_ctrl = np.array_split(np.asarray(control, int), p.iterations)
    for it in range(p.iterations):
        if it > 0:
            rows = np.array(sorted(chosen))
            lr = np.array([np.log10(max(recs[r]["splitting"], 1e-300) / E_thr) for r in rows])
            ranker.fit(X[rows], np.array([is_dw[r] for r in rows]), lr)
        for r in per_round_ctrl[it]:
            chosen[int(r)] = CONTROL
        n_rank = p.per_iteration - len(per_round_ctrl[it])
        free = np.array([r for r in pool if int(r) not in chosen and int(r) not in control], int)
        if len(free):
            sc = ranker.score(X[free], {k: v[free] for k, v in feats.items()})
            for r in free[np.argsort(-sc, kind="stable")[:n_rank]]:
                chosen[int(r)] = RANKED
    t_rank = time.perf_counter() - t2
    exh_time = sum(secs.values())
    scr_time = sum(secs[r] for r in chosen) + t_rank
    tls_all = sum(is_tls.values())
    tls_scr = sum(is_tls[r] for r in chosen)
    ctrl = [r for r, s in chosen.items() if s == CONTROL]
    rank = [r for r, s in chosen.items() if s == RANKED]
    return {
        "glass": path.name,
        "minima": int(h.minima.count),
        "pairs": int(len(t["i"])),
        "pool": int(len(pool)),
        "pool_uncapped": int(t["pool"].sum()),
        "bounds": h.bounds,
        "minima_seconds": t_minima,
        "compile_seconds": compile_s,
        "exhaustive": {
            "pairs": len(pool),
            "seconds": exh_time,
            "dw": int(sum(is_dw.values())),
            "tls": tls_all,
        },
        "screened": {
            "pairs": len(chosen),
            "seconds": scr_time,
            "ranking_seconds": t_rank,
            "dw": int(sum(is_dw[r] for r in chosen)),
            "tls": int(tls_scr),
            "control": len(ctrl),
            "control_tls": int(sum(is_tls[r] for r in ctrl)),
            "ranked": len(rank),
            "ranked_tls": int(sum(is_tls[r] for r in rank)),
        },
        "outcomes": {str(k): int(sum(rec["outcome"] == k for rec in recs.values())) for k in range(6)},
        "splittings_K": sorted(
            float(rec["splitting"] * pre.epsilon_K) for rec in recs.values() if rec["outcome"] == DOUBLE_WELL
        )[:10],
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--glasses", default="poor,well")
    ap.add_argument("--T", type=float, default=0.4)
    ap.add_argument("--quenches", type=int, default=100)
    ap.add_argument("--quench-every", dest="quench_every", type=int, default=100)
    ap.add_argument("--iterations", type=int, default=4)
    ap.add_argument("--per-iteration", dest="per_iteration", type=int, default=12)
    ap.add_argument("--max-pool", dest="max_pool", type=int, default=400, help="cap on exhaustive NEBs")
    ap.add_argument("--prepare", action="store_true", help="(re)write the benchmark glasses first")
    a = ap.parse_args()
    names = [g for g in a.glasses.split(",") if g]
    for n in names:
        if n not in PREP:
            raise SystemExit(f"unknown glass {n!r} (expected poor, well)")
        if a.prepare or not (DATA / f"ka3d_n1000_{n}.extxyz").exists():
            print(f"preparing {n} (cooling rate {PREP[n]})", file=sys.stderr)
            prepare(n, PREP[n])
    res = []
    for k, n in enumerate(names):
        r = run_glass(DATA / f"ka3d_n1000_{n}.extxyz", a, k)
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
        "N": 1000,
        "settings": vars(a),
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
        "minima_seconds": sum(r["minima_seconds"] for r in res),
        "goals": {"screened_pairs_per_machine_hour": 500, "tls_rate_ratio": 10, "screen_recall": 0.95},
        "glasses": [{k: r[k] for k in ("glass", "minima", "pool", "exhaustive", "screened")} for r in res],
    }
    print(json.dumps(out, default=float))


if __name__ == "__main__":
    main()
