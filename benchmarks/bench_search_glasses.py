"""Compilations and wall time of `pelsim search` on 1 glass and on several glasses in one call.

Runs the CLI in a subprocess with JAX_LOG_COMPILES=1 and a fresh persistent compilation cache
(PELSIM_JAX_CACHE in a temporary folder), counts the XLA compilations it logs, and compares
``pelsim search G1`` with ``pelsim search G1 ... Gk`` (issue: k glasses must compile at most 1.2x
what one compiles: the largest count of the distinct glasses searched alone, since a glass that
finds no IS pair never compiles the connection programs) and with k separate one-glass runs; it
lists the programs the batch compiled beyond the union of the single runs. The glasses are the
benchmark ISs of KA 3D N=1000 (benchmarks/data). The last line is one JSON object.

    python benchmarks/bench_search_glasses.py [--glasses 3] [--samples 4] [--modes 1]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

DATA = Path(__file__).parent / "data"


def run(glasses, a, tmp, seed=0):
    env = dict(os.environ, JAX_LOG_COMPILES="1", PELSIM_JAX_CACHE=tempfile.mkdtemp(dir=tmp))
    out = Path(tempfile.mkdtemp(dir=tmp)) / "cat.h5"
    cmd = [sys.executable, "-m", "pelsim", "search", *map(str, glasses), "--out", str(out), "--json"]
    cmd += ["--samples", str(a.samples), "--modes", str(a.modes), "--interval", str(a.interval)]
    # glass k of a batch runs with seed --seed + k: a single run with the same seed does the same work
    cmd += ["--seed", str(seed), "--glass-index", str(seed)]
    t = time.perf_counter()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        raise SystemExit(f"pelsim search failed ({p.returncode}): {p.stderr[-2000:]}")
    names = [
        m.group(1)
        for line in p.stderr.splitlines()
        if (m := re.search(r"Finished XLA compilation of (\S+)", line))
    ]
    compiles = len(names)
    summary = json.loads(p.stdout.strip().splitlines()[-1])
    stats = summary.get("glasses", [summary])
    per_glass = [int(st.get("is_pairs", 0)) + int(st.get("is_pairs_closing", 0)) for st in stats]
    pairs = sum(per_glass)
    return {
        "is_pairs": pairs,
        "is_pairs_per_glass": per_glass,
        "is_pairs_per_hour": pairs * 3600 / wall,
        "compilations": compiles,
        "wall_s": wall,
        "dwps": summary.get("dwps"),
        "minima": summary.get("minima"),
        "programs": Counter(names),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--glasses", type=int, default=3)
    ap.add_argument("--samples", type=int, default=4)
    ap.add_argument("--modes", type=int, default=1)
    ap.add_argument("--interval", type=int, default=100)
    ap.add_argument(
        "--singles",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="search each distinct glass alone too (default) and compare with the largest of those",
    )
    a = ap.parse_args()
    files = sorted(DATA.glob("ka3d_n1000_is*.extxyz"))
    files = [files[k % len(files)] for k in range(a.glasses)]  # more glasses than files: repeat them
    with tempfile.TemporaryDirectory() as tmp:
        # each glass alone: a glass that finds no IS pair never compiles the connection and
        # re-centring programs, so "what searching one of them compiles" is the largest single run
        singles = []
        for k, f in enumerate(files[: (len(set(files)) if a.singles else 1)]):
            singles.append(run([f], a, tmp, seed=k))  # the seed glass k gets in the batch
            print(f"1 glass ({f.name}):", _brief(singles[-1]), file=sys.stderr)
        many = run(files, a, tmp)
        print(f"{len(files)} glasses in one call:", _brief(many), file=sys.stderr)
    one = max(singles, key=lambda r: r["compilations"])
    union = Counter()
    for r in singles:
        union |= r["programs"]
    mean_single_wall = sum(r["wall_s"] for r in singles) / len(singles)
    extra = many["programs"] - union  # programs the batch compiled beyond any single run's
    res = {
        "glasses": len(files),
        "settings": {"samples": a.samples, "modes": a.modes, "interval": a.interval, "N": 1000},
        "single_runs": [_brief(r) for r in singles],
        "one_glass": _brief(one),
        "many_glasses": _brief(many),
        "compile_ratio": many["compilations"] / max(one["compilations"], 1),
        "compile_ratio_vs_first": many["compilations"] / max(singles[0]["compilations"], 1),
        "programs_beyond_single_runs": dict(extra.most_common(15)),
        "wall_ratio_vs_k_single": many["wall_s"] / (len(files) * mean_single_wall),
        # same seeds: the batch's glass k does the work of single run k (equal IS pairs expected)
        "same_work_as_singles": [r["is_pairs"] for r in singles]
        == many["is_pairs_per_glass"][: len(singles)],
        "goal_compile_ratio_max": 1.2,
    }
    print(json.dumps(res))


def _brief(r):
    return {k: v for k, v in r.items() if k != "programs"}


if __name__ == "__main__":
    main()
