"""MD throughput (particle-steps/s) of pelsim (jax-md, float64 and float32) vs LAMMPS in the same run.

KA N (default 1000), T=0.5, dt=0.005, NVT, shifted cutoff. JIT compile time reported separately.
``--n 100000`` checks that a large system runs on CPU within memory (peak RSS reported).
Last line: one JSON object.
"""

import argparse
import json
import os
import resource
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--skin", type=float, default=0.5)
    ap.add_argument("--chunk", type=int, default=100)
    ap.add_argument("--no-lammps", action="store_true")
    ap.add_argument("--dtypes", default="f64,f32", help="comma list of f64, f32")
    a = ap.parse_args()
    m = load_model("ka3d")
    conf = random_configuration(m, a.n, seed=0)
    if a.n <= 20000:
        conf.positions = quench(m, conf.box, conf.species, conf.positions, "shifted", 1e-2, "fire").R
    res = {"n": a.n, "steps": a.steps, "skin": a.skin}
    for name in a.dtypes.split(","):
        dtype = {"f64": np.float64, "f32": np.float32}[name]
        md = MDRunner(
            m,
            conf.box,
            conf.species,
            "nose_hoover",
            kT=0.5,
            kind="shifted",
            skin=a.skin,
            chunk=a.chunk,
            dtype=dtype,
        )
        md.init(conf.positions)
        t0 = time.perf_counter()
        md.run(a.chunk)
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        md.run(a.chunk)
        per_chunk = time.perf_counter() - t0
        t0 = time.perf_counter()
        md.run(a.steps)
        dt = time.perf_counter() - t0
        res[f"pelsim_{name}_Mps"] = a.n * a.steps / dt / 1e6
        res[f"jit_compile_{name}_s"] = first - per_chunk
        res[f"overflow_reallocations_{name}"] = md.rebuilds_after_overflow
    res["peak_rss_MB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if not a.no_lammps:
        with tempfile.TemporaryDirectory() as d:
            write_lammps_data(Path(d) / "c.data", conf)
            env = dict(
                os.environ, LD_LIBRARY_PATH=str(Path(sys.executable).parents[1] / "lib"), OMP_NUM_THREADS="1"
            )
            out = subprocess.run(
                [
                    sys.executable,
                    str(Path(__file__).with_name("lammps_ka.py")),
                    str(Path(d) / "c.data"),
                    "0.5",
                    "200",
                    str(a.steps),
                    str(a.steps),
                    "md",
                ],
                capture_output=True,
                text=True,
                env=env,
            )
            lm = json.loads(out.stdout.strip().splitlines()[-1])
        res["lammps_1core_Mps"] = a.n * a.steps / lm["time_s"] / 1e6
        for name in a.dtypes.split(","):
            res[f"ratio_{name}_vs_lammps"] = res[f"pelsim_{name}_Mps"] / res["lammps_1core_Mps"]
    print(json.dumps(res))


if __name__ == "__main__":
    main()
