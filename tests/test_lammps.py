"""Thermodynamics agree with LAMMPS (shifted cutoff = lj/cut 2.5 + pair_modify shift yes).

N=1000, rho=1.2, Nose-Hoover NVT. Mean potential energy and pressure agree within block-averaged
statistical errors. Reduced (CI): T=0.8, short runs; ``--full``: T=0.8 and 0.5, long runs.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pelsim.io import write_lammps_data
from pelsim.md import MDRunner, Thermo
from pelsim.prepare import quench, random_configuration

ROOT = Path(__file__).resolve().parents[1]


def block_mean(x, nblocks=5):
    x = np.asarray(x)
    b = x[: len(x) // nblocks * nblocks].reshape(nblocks, -1).mean(axis=1)
    return b.mean(), b.std(ddof=1) / np.sqrt(nblocks)


def run_lammps(data, T, neq, nprod, every, mode="md"):
    env = dict(os.environ, LD_LIBRARY_PATH=str(Path(sys.executable).parents[1] / "lib"), OMP_NUM_THREADS="1")
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "lammps_ka.py"),
            str(data),
            str(T),
            str(neq),
            str(nprod),
            str(every),
            mode,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    if out.returncode != 0:
        pytest.skip(f"LAMMPS not usable: {out.stderr.strip().splitlines()[-1:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_thermodynamics_vs_lammps(full, tmp_path):
    temps = (0.8, 0.5) if full else (0.8,)
    neq, nprod = (20000, 100000) if full else (500, 2000)
    every = 50
    conf = random_configuration("ka3d", 1000, seed=11)
    conf, _ = quench(conf, "shifted", fmax=1e-3, method="fire")
    for T in temps:
        data = tmp_path / f"ka_{T}.data"
        write_lammps_data(data, conf)
        lm = run_lammps(data, T, neq, nprod, every)
        md = MDRunner(
            "ka3d",
            conf.box,
            conf.species,
            "nose_hoover",
            dt=0.005,
            kT=T,
            kind="shifted",
            chunk=every,
            tau_T=0.5,
            seed=1,
        )
        md.init(conf.positions)
        md.run(neq)
        th = Thermo()
        md.run(nprod, thermo=th)
        a = th.arrays()
        assert abs(a["temperature"].mean() - T) < 0.03 * T
        for ours, theirs, name in [
            (a["potential"] / 1000, np.asarray(lm["pe"]) / 1000, "U/N"),
            (a["pressure"], np.asarray(lm["press"]), "P"),
        ]:
            m1, e1 = block_mean(ours)
            m2, e2 = block_mean(theirs)
            # 3 sigma of the combined block error (+ a floor for very short reduced runs)
            tol = 3 * np.hypot(e1, e2) + (0.0 if full else 0.01)
            print(f"T={T} {name}: pelsim {m1:.4f}+-{e1:.4f}  LAMMPS {m2:.4f}+-{e2:.4f}")
            assert abs(m1 - m2) < tol, (T, name, m1, e1, m2, e2)
