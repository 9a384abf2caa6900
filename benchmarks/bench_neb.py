"""Benchmark: CI-NEB on KA-BLJ 3D N=1000 (issue 4 speed goals), each against its anchor in the same run.

1. One CI-NEB, 16 images, ours (``pelsim.landscape.neb.neb``: images vmapped, the whole
   relaxation one jitted loop) against ``ase.mep.NEB`` (improved tangent, climb from the start,
   k = 1) relaxed by ASE's FIRE with its default settings, as a user would run it, on the same
   endpoints, spring, climbing rule and force tolerance (max per-particle NEB force < fmax).
   ASE runs with pelsim's ASE calculator (``pelsim.ase_calc``: the all-pairs energy, exact for
   any positions) and, to separate the NEB driver from the energy implementation, with the same
   fixed-pair-list energy as ours (``ase_same_energy``). Both are the fast landscape energies
   (``potentials._fast_energy``: analytic forces on neighbour rows), jitted per image for ASE.
2. B candidate pairs relaxed in one ``neb_batch`` against the same B NEBs one after another,
   over a fixed number of steps per band (per-step throughput, ``--batch-steps``).
3. Many candidate pairs to convergence (the chain's pairs both ways, the searches' NEB settings):
   ``neb_many`` (a queue of bands over batch slots and devices, ``--many BATCHxDEVICES,...``)
   against the same NEBs one after another (``many_*`` figures).
4. Candidate pairs per CPU-hour from an IS pair to Delta0: ``connect`` (NEB, split at
   intermediate minima, saddle refinement, verification) and the catalogue row (tunneling
   parameters, pelsim/tunneling.py). CPU-hours = wall-clock hours x 2 (the machine's 2 cores).

Endpoints: benchmarks/data/ka3d_n1000_is{0..4}.extxyz, five consecutive distinct inherent
structures of an MD run at T = 0.2 (glass from T = 0.8, seed 7; ``--make-data`` rebuilds them).
The last pair (is3 -> is4) is elementary: its converged band has a single maximum and no
interior minimum. The energy of our runs is ``search.landscape_energy`` built at is0 (N > 400:
fixed pair list, skin 1.5 sigma); every endpoint and band is checked valid for it.

ASE can take very long: it runs at most ``--ase-steps`` FIRE steps; its time to convergence is
then the median time per step times its step count to convergence, taken from a separate
uncapped run (``--ase-count``, which prints ``ase_steps_to_converge``; pass it back with
``--ase-steps-to-converge``), else extrapolated with our step count (``ase_extrapolated``).
Compile times are reported separately; timings are medians over ``--repeats`` runs.
Our optimizer: ``--optimizer lbfgs`` (default, NEBParams: safeguarded L-BFGS with FIRE fallback,
246 steps on the benchmark band) or ``fire`` (1139 steps; ``--dt-max`` 0.03 default; 0.06, 0.12 and
0.25 took 1116: the 0.1 sigma step cap binds).
ASE's optimizer: ``--ase-optimizer fire`` (default, the anchor) or ``lbfgs`` (ase.optimize.LBFGS,
default settings; ``--ase-maxstep`` overrides ASE's 0.2), for the timed and the ``--ase-count``
runs; ``--ase-count-cap`` stops the count after ``--ase-steps`` (a limited trial). ASE's BFGS is
not offered: its dense Hessian of the band (48000^2 doubles at 16 images x N=1000) needs 18 GB.
Usage: flock /tmp/bench.lock python benchmarks/bench_neb.py [--images 16] [--fmax 1e-3]
The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

DATA = Path(__file__).parent / "data"
N_IS = 5


def make_data(seed: int = 7, T: float = 0.2, interval: int = 20, n_samples: int = 40):
    """Glass (random start, NVT at T=0.8, 4000 steps), IS, MD at T sampled every ``interval`` steps,
    each sample quenched; the consecutive distinct ISs 8..12 of the chain are written."""
    from pelsim.io import write_extxyz
    from pelsim.landscape.identity import same_minimum
    from pelsim.prepare import equilibrate, quench, random_configuration, sample

    g, _, _ = equilibrate(random_configuration("ka3d", 1000, seed=seed), 0.8, 4000, seed=seed, progress=False)
    IS0, r0 = quench(g)
    chain = [(IS0, r0.energy)]
    for c in sample(IS0, T, n_samples, interval, seed=seed, progress=False):
        q, r = quench(c)
        if not same_minimum(chain[-1][1], chain[-1][0].positions, r.energy, q.positions, IS0.box):
            chain.append((q, r.energy))
    DATA.mkdir(exist_ok=True)
    for k, (q, e) in enumerate(chain[8 : 8 + N_IS]):
        write_extxyz(DATA / f"ka3d_n1000_is{k}.extxyz", q, energy=e)


def load_chain():
    from pelsim.io import read_extxyz

    return [read_extxyz(DATA / f"ka3d_n1000_is{k}.extxyz") for k in range(N_IS)]


class _EnergyCalculator:
    """ASE calculator around a JAX energy of positions (the same energy as ours)."""

    def __new__(cls, energy, dim=3):
        import jax
        from ase.calculators.calculator import Calculator, all_changes

        vg = jax.jit(jax.value_and_grad(energy))

        class Calc(Calculator):
            implemented_properties = ["energy", "forces", "free_energy"]

            def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
                super().calculate(atoms, properties, system_changes)
                E, g = vg(np.asarray(self.atoms.positions[:, :dim]))
                self.results = {"energy": float(E), "free_energy": float(E), "forces": -np.asarray(g)}

        return Calc()


def _ase_band(A, B, n_images, make_calc):
    from ase.mep import NEB

    from pelsim.io import _to_atoms

    imgs = [_to_atoms(A)] + [_to_atoms(A) for _ in range(n_images)] + [_to_atoms(B)]
    for im in imgs:
        im.calc = make_calc()
    band = NEB(imgs, k=1.0, climb=True, method="improvedtangent")
    band.interpolate(mic=True)
    return band, imgs


ASE_OPTIMIZERS = {
    "fire": "ase.optimize.FIRE defaults (dt=0.1, maxstep=0.2, dtmax=1.0)",
    "lbfgs": "ase.optimize.LBFGS defaults (maxstep=0.2, memory=100, damping=1, alpha=70)",
}


def _ase_run(A, B, n_images, make_calc, fmax, steps, logfile=None, optimizer="fire", maxstep=None):
    """ASE FIRE or LBFGS (default settings) on ase.mep.NEB; (converged, steps, per-step times, barrier)."""
    from ase.optimize import FIRE, LBFGS

    band, imgs = _ase_band(A, B, n_images, make_calc)
    band.get_forces()  # compile the calculator outside the timing
    kw = {} if maxstep is None else {"maxstep": maxstep}
    opt = {"fire": FIRE, "lbfgs": LBFGS}[optimizer](band, logfile=logfile, **kw)
    times = []
    t = time.perf_counter()
    converged = False
    for conv in opt.irun(fmax=fmax, steps=steps):
        converged = conv
        now = time.perf_counter()
        times.append(now - t)
        t = now
    e = np.array([im.get_potential_energy() for im in imgs])
    return bool(converged), opt.nsteps, times[1:], float(e.max() - e[0])


def _median_time(fn, repeats):
    ts, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts)), out


def _many_section(a, chain, energy, is_valid, disp) -> dict:
    """Many candidate pairs to convergence: ``neb_many`` (queue, batch slots, devices) against
    the same NEBs one after another with ``neb``. Bands: the chain's pairs in both directions,
    the searches' NEB settings (SEARCH_NEB) and the pair list's validity check, as search_glass
    runs them. Throughput = bands per second; the gain is sequential time / scheduled time."""
    import jax
    import jax.numpy as jnp

    from pelsim.landscape.neb import neb, neb_many
    from pelsim.landscape.search import SEARCH_NEB

    pairs = [(chain[k], chain[k + 1]) for k in range(N_IS - 1)]
    pairs += [(y, x) for x, y in pairs]
    Ras = np.stack([x.positions for x, _ in pairs])
    Rbs = np.stack(
        [x.positions + np.asarray(disp(jnp.asarray(x.positions), jnp.asarray(y.positions))) for x, y in pairs]
    )
    p = SEARCH_NEB
    neb(energy, Ras[0], Rbs[0], a.images, replace(p, max_steps=2), disp, is_valid=is_valid)  # compile
    t = time.perf_counter()
    seq = [neb(energy, x, y, a.images, p, disp, is_valid=is_valid) for x, y in zip(Ras, Rbs, strict=True)]
    t_seq = time.perf_counter() - t
    res = dict(
        many_bands=len(pairs),
        many_neb_fmax=p.fmax,
        many_max_steps=p.max_steps,
        many_steps_per_band=[r.steps for r in seq],
        many_converged=[r.converged for r in seq],
        many_valid=[r.valid for r in seq],
        many_sequential_s=t_seq,
        many_runs={},
    )
    for cfg in a.many.split(","):
        batch, devices = (int(v) for v in cfg.split("x"))
        if devices > len(jax.devices()):
            continue
        kw = dict(is_valid=is_valid, batch=batch, devices=devices, chunk=a.many_chunk)
        t = time.perf_counter()
        neb_many(energy, Ras[:1], Rbs[:1], a.images, replace(p, max_steps=2), disp, **kw)  # compile
        t_c = time.perf_counter() - t
        t = time.perf_counter()
        rm = neb_many(energy, Ras, Rbs, a.images, p, disp, **kw)
        t_m = time.perf_counter() - t
        # vmapped slots round differently (1e-12): a band may then take other steps to the same path
        same_steps = sum(u.steps == v.steps for u, v in zip(rm, seq, strict=True))
        both = [(u, v) for u, v in zip(rm, seq, strict=True) if u.converged and v.converged]
        dbar = max((abs(u.barrier - v.barrier) for u, v in both), default=float("nan"))
        res["many_runs"][cfg] = dict(
            batch=batch,
            devices=devices,
            s=t_m,
            compile_s=t_c,
            gain_vs_sequential=t_seq / t_m,
            bands_with_same_steps=same_steps,
            max_barrier_diff_converged=dbar,
        )
        print(
            f"neb_many {cfg}: {t_m:.1f} s vs sequential {t_seq:.1f} s ({t_seq / t_m:.2f}x), "
            f"same steps {same_steps}/{len(rm)}, barrier diff {dbar:.1e}",
            file=sys.stderr,
            flush=True,
        )
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=16)
    ap.add_argument("--fmax", type=float, default=1e-3)
    ap.add_argument("--optimizer", default="lbfgs", help="our band optimizer: lbfgs (default) or fire")
    ap.add_argument(
        "--ase-optimizer",
        dest="ase_optimizer",
        default="fire",
        choices=sorted(ASE_OPTIMIZERS),
        help="ASE's NEB optimizer (fire: the anchor)",
    )
    ap.add_argument(
        "--ase-maxstep",
        dest="ase_maxstep",
        type=float,
        default=None,
        help="maxstep of ASE's optimizer (default: ASE's own, 0.2; with lbfgs the band diverges on KA)",
    )
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dt-max", dest="dt_max", type=float, default=0.03, help="our FIRE dt_max")
    ap.add_argument("--ase-steps", dest="ase_steps", type=int, default=60)
    ap.add_argument("--ase-steps-to-converge", dest="ase_total", type=int, default=0)
    ap.add_argument(
        "--ase-count", action="store_true", help="only run ASE uncapped (same energy) and count its steps"
    )
    ap.add_argument(
        "--ase-count-cap",
        dest="ase_steps_cap",
        action="store_true",
        help="with --ase-count: stop after --ase-steps steps (a limited trial)",
    )
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--batch-steps", dest="batch_steps", type=int, default=100)
    ap.add_argument("--batch-repeats", dest="batch_repeats", type=int, default=1)
    ap.add_argument("--pipeline-pairs", dest="pipeline_pairs", type=int, default=4)
    ap.add_argument("--pipeline-optimizer", dest="pipeline_optimizer", default="lbfgs")
    ap.add_argument(
        "--many",
        default="1x1,1x2,4x1,2x2",
        help="neb_many layouts to time, BATCHxDEVICES, comma separated (CPU devices: --cpu-devices)",
    )
    ap.add_argument("--many-chunk", dest="many_chunk", type=int, default=100)
    ap.add_argument(
        "--cpu-devices",
        dest="cpu_devices",
        type=int,
        default=2,
        help="JAX CPU devices to configure (jax_num_cpu_devices; the machine has 2 cores)",
    )
    ap.add_argument("--skip", default="", help="comma list of sections to skip: ours,ase,batch,many,pipeline")
    ap.add_argument("--make-data", action="store_true")
    a = ap.parse_args()
    skip = set(filter(None, a.skip.split(",")))

    import jax
    import jax.numpy as jnp

    jax.config.update("jax_num_cpu_devices", a.cpu_devices)  # before JAX's first computation
    import pelsim  # noqa: F401
    from pelsim.landscape.neb import NEBParams, neb, neb_batch, periodic_displacement
    from pelsim.landscape.search import landscape_energy

    if a.make_data:
        make_data()
    chain = load_chain()
    A, B = chain[-2], chain[-1]
    energy, is_valid = landscape_energy(chain[0])
    energy_desc = (
        f"search.landscape_energy: fixed pair list at is0, skin 1.5, {energy.n_pairs} pairs, "
        "dense neighbour rows with analytic forces (potentials._fast_energy)"
    )
    assert all(bool(is_valid(jnp.asarray(c.positions))) for c in chain), "endpoint outside the skin"
    disp = periodic_displacement(A.box)
    # step caps: NEBParams defaults (L-BFGS 0.02 sigma per particle, FIRE 0.1)
    p = NEBParams(fmax=a.fmax, climb_after=0.0, optimizer=a.optimizer, max_steps=20000, dt_max=a.dt_max)
    out = {
        "model": "ka3d",
        "N": A.n,
        "images": a.images,
        "fmax": a.fmax,
        "spring_k": p.k,
        "climb": "from the start (both)",
        "ours_optimizer": a.optimizer,
        "ours_dt_max": a.dt_max,
        "ours_lbfgs_max_step": p.lbfgs_max_step,
        "devices": str(jax.devices()),
        "energy": energy_desc,
        "repeats": a.repeats,
        "machine": "2 cores, shared with other jobs (timed under flock)",
    }

    if a.ase_count:
        conv, steps, times, bar = _ase_run(
            A,
            B,
            a.images,
            lambda: _EnergyCalculator(energy),
            a.fmax,
            a.ase_steps if a.ase_steps_cap else 100000,
            logfile="-",
            optimizer=a.ase_optimizer,
            maxstep=a.ase_maxstep,
        )
        print(
            json.dumps(
                dict(
                    out,
                    ase_optimizer=ASE_OPTIMIZERS[a.ase_optimizer],
                    ase_converged=conv,
                    ase_steps_to_converge=steps,
                    ase_barrier=bar,
                    ase_s_per_step_same_energy=float(np.median(times)),
                )
            )
        )
        return

    t_ours, r = None, None
    if "ours" not in skip:
        t = time.perf_counter()
        r = neb(energy, A.positions, B.positions, a.images, p, disp)
        t_first = time.perf_counter() - t
        t_ours, r = _median_time(lambda: neb(energy, A.positions, B.positions, a.images, p, disp), a.repeats)
        assert r.converged and all(bool(is_valid(jnp.asarray(x))) for x in r.images)
        out.update(
            ours_s=t_ours,
            ours_compile_s=t_first - t_ours,
            ours_steps=r.steps,
            ours_barrier=r.barrier,
            ours_s_per_step=t_ours / max(r.steps, 1),
            ours_interior_minima=len(r.interior_minima()),
            ours_i_climb=r.i_climb,
        )

    print(json.dumps(out), file=sys.stderr, flush=True)  # partial results, in case a later part is killed

    if "ase" not in skip and r is not None:
        from pelsim.ase_calc import PelsimCalculator

        conv, steps, times, bar = _ase_run(
            A,
            B,
            a.images,
            lambda: PelsimCalculator("ka3d"),
            a.fmax,
            a.ase_steps,
            optimizer=a.ase_optimizer,
            maxstep=a.ase_maxstep,
        )
        per_step = float(np.median(times))
        _, _, times2, _ = _ase_run(
            A,
            B,
            a.images,
            lambda: _EnergyCalculator(energy),
            a.fmax,
            a.ase_steps,
            optimizer=a.ase_optimizer,
            maxstep=a.ase_maxstep,
        )
        per_step_same = float(np.median(times2))
        if conv:
            total, how = steps, "measured"
        elif a.ase_total:
            total, how = a.ase_total, "steps from an uncapped ASE run (--ase-count), time per step measured"
        else:
            total, how = r.steps, "EXTRAPOLATED with our step count"
        out.update(
            ase_optimizer=ASE_OPTIMIZERS[a.ase_optimizer],
            ase_s_per_step=per_step,
            ase_s_per_step_same_energy=per_step_same,
            ase_steps_to_converge=total,
            ase_steps_source=how,
            ase_extrapolated=not conv,
            ase_s=per_step * total,
            ase_same_energy_s=per_step_same * total,
            speedup_vs_ase=per_step * total / t_ours,
            speedup_vs_ase_same_energy=per_step_same * total / t_ours,
        )
        if conv:
            out["ase_barrier"] = bar

    if "batch" not in skip:
        # throughput over a fixed number of steps (fmax = 0: every band takes exactly
        # --batch-steps steps, batched or not), on B distinct candidate pairs of the chain
        pairs = [(chain[k], chain[k + 1]) for k in range(N_IS - 1)]
        pairs = (pairs * a.batch)[: a.batch]
        Ras = np.stack([x.positions for x, _ in pairs])
        Rbs = np.stack(
            [
                x.positions + np.asarray(disp(jnp.asarray(x.positions), jnp.asarray(y.positions)))
                for x, y in pairs
            ]
        )
        pb = replace(p, fmax=0.0, max_steps=a.batch_steps)
        t = time.perf_counter()
        neb_batch(energy, Ras, Rbs, a.images, pb, disp)
        t_bfirst = time.perf_counter() - t
        t_batch, rb = _median_time(lambda: neb_batch(energy, Ras, Rbs, a.images, pb, disp), a.batch_repeats)
        neb(energy, Ras[0], Rbs[0], a.images, pb, disp)  # compile
        seq = lambda: [neb(energy, x, y, a.images, pb, disp) for x, y in zip(Ras, Rbs, strict=True)]
        t_seq, rs = _median_time(seq, a.batch_repeats)
        bdiff = max(float(np.max(np.abs(u.energies - v.energies))) for u, v in zip(rb, rs, strict=True))
        out.update(
            batch=a.batch,
            batch_steps_per_band=a.batch_steps,
            batch_s=t_batch,
            batch_compile_s=t_bfirst - t_batch,
            sequential_s=t_seq,
            batch_vs_sequential_max_energy_diff=bdiff,
            batch_throughput_gain=t_seq / t_batch,
            batch_note="per-step throughput; to convergence a batch also waits for its slowest band",
        )

    print(json.dumps(out), file=sys.stderr, flush=True)

    if "many" not in skip:
        out.update(_many_section(a, chain, energy, is_valid, disp))
        print(json.dumps(out), file=sys.stderr, flush=True)

    if "pipeline" not in skip:
        from pelsim.landscape.catalogue import Catalogue
        from pelsim.landscape.connect import connect
        from pelsim.models import load_model

        model = load_model("ka3d")
        cat = Catalogue(
            None,
            model="ka3d",
            potential="smooth",
            N=A.n,
            dim=3,
            box=A.box,
            species=A.species,
            masses=np.asarray(model.masses)[A.species],
            unit_preset="argon",
            tls_threshold_K=1.0,
        )
        from pelsim.landscape.search import (
            MAX_NEBS_PER_PAIR,
            MAX_RECENTRES_PER_PAIR,
            SEARCH_NEB,
            add_checked_step,
            recentring,
        )

        # the searches' own NEB settings (fmax 1e-2, then dimer + Newton to 1e-10): the pipeline
        # is timed as search_glass runs it, not at the benchmark band's fmax
        po = a.pipeline_optimizer
        pp = replace(SEARCH_NEB, optimizer=po)
        per_pair = []
        n_steps = 0
        # as search_glass: a band leaving the pair list continues on a list re-centred on it
        recentre = recentring(chain[0])
        rstats = {"dropped_invalid": 0, "dropped_failed": 0}
        for k in range(N_IS - 2, N_IS - 2 - min(a.pipeline_pairs, N_IS - 1), -1):  # from the elementary pair
            t = time.perf_counter()
            steps = connect(
                energy,
                chain[k].positions,
                chain[k + 1].positions,
                a.images,
                pp,
                box=A.box,
                minimize_ends=False,
                max_depth=2,
                max_nebs=MAX_NEBS_PER_PAIR,
                is_valid=is_valid,
                recentre=recentre,
                max_recentres=MAX_RECENTRES_PER_PAIR,
                stats=rstats,
            )
            for st in steps:  # as search_glass: each step checked with the energy it was found with
                _, why = add_checked_step(cat, st, "is_pair", 0, 0, {}, is_valid)
                rstats["dropped_invalid"] += why == "invalid"
                rstats["dropped_failed"] += why not in ("", "invalid")
            per_pair.append(time.perf_counter() - t)
            n_steps += len(steps)
            print(
                f"pipeline pair {k}: {per_pair[-1]:.1f} s, {len(steps)} steps, {rstats}",
                file=sys.stderr,
                flush=True,
            )
        wall = float(np.sum(per_pair))
        out.update(
            pipeline_pairs=len(per_pair),
            pipeline_s_per_pair=per_pair,
            pipeline_median_s_per_pair=float(np.median(per_pair)),
            pipeline_elementary_steps=n_steps,
            pipeline_dwps=len(cat.dwp_rows),
            cpu_hours_convention="wall-clock x 2 cores",
            pipeline_energy="search.landscape_energy",
            pipeline_neb_optimizer=pp.optimizer,
            pipeline_neb_fmax=pp.fmax,
            pairs_per_cpu_hour=len(per_pair) * 3600.0 / (2.0 * wall),
            pipeline_recentre=dict(rstats, skins=[round(x, 3) for x in recentre.skins]),
        )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
