"""Benchmark: CI-NEB (ours, vmapped images) vs ase.mep.NEB with our ASE calculator; batched
pairs vs sequential; candidate pairs per CPU-hour (IS pair -> verified saddle -> Delta0).

Usage: python benchmarks/bench_neb.py [--model ka3d] [--n 256] [--images 16] [--batch 4]
       [--ase-steps 200]
ASE is run for at most --ase-steps optimizer steps; its time to convergence is the measured
time per step times the number of steps it needed (measured if it converged within the cap,
else extrapolated with our step count, stated in the output as ase_extrapolated). The last
line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="ka3d")
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--images", type=int, default=16)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--fmax", type=float, default=1e-3)
    ap.add_argument("--ase-steps", dest="ase_steps", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()

    import jax

    import pelsim  # noqa: F401
    from pelsim.landscape.catalogue import Catalogue
    from pelsim.landscape.connect import connect
    from pelsim.landscape.neb import NEBParams, neb, neb_batch, periodic_displacement
    from pelsim.landscape.search import adjacent_minima_example, landscape_energy

    t = time.perf_counter()
    A, B, sad = adjacent_minima_example(a.model, a.n, seed=a.seed)
    t_pair = time.perf_counter() - t
    energy, _ = landscape_energy(A)
    disp = periodic_displacement(A.box)
    p = NEBParams(fmax=a.fmax)
    neb(energy, A.positions, B.positions, a.images, p, disp)  # compile
    t = time.perf_counter()
    r = neb(energy, A.positions, B.positions, a.images, p, disp)
    t_ours = time.perf_counter() - t

    # ASE reference, same endpoints / images / spring / tolerance
    from ase.mep import NEB
    from ase.optimize import FIRE

    from pelsim.ase_calc import PelsimCalculator
    from pelsim.io import _to_atoms

    imgs = [_to_atoms(A)] + [_to_atoms(A) for _ in range(a.images)] + [_to_atoms(B)]
    for im in imgs:
        im.calc = PelsimCalculator(A.model)
    band = NEB(imgs, k=1.0, climb=True, method="improvedtangent")
    band.interpolate(mic=True)
    band.get_forces()  # compile
    opt = FIRE(band, logfile=None)
    t = time.perf_counter()
    converged = opt.run(fmax=a.fmax, steps=a.ase_steps)
    t_ase_run = time.perf_counter() - t
    per_step = t_ase_run / max(opt.nsteps, 1)
    ase_steps = opt.nsteps if converged else r.steps
    t_ase = per_step * ase_steps

    # batched pairs vs sequential (the same pair replicated: equal work per band)
    Ras = np.stack([A.positions] * a.batch)
    Rbs = np.stack([B.positions] * a.batch)
    neb_batch(energy, Ras, Rbs, a.images, p, disp)  # compile
    t = time.perf_counter()
    neb_batch(energy, Ras, Rbs, a.images, p, disp)
    t_batch = time.perf_counter() - t
    t_seq = a.batch * t_ours

    # pipeline: pair -> connect (NEB, refine, verify) -> catalogue row with Delta0
    t = time.perf_counter()
    steps = connect(energy, A.positions, B.positions, a.images, p, box=A.box, minimize_ends=False)
    cat = Catalogue(None, model=A.model, N=A.n, dim=A.dim, box=A.box, species=A.species)
    for st in steps:
        cat.add_step(st, "is_pair")
    t_pipe = time.perf_counter() - t

    out = {"model": a.model, "N": a.n, "images": a.images, "fmax": a.fmax, "devices": str(jax.devices()),
           "ours_s": t_ours, "ours_steps": r.steps, "ours_barrier": r.barrier,
           "ase_s_per_step": per_step, "ase_steps": ase_steps, "ase_converged_within_cap": bool(converged),
           "ase_extrapolated": not bool(converged), "ase_s": t_ase,
           "speedup_vs_ase": t_ase / t_ours, "batch": a.batch, "batch_s": t_batch, "sequential_s": t_seq,
           "batch_throughput_gain": t_seq / t_batch, "pipeline_s_per_pair": t_pipe,
           "pairs_per_cpu_hour": 3600.0 / t_pipe, "n_dwps": len(cat.dwp_rows),
           "example_pair_s": t_pair}
    if converged:
        e = np.array([im.get_potential_energy() for im in imgs])
        out["ase_barrier"] = float(e.max() - e[0])
    print(json.dumps(out))


if __name__ == "__main__":
    main()
