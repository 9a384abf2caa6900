"""One-GPU check of the engine (run by benchmarks/gpu_check.sh; ``--quick`` shrinks it for a CPU).

Measures, on whatever device JAX finds (it records which):
- MD throughput (particle-steps/s) of KA 3D at N = 1000, 10^4, 10^5, float32 and float64;
- the quench of an N=1000 glass to max|F| <= 1e-10 (float64, and with a float32 pre-stage);
- neb_many over the IS pairs of several glasses (one energy per band) with batch 1, 8, 32, 128:
  band-steps per second and the speed-up over batch 1;
- a TLS-hunt figure: IS pairs -> first-band NEB -> Delta0 per hour on this device
  (the screening NEB of pelsim.landscape.hunt, the cost per pair behind benchmarks/bench_tls_hunt.py);
- the swap-MC preparation of polydisperse-ss at N = 1500, T_f = 0.092: seconds per tau, and its quench.
Each part is bounded in time; the last line of stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def md_rates(sizes, steps, dtypes):
    from pelsim.md import MDRunner
    from pelsim.minimize import quench
    from pelsim.models import load_model
    from pelsim.prepare import random_configuration

    m = load_model("ka3d")
    out = {}
    for n in sizes:
        conf = random_configuration(m, n, seed=0)
        if n <= 20000:
            conf.positions = quench(m, conf.box, conf.species, conf.positions, "shifted", 1e-2, "fire").R
        for dname in dtypes:
            dtype = {"f64": np.float64, "f32": np.float32}[dname]
            md = MDRunner(
                m, conf.box, conf.species, "nose_hoover", kT=0.5, kind="shifted", chunk=100, dtype=dtype
            )
            md.init(conf.positions)
            md.run(100)  # compile
            t = time.perf_counter()
            md.run(steps)
            rate = n * steps / (time.perf_counter() - t)
            out[f"md_{dname}_N{n}_Mps"] = rate / 1e6
            log(f"MD {dname} N={n}: {rate / 1e6:.2f} M particle-steps/s")
    return out


def quench_times():
    from pelsim.minimize import quench
    from pelsim.models import load_model
    from pelsim.prepare import random_configuration

    m = load_model("ka3d")
    conf = random_configuration(m, 1000, seed=1)
    out = {}
    for name, kw in (("f64", {}), ("f32_pre", {"f32_fmax": 1e-3})):
        quench(m, conf.box, conf.species, conf.positions, **kw)  # compile
        t = time.perf_counter()
        r = quench(m, conf.box, conf.species, conf.positions, **kw)
        out[f"quench_{name}_s"] = time.perf_counter() - t
        out[f"quench_{name}_max_force"] = float(r.max_force)
        log(f"quench {name}: {out[f'quench_{name}_s']:.2f} s to max|F| {r.max_force:.1e}")
    return out


def neb_many_rates(n, glasses, pairs_per_glass, batches, steps):
    """Band-steps/s of neb_many over pairs of several glasses, per batch size."""
    from pelsim.landscape.neb import NEBParams, neb_many, periodic_displacement
    from pelsim.landscape.search import landscape_energy
    from pelsim.minimize import quench
    from pelsim.models import load_model
    from pelsim.prepare import random_configuration

    m = load_model("ka3d")
    energies, A, B = [], [], []
    box = None
    for g in range(glasses):
        conf = random_configuration(m, n, seed=10 + g)
        conf.positions = quench(m, conf.box, conf.species, conf.positions).R
        box = conf.box
        e, v = landscape_energy(conf)
        rng = np.random.default_rng(g)
        for _ in range(pairs_per_glass):
            energies.append((e, v))
            A.append(conf.positions)
            B.append(conf.positions + 0.05 * rng.normal(size=conf.positions.shape))
    cols = max(getattr(e.kernel, "columns", 0) for e, _ in energies)
    if cols:  # one bucket for all glasses
        energies = [landscape_energy_of(e, v, cols) for e, v in energies]
    p = NEBParams(fmax=1e-12, max_steps=steps)  # never converges: a fixed amount of work per band
    disp = periodic_displacement(box)
    es, vs = [e for e, _ in energies], [v for _, v in energies]
    out = {"neb_pairs": len(es), "neb_glasses": glasses, "neb_N": n, "neb_steps_per_band": steps}
    for b in batches:
        b = min(b, len(es))
        neb_many(es[:b], np.stack(A[:b]), np.stack(B[:b]), 8, p, disp, is_valid=vs[:b], batch=b, chunk=steps)
        t = time.perf_counter()
        neb_many(es, np.stack(A), np.stack(B), 8, p, disp, is_valid=vs, batch=b, chunk=steps)
        rate = len(es) * steps / (time.perf_counter() - t)
        out[f"neb_many_batch{b}_band_steps_per_s"] = rate
        log(f"neb_many batch {b}: {rate:.1f} band-steps/s")
    b1 = out.get(f"neb_many_batch{min(batches[0], len(es))}_band_steps_per_s")
    for b in batches:
        k = f"neb_many_batch{min(b, len(es))}_band_steps_per_s"
        out[f"neb_many_batch{min(b, len(es))}_speedup"] = out[k] / b1
    return out


def landscape_energy_of(e, v, cols):
    """Rebuild a pair-list energy with at least ``cols`` neighbour columns (common bucket)."""
    from pelsim.potentials import fixed_pair_energy

    if not hasattr(e.kernel, "columns") or e.kernel.columns == cols:
        return e, v
    sk = 2.0 * float(np.sqrt(v.limit2))
    species = np.asarray(e.system["species"])
    return fixed_pair_energy(
        e.kernel.model, np.asarray(v.box), species, np.asarray(v.R_ref), sk, e.kernel.kind, min_columns=cols
    )


def tls_hunt(n, pairs, steps, batch=1):
    """Screening cost of the TLS hunt (pelsim.landscape.hunt.screen_pairs: SCREEN_NEB band through
    one neb_many queue with ``batch`` slots + 1D splitting) per pair of minima."""
    from dataclasses import replace

    from pelsim.landscape.hunt import DOUBLE_WELL, SCREEN_NEB, screen_pairs
    from pelsim.landscape.search import landscape_energy
    from pelsim.minimize import quench
    from pelsim.models import load_model
    from pelsim.prepare import random_configuration
    from pelsim.units import get_preset

    m = load_model("ka3d")
    conf = random_configuration(m, n, seed=3)
    R0 = quench(m, conf.box, conf.species, conf.positions).R
    e, v = landscape_energy(_with(conf, R0))
    rng = np.random.default_rng(0)
    B = [quench(m, conf.box, conf.species, R0 + 0.08 * rng.normal(size=R0.shape)).R for _ in range(pairs)]
    X = np.stack([R0, *B])
    idx = [(0, k + 1) for k in range(pairs)]
    p = replace(SCREEN_NEB, max_steps=min(steps, SCREEN_NEB.max_steps))
    t = time.perf_counter()
    recs, _ = screen_pairs(e, X, idx, get_preset("argon").hbar, conf.box, is_valid=v, params=p, batch=batch)
    n_split = sum(r["outcome"] == DOUBLE_WELL for r in recs)
    dt = time.perf_counter() - t
    return {
        "tls_hunt_pairs": pairs,
        "tls_hunt_batch": batch,
        "tls_hunt_splittings": n_split,
        "tls_hunt_pairs_per_hour": pairs * 3600 / dt,
    }


def swap_cost(n, T_f, blocks):
    """Hybrid MD/swap-MC preparation of polydisperse-ss (benchmarks/bench_swap_prepare.py): seconds per
    block (10 MD steps of dt 0.01 + N swap attempts), per tau of dynamics, and the quench to 1e-10."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from bench_swap_prepare import prepare

    r = prepare(n, T_f, blocks, 10, 0)
    log(f"swap N={n} T_f={T_f}: {r['s_per_block'] * 1e3:.2f} ms/block, quench {r['quench_s']:.2f} s")
    return {
        "swap_N": n,
        "swap_T_f": T_f,
        "swap_blocks": blocks,
        "swap_s_per_block": r["s_per_block"],
        "swap_s_per_tau": r["md_s"] / r["md_time_tau"],
        "swap_acceptance": r["acceptance"],
        "swap_quench_s": r["quench_s"],
        "swap_quench_converged": r["quench_converged"],
    }


def _with(conf, R):
    import copy

    c = copy.copy(conf)
    c.positions = R
    return c


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tiny sizes (a CPU smoke test of this script)")
    ap.add_argument("--skip", default="", help="comma list of parts to skip: md,quench,neb,tls,swap")
    a = ap.parse_args()
    import jax

    devices = [str(d) for d in jax.devices()]
    res = {"backend": jax.default_backend(), "devices": devices, "jax": jax.__version__}
    log(res)
    skip = set(a.skip.split(","))
    t0 = time.perf_counter()
    q = a.quick
    parts = {
        "md": lambda: md_rates([1000] if q else [1000, 10_000, 100_000], 200 if q else 2000, ["f32", "f64"]),
        "quench": quench_times,
        "neb": lambda: (
            neb_many_rates(500, 2, 2, [1, 2, 4], 20)
            if q
            else neb_many_rates(1000, 4, 32, [1, 8, 32, 128], 200)
        ),
        "tls": lambda: tls_hunt(1000, 4 if q else 64, 100 if q else 400, batch=1 if q else 32),
        "swap": lambda: swap_cost(300 if q else 1500, 0.092, 20 if q else 2000),
    }
    for name, part in parts.items():
        if name in skip:
            continue
        t = time.perf_counter()
        res.update(part())
        res[f"{name}_part_s"] = time.perf_counter() - t
        _save_partial(res)  # a part cut off by the time limit keeps the earlier ones
    res["total_s"] = time.perf_counter() - t0
    print(json.dumps(res))


def _save_partial(res):
    out = os.environ.get("OUT")
    if out:
        tmp = os.path.join(out, "gpu_check_partial.json.tmp")
        with open(tmp, "w") as f:
            json.dump(res, f)
        os.replace(tmp, os.path.join(out, "gpu_check_partial.json"))


if __name__ == "__main__":
    main()
