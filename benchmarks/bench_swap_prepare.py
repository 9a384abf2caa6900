"""Ultrastable-glass preparation of polydisperse-ss at reduced scale: hybrid MD/swap at each T_f, then
the quench to the inherent structure; the measured cost per T_f.

For each T_f (default 0.12, 0.092, 0.07, 0.062): a random start, ``--blocks`` blocks of hybrid MD/swap
(``--md-steps`` NVT steps of dt = 0.01 + N swap attempts per block) at kT = T_f, then the quench
(:func:`pelsim.polydisperse.quench`, fmax 1e-10). Reports per T_f: seconds per block, swap acceptance,
the energy per particle of the first and second halves of the run (drift), F_s(q = 2 pi) and the
diameter autocorrelation C_sigma over the second half (did the run decorrelate?), e_IS and the quench
time. A short run at ``--n-full`` (default 1500) measures the cost per block at the papers' size.
Prints one JSON object as its last line.

    python benchmarks/bench_swap_prepare.py --n 300 --blocks 2000
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np


def prepare(n, T_f, blocks, md_steps, seed):
    from pelsim.polydisperse import quench
    from pelsim.prepare import random_configuration
    from pelsim.swap import SwapMD, SwapThermo, self_intermediate_scattering

    conf = random_configuration("polydisperse-ss", n, seed=seed)
    md = SwapMD(conf.model, conf.box, conf.diameters, kT=T_f, dt=0.01, md_steps=md_steps, seed=seed)
    md.init(conf.positions)
    md.run(1)  # compile
    th = SwapThermo()
    half = blocks // 2
    ref = {}

    def record(m):
        if len(th.time) == half:
            ref["R"], ref["d"] = m.unwrapped.copy(), np.asarray(m.diameters).copy()

    t0 = time.perf_counter()
    md.run(blocks, th, callback=record)
    t_md = time.perf_counter() - t0
    a = th.arrays()
    d = np.asarray(md.diameters)
    dd0 = ref["d"] - ref["d"].mean()
    c_sigma = float(np.mean((d - d.mean()) * dd0) / np.mean(dd0 * dd0))
    fs = self_intermediate_scattering(md.unwrapped - ref["R"])
    glass = conf.copy(positions=md.positions)
    glass.diameters = d
    t0 = time.perf_counter()
    IS, res = quench(glass, fmax=1e-10)
    t_q = time.perf_counter() - t0
    return {
        "T_f": T_f,
        "N": n,
        "blocks": blocks,
        "md_time_tau": float(blocks * md_steps * 0.01),
        "s_per_block": t_md / blocks,
        "md_s": t_md,
        "acceptance": float(a["acceptance"].mean()),
        "T_mean": float(a["temperature"][half:].mean()),
        "U_first_half": float(a["potential"][:half].mean()),
        "U_second_half": float(a["potential"][half:].mean()),
        "Fs_second_half": fs,
        "C_sigma_second_half": c_sigma,
        "e_IS": float(res.energy) / n,
        "quench_converged": bool(res.converged),
        "quench_steps": int(res.steps),
        "quench_s": t_q,
    }


def relaxation(n, T, equil_blocks, blocks, every, md_steps, seed):
    """Times (tau) at which F_s(2 pi) and C_sigma first fall below 1/e after ``equil_blocks`` blocks."""
    from pelsim.prepare import random_configuration
    from pelsim.swap import SwapMD, self_intermediate_scattering

    conf = random_configuration("polydisperse-ss", n, seed=seed)
    md = SwapMD(conf.model, conf.box, conf.diameters, kT=T, dt=0.01, md_steps=md_steps, seed=seed)
    md.init(conf.positions)
    md.run(equil_blocks)
    R0, d0 = md.unwrapped.copy(), np.asarray(md.diameters).copy()
    dd0 = d0 - d0.mean()
    t0, curve = md.time, []
    for _ in range(blocks // every):
        md.run(every)
        d = np.asarray(md.diameters)
        c = float(np.mean((d - d.mean()) * dd0) / np.mean(dd0 * dd0))
        curve.append((md.time - t0, self_intermediate_scattering(md.unwrapped - R0), c))
    first = lambda k: next((t for t, *v in curve if v[k] < np.exp(-1)), None)  # noqa: E731
    return {"T": T, "N": n, "equil_tau": t0, "tau_Fs": first(0), "tau_Csigma": first(1), "curve": curve[::5]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--n-full", type=int, default=1500)
    ap.add_argument("--blocks", type=int, default=2000)
    ap.add_argument("--full-blocks", type=int, default=100)
    ap.add_argument("--md-steps", type=int, default=10)
    ap.add_argument("--T", type=float, nargs="+", default=[0.12, 0.092, 0.07, 0.062])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--relaxation", action="store_true", help="measure tau_Fs and tau_Csigma at each --T")
    args = ap.parse_args()
    import jax

    if args.relaxation:
        out = [
            relaxation(args.n, T, args.blocks // 2, args.blocks // 2, 50, args.md_steps, args.seed)
            for T in args.T
        ]
        print(json.dumps({"bench": "swap_relaxation", "load": os.getloadavg()[0], "rows": out}))
        return

    rows = [prepare(args.n, T, args.blocks, args.md_steps, args.seed) for T in args.T]
    for r in rows:
        print(json.dumps(r))
    full = (
        prepare(args.n_full, args.T[-1], args.full_blocks, args.md_steps, args.seed) if args.n_full else None
    )
    if full:
        print(json.dumps(full))
    print(
        json.dumps(
            {
                "bench": "swap_prepare",
                "backend": jax.default_backend(),
                "load": os.getloadavg()[0],
                "rows": rows,
                "full_size": full,
            }
        )
    )


if __name__ == "__main__":
    main()
