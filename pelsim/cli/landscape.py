"""``pelsim neb | search | catalogue | splitting``: landscape subcommands.

- ``neb A.extxyz B.extxyz --images 16 --json --out path.h5``: minimise both ends,
  CI-NEB, split at intermediate minima, refine and verify saddles; prints barrier
  (E_saddle - E_A over the highest saddle), asymmetry (E_B - E_A), saddle_max_force,
  n_negative_modes; writes a catalogue with the steps (method "neb").
- ``search GLASS.extxyz --out catalogue.h5``: single-ended, IS-pair and intra-basin
  searches on one glass (pelsim.landscape.search).
- ``hunt G1.extxyz [G2 ...] --out catalogue.h5 [--pairs pairs.h5]``: the TLS hunt
  (pelsim.landscape.hunt: minima from low-T MD, all pairs, prefilter, ranked + control screening
  NEBs, refinement of TLS candidates); prints the selection-aware statistics.
- ``catalogue catalogue.h5 [--export DIR] [--json]``: summary table; export of every
  DWP as DIR/<id>/{min_a,saddle,min_b}.extxyz, DIR/<id>/path.extxyz (the configurations of the
  profile's points, a trajectory from min_a to min_b), DIR/<id>/profile.csv (the profile the
  splitting was computed from) and DIR/index.json (with the preset's hbar).
- ``splitting PROFILE.csv --hbar H --json``: 1D tunneling parameters of a profile
  (pelsim.tunneling; seed Eqs. 3-4); optional columns dVds and d2Vds2 (as export writes them)
  are used as the catalogue uses them, so an exported profile.csv gives its DWP's splitting.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from pelsim.cli.checks import int_in, number_in, writable_file
from pelsim.errors import CalculationError, InputError

#: largest reduced hbar = hbar / (sigma sqrt(m eps)) accepted: argon 0.03, helium 0.4; beyond
#: 10 no particle is meant (and hbar^2 overflows long before 1e300)
HBAR_MAX = 10.0
#: largest NEB band accepted (movable images); the searches use 12-16
MAX_IMAGES = 1000
#: stiffest NEB spring accepted (eps/sigma^2); the default is 1, stiffer bands only stall
MAX_SPRING = 1e4


def _print(obj, as_json):
    if as_json:
        print(json.dumps(obj, default=float))
    else:
        for k, v in obj.items():
            print(f"{k:>24s}  {v}")


def cmd_splitting(args) -> int:
    from pelsim.tunneling import dwp_parameters, read_profile_columns

    number_in(args.hbar, "--hbar", 0.0, HBAR_MAX)
    number_in(args.rtol, "--rtol", 0.0, 0.1)
    prof = read_profile_columns(args.profile)
    try:
        p = dwp_parameters(
            prof["x"], prof["V"], args.hbar, dVds=prof["dVds"], curvature=prof["curvature"], rtol=args.rtol
        )
    except (OverflowError, FloatingPointError) as exc:
        raise CalculationError(f"splitting of {args.profile}: numerical overflow ({exc})") from None
    _print(p, args.json)
    return 0


def _read_pair(a, b, model):
    from pelsim.io import read_extxyz

    A = read_extxyz(a, model)
    B = read_extxyz(b, model)
    if A.n != B.n or A.model != B.model or not np.array_equal(A.species, B.species):
        raise InputError(f"{a} and {b} are not the same system (N, model or species differ)")
    if not np.allclose(A.box, B.box):
        raise InputError(f"{a} and {b} have different cells")
    return A, B


def cmd_neb(args) -> int:
    from pelsim.landscape.catalogue import Catalogue
    from pelsim.landscape.connect import connect
    from pelsim.landscape.neb import NEBParams
    from pelsim.landscape.search import landscape_energy
    from pelsim.models import load_model

    int_in(args.images, "--images", 1, MAX_IMAGES)
    number_in(args.k, "--k", 0.0, MAX_SPRING)
    number_in(args.fmax, "--fmax", 0.0, float("inf"))
    if args.out:
        writable_file(args.out)
    A, B = _read_pair(args.a, args.b, args.model)
    energy, _ = landscape_energy(A, args.potential)
    params = NEBParams(k=args.k, fmax=args.fmax, energy_weighted=args.energy_weighted)
    from pelsim.landscape.connect import relax

    ma, mb = relax(energy, A.positions), relax(energy, B.positions)
    steps = connect(energy, ma.R, mb.R, args.images, params, box=A.box, minimize_ends=False)
    if not steps:
        raise InputError(
            "no verified saddle between the two minima (same minimum, or NEB/saddle refinement failed)"
        )
    top = max(steps, key=lambda s: s.saddle.energy)
    out = {
        "barrier": top.saddle.energy - ma.energy,
        "asymmetry": mb.energy - ma.energy,
        "saddle_energy": top.saddle.energy,
        "E_A": ma.energy,
        "E_B": mb.energy,
        "saddle_max_force": top.saddle.max_force,
        "n_negative_modes": top.saddle.n_negative,
        "n_steps": len(steps),
        "steps": [
            {
                "barrier": s.barrier,
                "asymmetry": s.asymmetry,
                "saddle_energy": s.saddle.energy,
                "saddle_max_force": s.saddle.max_force,
                "n_negative_modes": s.saddle.n_negative,
            }
            for s in steps
        ],
        "connected": bool(len(steps) > 0),
    }
    if args.out:
        model = load_model(A.model)
        cat = Catalogue.open(
            args.out,
            "w",
            model=model.name,
            potential=args.potential,
            N=A.n,
            dim=A.dim,
            box=A.box,
            species=A.species,
            masses=np.asarray(model.masses)[A.species],
        )
        for s in steps:
            cat.add_step(s, "neb", provenance={"a": str(args.a), "b": str(args.b), "images": args.images})
        out["dwp_ids"] = [int(r["id"]) for r in cat.dwp_rows]
        out["Delta0"] = [float(r["Delta0"]) for r in cat.dwp_rows]
        cat.find_twps()
        cat.save()
        out["out"] = str(args.out)
    _print(out, args.json)
    return 0


def cmd_search(args) -> int:
    from pelsim.io import read_extxyz
    from pelsim.landscape.search import search_glasses

    writable_file(args.out)
    confs = []
    for path in args.glass:
        conf = read_extxyz(path, args.model)
        conf.info["source"] = str(path)
        confs.append(conf)
    cat, stats = search_glasses(
        confs,
        args.out,
        kind=args.potential,
        glass=args.glass_index,
        seed=args.seed,
        T=args.T,
        n_samples=args.samples,
        interval=args.interval,
        n_modes=args.modes,
        valley_modes=args.valley_modes,
        valley_basins=args.valley_basins,
        n_images=args.images,
        unit_preset=args.units,
        neb_batch=args.neb_batch,
        neb_devices=args.neb_devices,
        progress=not args.json and len(confs) > 1,
    )
    summary = dict(cat.summary(), **stats[0]) if len(stats) == 1 else dict(cat.summary(), glasses=stats)
    _print(summary, args.json)
    return 0


def cmd_hunt(args) -> int:
    from dataclasses import fields

    from pelsim.io import read_extxyz
    from pelsim.landscape.hunt import hunt_glasses, write_pair_tables
    from pelsim.landscape.routes import HuntParams

    params = HuntParams(**{f.name: getattr(args, f.name) for f in fields(HuntParams)})
    if args.pairs:
        writable_file(args.pairs, "--pairs")
    writable_file(args.out)
    confs = []
    for path in args.glass:
        conf = read_extxyz(path, args.model)
        conf.info["source"] = str(path)
        confs.append(conf)
    cat, hunts, summary = hunt_glasses(
        confs,
        params=params,
        glass=args.glass_index,
        seeds=[args.seed + k for k in range(len(confs))],
        kind=args.potential,
        unit_preset=args.units,
        tls_threshold_K=args.tls_threshold,
        out=args.out,
        neb_batch=args.neb_batch,
        progress=not args.json,
    )
    if args.pairs:
        write_pair_tables(args.pairs, hunts, summary)
    out = dict(cat.summary(), statistics=summary["statistics"], seconds=summary["seconds"])
    if args.json:
        print(json.dumps(dict(out, glasses=summary["glasses"]), default=float))
    else:
        _print(out, False)
    return 0


def cmd_catalogue(args) -> int:
    from pelsim.landscape.catalogue import Catalogue

    cat = Catalogue.open(args.catalogue, "r")
    if args.export:
        done = export(cat, Path(args.export))
        if done["without_path"]:
            print(
                f"note: {args.catalogue} stores no path configurations for {done['without_path']} of "
                f"{done['dwps']} DWPs (written before they were catalogued): path.extxyz not written "
                "for them; their profile.csv lacks dVds and the end curvatures, so pelsim splitting "
                "reproduces their splitting only approximately (index.json: path_extxyz null, "
                "splitting_reproducible false)",
                file=sys.stderr,
            )
    if args.json:
        print(json.dumps({"summary": cat.summary(), "dwps": _rows(cat)}, default=float))
        return 0
    s = cat.summary()
    print("  ".join(f"{k}={v}" for k, v in s.items()))
    cols = ("id", "method", "barrier", "asymmetry", "V0", "d", "splitting", "Delta0", "Delta0_K", "is_tls")
    print("  ".join(f"{c:>11s}" for c in cols))
    for r in cat.dwp_rows:
        print("  ".join(f"{r[c]:>11.4g}" if isinstance(r[c], float) else f"{r[c]!s:>11s}" for c in cols))
    return 0


def _rows(cat):
    keep = (
        "id",
        "method",
        "barrier",
        "asymmetry",
        "V0",
        "d",
        "m_eff",
        "splitting",
        "Delta",
        "Delta0",
        "Delta0_wkb",
        "Delta0_parabola",
        "is_tls",
        "min_a",
        "min_b",
        "saddle",
    )
    return [{k: r[k] for k in keep} | {"methods": r.get("methods", r["method"])} for r in cat.dwp_rows]


def export(cat, outdir: Path) -> dict:
    """Per DWP, in DIR/<id>/: {min_a,saddle,min_b}.extxyz (with energies); profile.csv (x,V and,
    when stored, dVds and the end curvatures d2Vds2: the exact inputs of the catalogued tunneling
    parameters); path.extxyz (when stored: the configurations of the profile's points from min_a
    to min_b, one frame each, with energy, s and V). DIR/index.json lists the DWPs (reduced
    units, with the preset's hbar). Returns counts {"dwps", "without_path"}."""
    from pelsim.io import atomic_path, write_extxyz, write_extxyz_trajectory
    from pelsim.tunneling import write_profile_csv

    outdir.mkdir(parents=True, exist_ok=True)
    a = cat.attrs
    model = str(a["model"])
    if model.startswith("analytic:"):
        raise InputError("cannot export an analytic-surface catalogue as extxyz")
    box = np.asarray(a["box"], float)
    index = []
    without_path = 0
    for r in cat.dwp_rows:
        i = int(r["id"])
        d = outdir / str(i)
        M, S = cat.minima, cat.saddles
        for name, pos, e in (
            ("min_a", M["positions"][r["min_a"]], M["energy"][r["min_a"]]),
            ("saddle", S["positions"][r["saddle"]], S["energy"][r["saddle"]]),
            ("min_b", M["positions"][r["min_b"]], M["energy"][r["min_b"]]),
        ):
            conf = cat.configuration(pos, int(r["glass"]))
            write_extxyz(d / f"{name}.extxyz", conf, energy=float(e))
        prof = cat.profile_dict(i)
        write_profile_csv(d / "profile.csv", prof["s"], prof["V"], prof["dVds"], prof["curvature"])
        X = cat.dwp_path(i)
        if X is not None:
            # frame 0 wrapped as min_a.extxyz, the others continuous with it (minimum image of the
            # displacement), so that a viewer shows no particle jumping across the cell
            U = X - X[0]
            U -= box * np.round(U / box)
            X0 = np.mod(X[0], box)
            E0 = cat.profile_inputs.get(i, {}).get("energy_start")
            frames = [
                cat.configuration(
                    X0 + U[k],
                    int(r["glass"]),
                    {"dwp": i, "frame": k, "s": float(sk), "V": float(vk)},
                    wrap=False,
                )
                for k, (sk, vk) in enumerate(zip(prof["s"], prof["V"], strict=True))
            ]
            energies = None if E0 is None else [E0 + float(v) for v in prof["V"]]
            write_extxyz_trajectory(d / "path.extxyz", frames, energies)
        else:
            without_path += 1
        index.append(
            {
                "id": int(r["id"]),
                "potential": str(a["potential"]),
                "model": model,
                "barrier": float(r["barrier"]),
                "asymmetry": float(r["asymmetry"]),
                "V0": float(r["V0"]),
                "splitting": float(r["splitting"]),
                "Delta": float(r["Delta"]),
                "Delta0": float(r["Delta0"]),
                "method": str(r["method"]),
                "is_tls": bool(r["is_tls"]),
                "methods": str(r.get("methods", r["method"])),
                "splitting_lowest": float(r.get("splitting_lowest", float("nan"))),
                "unit_preset": str(a["unit_preset"]),
                "hbar": float(a["hbar"]),
                "dir": str(i),
                "profile_csv": "profile.csv",
                "profile_points": len(prof["s"]),
                # pelsim splitting profile.csv --hbar <hbar> gives this row's splitting (to the
                # solver's rtol) when the profile carries the stored dVds and end curvatures
                "splitting_reproducible": prof["dVds"] is not None and prof["curvature"] is not None,
                "path_extxyz": "path.extxyz" if X is not None else None,
            }
        )
    with atomic_path(outdir / "index.json", ".json") as tmp:
        Path(tmp).write_text(json.dumps(index, indent=1))
    return {"dwps": len(index), "without_path": without_path}


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "splitting", help="1D tunneling splitting and Delta0 of a path profile CSV (x,V)"
    )
    p.add_argument("profile", help="CSV with header x,V (mass-weighted coordinate, reduced energy)")
    p.add_argument("--hbar", type=float, required=True, help="reduced Planck constant (argon: 0.0296)")
    p.add_argument("--rtol", type=float, default=1e-10, help="grid-convergence tolerance of the levels")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_splitting)

    p = subparsers.add_parser("neb", help="CI-NEB + saddle refinement between two minima (extxyz)")
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--images", type=int, default=16, help="movable images (endpoints not counted)")
    p.add_argument("--k", type=float, default=1.0, help="spring constant (eps/sigma^2)")
    p.add_argument("--fmax", type=float, default=1e-3, help="NEB force tolerance before saddle refinement")
    p.add_argument("--energy-weighted", dest="energy_weighted", action="store_true")
    p.add_argument("--model", default=None)
    p.add_argument("--potential", choices=("smooth", "shifted"), default="smooth")
    p.add_argument("--out", default=None, help="catalogue (HDF5) with the minima, saddles and DWPs")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_neb)

    p = subparsers.add_parser(
        "search",
        help="DWP/TWP searches in one or more glasses of one N -> catalogue",
        description="Search glasses for DWPs/TWPs. Several glasses of one system size are searched "
        "in one process: their IS-pair NEBs share one neb_many queue and every program is compiled "
        "once for all of them (glass k is catalogued as --glass-index + k with seed --seed + k).",
    )
    _glass_arguments(p)
    p.add_argument("--modes", type=int, default=4, help="soft modes for single-ended searches (0: off)")
    p.add_argument("--samples", type=int, default=0, help="MD quenches for IS-pair discovery (0: off)")
    p.add_argument("--interval", type=int, default=200, help="MD steps between quenches")
    p.add_argument("--T", type=float, default=0.2, help="MD temperature for IS-pair discovery")
    p.add_argument(
        "--neb-batch",
        type=int,
        default=1,
        help="IS-pair NEB bands relaxed at once per device (neb_many; > 1 pays on GPUs)",
    )
    p.add_argument(
        "--neb-devices",
        type=int,
        default=1,
        help="JAX devices for the IS-pair NEBs (GPUs; CPU host devices need "
        "XLA_FLAGS=--xla_force_host_platform_device_count=N)",
    )
    p.add_argument(
        "--valley-modes",
        dest="valley_modes",
        type=int,
        default=0,
        help="soft modes for intra-basin valley exploration (0: off)",
    )
    p.add_argument(
        "--valley-basins",
        dest="valley_basins",
        type=int,
        default=1,
        help="basins explored breadth-first by the valley exploration (1: the IS's alone)",
    )
    p.add_argument("--images", type=int, default=12)
    p.add_argument("--glass-index", dest="glass_index", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--units", default="argon", help="unit preset for kelvin quantities and is_tls")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_search)

    _register_hunt(subparsers)

    p = subparsers.add_parser(
        "catalogue", help="summarise a DWP/TWP catalogue; --export extxyz, path, profile + index.json"
    )
    p.add_argument("catalogue")
    p.add_argument(
        "--export",
        default=None,
        metavar="DIR",
        help="write DIR/<id>/{min_a,saddle,min_b,path}.extxyz, DIR/<id>/profile.csv, DIR/index.json",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_catalogue)


def _glass_arguments(p) -> None:
    """The arguments of the commands that search glasses into a catalogue (search, hunt)."""
    p.add_argument("glass", nargs="+", help="extxyz glass configuration(s), all of the same N")
    p.add_argument("--out", required=True, help="catalogue file (appended to if it exists)")
    p.add_argument("--model", default=None)
    p.add_argument("--potential", choices=("smooth", "shifted"), default="smooth")


def _register_hunt(subparsers) -> None:
    from pelsim.landscape.routes import HuntParams
    from pelsim.params import schema_fields

    p = subparsers.add_parser(
        "hunt",
        help="TLS hunt: minima from low-T MD, all pairs screened (ranked + control), TLS refined",
        description="TLS hunt on one or more glasses of one N (pelsim.landscape.hunt, "
        "docs/landscape.md 'TLS hunting'). Writes the catalogue of refined DWPs/TWPs (--out) and, "
        "with --pairs, the table of every pair of minima with its features and screening outcome.",
    )
    _glass_arguments(p)
    p.add_argument("--pairs", default=None, help="HDF5 file for the pair tables (one group per glass)")
    for name, (typ, default, lo, hi, _ch, doc) in schema_fields(HuntParams).items():
        bounds = f" [{lo if lo is not None else ''}..{hi if hi is not None else ''}]"
        flag = f"--{name.replace('_', '-')}"
        if typ is bool:
            p.add_argument(flag, dest=name, action=argparse.BooleanOptionalAction, default=default, help=doc)
        else:
            p.add_argument(flag, dest=name, type=typ, default=default, help=doc + bounds)
    p.add_argument("--neb-batch", dest="neb_batch", type=int, default=1, help="screening bands per device")
    p.add_argument("--glass-index", dest="glass_index", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--units", default="argon", help="unit preset (hbar, kelvin)")
    p.add_argument(
        "--tls-threshold", dest="tls_threshold", type=float, default=1.0, help="TLS: splitting < this [K]"
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_hunt)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(1)
