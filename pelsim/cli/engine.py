"""``pelsim energy | prepare | minimize``: the engine's command-line interface.

* ``pelsim energy CONFIG [--model M] [--potential smooth|shifted] --json`` prints
  ``{"energy": E, "energy_per_particle": e, "max_force": f}`` (E total potential energy in
  eps_AA, f = max_i |F_i| in eps_AA/sigma_AA). CONFIG is extxyz, H5MD (last frame) or a LAMMPS
  data file (atom_style atomic, or charge with the diameters of a polydisperse model in the
  charge column, e.g. ``--model polydisperse-ss``).
* ``pelsim prepare`` makes glasses: random start, NVT equilibration at --T-high, cooling at
  --rate to --T, sampling; trajectory into H5MD, final configuration as extxyz.
* ``pelsim minimize CONFIG.extxyz`` quenches to the inherent structure (max|F| <= --fmax).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from pelsim.errors import InputError


def _energy(args) -> int:
    import jax
    import jax.numpy as jnp

    from pelsim.io import read_configuration
    from pelsim.models import PolydisperseModel, load_model
    from pelsim.potentials import energy_fn, fixed_pair_energy

    conf = read_configuration(args.config, args.model)
    if isinstance(load_model(conf.model), PolydisperseModel):
        from pelsim import polydisperse

        polydisperse.require_smooth(conf.model, args.potential)
        if conf.n <= 3000:
            e = polydisperse.energy_fn(conf.model, conf.box, conf.diameters)
        else:
            e, _ = polydisperse.fixed_pair_energy(conf.model, conf.box, conf.diameters, conf.positions, 0.0)
    elif conf.n <= 3000:
        e = energy_fn(conf.model, conf.box, conf.species, args.potential)
    else:
        e, _ = fixed_pair_energy(conf.model, conf.box, conf.species, conf.positions, 0.0, args.potential)
    E, g = jax.value_and_grad(e)(jnp.asarray(conf.positions))
    f = float(np.sqrt(np.max(np.sum(np.asarray(g) ** 2, axis=1))))
    out = {"energy": float(E), "energy_per_particle": float(E) / conf.n, "max_force": f}
    if args.json:
        print(json.dumps(out))
    else:
        print(f"E = {out['energy']:.12g}  E/N = {out['energy_per_particle']:.12g}  max|F| = {f:.6g}")
    return 0


def _prepare(args) -> int:
    from pelsim.io import H5MDWriter, write_extxyz
    from pelsim.prepare import cool, equilibrate, random_configuration

    out = Path(args.out)
    if args.n < 2 or args.T <= 0 or args.T_high <= 0 or args.rate <= 0:
        raise InputError("need --n >= 2 and positive --T, --T-high, --rate")
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{args.model}_N{args.n}_T{args.T:g}_seed{args.seed}"
    conf = random_configuration(args.model, args.n, args.seed)
    with H5MDWriter(
        out / f"{stem}.h5",
        conf.species,
        conf.box,
        args.model,
        dt=args.dt,
        attrs={"seed": args.seed, "T": args.T, "T_high": args.T_high, "rate": args.rate},
    ) as w:
        conf, check, _ = equilibrate(
            conf, args.T_high, args.steps_high, args.dt, args.potential, args.seed, progress=not args.quiet
        )
        conf, _ = cool(
            conf,
            args.T_high,
            args.T,
            args.rate,
            args.dt,
            args.potential,
            args.seed,
            progress=not args.quiet,
            writer=w,
            write_every=args.write_every,
        )
        w.append(conf.positions, 0 if not w.frames else w._groups["position"]["step"][-1] + 1)
    write_extxyz(out / f"{stem}.extxyz", conf)
    print(
        json.dumps(
            {"h5md": str(out / f"{stem}.h5"), "extxyz": str(out / f"{stem}.extxyz"), "equilibration": check}
        )
    )
    return 0


def _minimize(args) -> int:
    from pelsim.io import read_extxyz, write_extxyz
    from pelsim.prepare import quench

    conf = read_extxyz(args.config)
    conf.model = args.model or conf.model
    np.random.default_rng(args.seed)
    isc, res = quench(conf, args.potential, args.fmax, args.method)
    import jax

    from pelsim.potentials import fixed_pair_energy

    e, _ = fixed_pair_energy(isc.model, isc.box, isc.species, isc.positions, 0.0, args.potential)
    F = -np.asarray(jax.grad(e)(isc.positions))
    out = Path(args.out) if args.out else Path(args.config).with_suffix(".is.extxyz")
    write_extxyz(out, isc, energy=res.energy, forces=F)
    print(
        json.dumps(
            {
                "out": str(out),
                "energy": res.energy,
                "energy_per_particle": res.energy / conf.n,
                "max_force": res.max_force,
                "steps": res.steps,
                "converged": res.converged,
                "method": res.method,
                "time_s": res.time_s,
            }
        )
    )
    return 0 if res.converged else 1


def register(sub) -> None:
    p = sub.add_parser("energy", help="potential energy and max force of a configuration")
    p.add_argument("config", help="extxyz, H5MD (.h5) or LAMMPS data file with a periodic orthorhombic cell")
    p.add_argument("--model", default=None, help="model (default: from the file, else ka3d)")
    p.add_argument("--potential", choices=("smooth", "shifted"), default="smooth")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_energy)

    p = sub.add_parser("prepare", help="prepare a glass: equilibrate at --T-high, cool to --T; H5MD + extxyz")
    p.add_argument("--model", default="ka3d")
    p.add_argument("--n", type=int, default=1000, help="number of particles")
    p.add_argument("--T", type=float, default=0.5, help="final temperature (eps_AA/k_B)")
    p.add_argument("--T-high", dest="T_high", type=float, default=1.0, help="equilibration temperature")
    p.add_argument("--steps-high", dest="steps_high", type=int, default=20000)
    p.add_argument("--rate", type=float, default=1e-3, help="cooling rate (T per tau)")
    p.add_argument("--dt", type=float, default=0.005)
    p.add_argument("--write-every", dest="write_every", type=int, default=1000)
    p.add_argument("--potential", choices=("smooth", "shifted"), default="smooth")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="glasses", help="output directory")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_prepare)

    p = sub.add_parser("minimize", help="quench an extxyz configuration to its inherent structure")
    p.add_argument("config")
    p.add_argument("--model", default=None)
    p.add_argument("--potential", choices=("smooth", "shifted"), default="smooth")
    p.add_argument("--method", choices=("auto", "lbfgs", "fire"), default="auto")
    p.add_argument("--fmax", type=float, default=1e-10, help="stop at max_i |F_i| <= fmax")
    p.add_argument("--seed", type=int, default=0, help="(unused: minimisation is deterministic)")
    p.add_argument("--out", default=None, help="output extxyz (default CONFIG.is.extxyz)")
    p.set_defaults(func=_minimize)


if __name__ == "__main__":
    sys.exit(0)
