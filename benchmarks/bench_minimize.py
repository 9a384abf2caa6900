"""Quench time to max|F| < 1e-10 (pelsim L-BFGS, float64) vs LAMMPS CG on the same configuration.

KA N=1000 (shifted cutoff, as in LAMMPS), parent: NVT T=0.5 from a relaxed random start.
JIT compile time reported separately (first call minus a repeat). Last line: one JSON object.
usage: python benchmarks/bench_minimize.py [--n 1000] [--repeats 3]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from pelsim.io import write_lammps_data
from pelsim.md import MDRunner
from pelsim.minimize import quench
from pelsim.models import load_model
from pelsim.prepare import random_configuration


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--md-steps", type=int, default=2000)
    ap.add_argument("--pairs", default="dense", help="dense (analytic forces) or padded (autodiff)")
    ap.add_argument("--skin", type=float, default=0.3)
    a = ap.parse_args()
    m = load_model("ka3d")
    conf = random_configuration(m, a.n, seed=0)
    conf.positions = quench(m, conf.box, conf.species, conf.positions, "shifted", 1e-2, "fire").R
    md = MDRunner(m, conf.box, conf.species, "nose_hoover", kT=0.5, kind="shifted", seed=0)
    md.init(conf.positions)
    md.run(a.md_steps)
    R = md.positions
    times, res = [], None
    for _ in range(a.repeats + 1):
        res = quench(m, conf.box, conf.species, R, "shifted", 1e-10, "auto", skin=a.skin, pairs=a.pairs)
        times.append(res.time_s)
    ours = float(np.median(times[1:]))
    conf.positions = R
    with tempfile.TemporaryDirectory() as d:
        write_lammps_data(Path(d) / "c.data", conf)
        env = dict(
            os.environ, LD_LIBRARY_PATH=str(Path(sys.executable).parents[1] / "lib"), OMP_NUM_THREADS="1"
        )
        lt = []
        for _ in range(a.repeats):
            out = subprocess.run(
                [
                    sys.executable,
                    str(Path(__file__).with_name("lammps_ka.py")),
                    str(Path(d) / "c.data"),
                    "0.5",
                    "0",
                    "0",
                    "1",
                    "minimize",
                ],
                capture_output=True,
                text=True,
                env=env,
            )
            lm = json.loads(out.stdout.strip().splitlines()[-1])
            lt.append(lm["time_s"])
    result = {
        "n": a.n,
        "pairs": a.pairs,
        "skin": a.skin,
        "pelsim_time_s_median": ours,
        "pelsim_rebuilds": res.info["rebuilds"],
        "pelsim_first_call_s": times[0],
        "jit_compile_s": times[0] - ours,
        "pelsim_steps": res.steps,
        "pelsim_evals": res.n_eval,
        "pelsim_max_force": res.max_force,
        "pelsim_energy_per_particle": res.energy / a.n,
        "lammps_cg_time_s_median": float(np.median(lt)),
        "lammps_steps": lm["steps"],
        "lammps_fnorm": lm["fnorm"],
        "lammps_energy_per_particle": lm["energy"] / a.n,
        "ratio_time_pelsim_over_lammps": ours / float(np.median(lt)),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
