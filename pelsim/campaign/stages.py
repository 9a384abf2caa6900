"""The stage functions of a campaign: they call the engine and the landscape searches.

One task = one glass x one stage (see :mod:`pelsim.campaign.runner` for the protocol):

* ``prepare``: random non-overlapping start (or an input extxyz file), NVT equilibration
  of the liquid at ``T_liquid``, linear cooling to ``T_glass`` at ``cooling_rate`` (or an
  instantaneous quench when the rate is 0), then the inherent structure (IS) by
  minimisation to max|F| <= 1e-10 (:mod:`pelsim.prepare`). Result: ``prepare.npz`` with
  the glass at T_glass, its IS, species, box. With ``preparation.method = "swap"``
  (polydisperse models): hybrid MD / swap Monte Carlo (:class:`pelsim.swap.SwapMD`) at the
  glass's T_f (``preparation.swap.T_f``, round robin over the glasses) from the relaxed start,
  then the IS; the npz also holds the diameters (swaps permute them) and T_f.
* ``is_pairs``, ``single_ended``, ``intra_basin``: the three search strategies of
  :mod:`pelsim.landscape.search` on that glass (IS pairs from low-T MD, ART-like
  single-ended saddle searches along soft modes, valleys inside the IS basin; seed
  section 8). Result: one catalogue per task (schema docs/catalogue.md).
* ``explore`` (off by default): breadth-first neighbourhood exploration from the glass IS with
  triangle closing (:mod:`pelsim.landscape.explore`; the route that found a TWP in a real KA
  glass, docs/landscape.md).
* ``merge``: all task catalogues, in (glass, stage) order, into one (minima deduplicated
  by identity, TWPs = triangles of the merged graph).
* ``finalize``: distributions, etm predictions and the report (:mod:`analysis.report`).

All randomness comes from the per-task seeds the runner passes in, so the same config
gives the same catalogue.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pelsim.errors import InputError

SEARCHES = ("is_pairs", "single_ended", "intra_basin", "explore", "tls_hunt")
STAGES = [("prepare", "npz", ())] + [(s, "h5", ("prepare",)) for s in SEARCHES]
#: Dask priorities: every glass is prepared first, then the long searches before the short ones,
#: so that the short ones fill the end instead of one long task running alone (quickstart: a worker
#: sat idle 48 s at the end with submission order, 2026-12-03)
PRIORITY = {"prepare": 3, "tls_hunt": 2, "is_pairs": 1, "explore": 1, "single_ended": 1, "intra_basin": 0}
#: the catalogue's method tag of each search stage
METHOD = {
    "is_pairs": "is_pair",
    "single_ended": "single_ended",
    "intra_basin": "intra_basin",
    "explore": "explore",
    "tls_hunt": "tls_hunt",
}


def enabled_stages(cfg: dict) -> list[str]:
    return ["prepare"] + [s for s in SEARCHES if cfg["search"][s]["enabled"]]


def check_inputs(cfg: dict, base_dir: Path) -> None:
    """Everything that can be checked before a task runs: model, unit preset, input files, sizes."""
    from pelsim.io import read_extxyz
    from pelsim.models import load_model
    from pelsim.units import get_preset

    m = load_model(cfg["model"]["name"])
    get_preset(cfg["units"]["preset"])
    check_preparation(cfg, m)
    n = cfg["model"]["N"]
    for f in cfg["glasses"]["files"]:
        p = Path(f) if Path(f).is_absolute() else Path(base_dir) / f
        conf = read_extxyz(p, model=m.name)  # InputError on missing file, NaN, overlaps
        if conf.n != n:
            raise InputError(f"{p}: {conf.n} particles but model.N = {n}")
        check_box(cfg, conf.box, f"glasses.files: {p}")
    if not cfg["glasses"]["files"]:
        check_box(cfg, np.full(m.dim, m.box_length(n)), f"config key 'model.N' = {n}")
    check_cooling(cfg)


def _cools(p: dict) -> bool:
    """The MD preparation ``p`` ([preparation]) has a cooling ramp from T_liquid to T_glass."""
    return p["cooling_rate"] > 0 and p["T_glass"] < p["T_liquid"]


def _md_preparation_runs_md(p: dict) -> bool:
    """The MD preparation ``p`` runs MD (an equilibration or a cooling ramp), not only a quench."""
    return p["equilibration_steps"] > 0 or _cools(p)


def check_preparation(cfg: dict, model) -> None:
    """The preparation method must suit the model: swap Monte Carlo exchanges per-particle
    diameters (polydisperse models only), and the MD route (:mod:`pelsim.md`) runs species models
    only."""
    from pelsim.models import PolydisperseModel

    p = cfg["preparation"]
    poly = isinstance(model, PolydisperseModel)
    if p["method"] == "swap" and not poly:
        raise InputError(
            f"config key 'preparation.method' = 'swap' needs a polydisperse model, not {model.name}"
        )
    if p["method"] == "md" and poly and _md_preparation_runs_md(p):
        raise InputError(
            f"config key 'preparation.method' = 'md': model {model.name} is prepared by swap Monte "
            "Carlo (method = 'swap', [preparation.swap]) or instantaneous quench (equilibration_steps "
            "= 0, cooling_rate = 0)"
        )
    if poly and cfg["model"]["potential"] != "smooth":
        raise InputError(f"config key 'model.potential': model {model.name} is smooth by construction")


#: the search stages that run MD on the glass (IS-pair discovery, the TLS hunt's MD minima)
MD_SEARCHES = ("is_pairs", "tls_hunt")
#: smallest pair-list skin the IS quench accepts (pelsim.minimize.quench shrinks its skin in
#: small boxes, keeping a 1e-3 margin, and refuses one below 0.05)
QUENCH_MIN_SKIN = 0.051


def check_box(cfg: dict, box, what: str) -> None:
    """Refuse a box the stages cannot simulate, naming ``what`` (the key or the file).

    MD (preparation, the IS-pair runs) needs its pair list's cutoff + skin
    (:data:`pelsim.md.MD_SKIN`) below half the box side; the quench a skin of at least
    :data:`QUENCH_MIN_SKIN`; the searches then work in any box the quench accepts.
    """
    from pelsim.md import MD_SKIN
    from pelsim.models import load_model

    m = load_model(cfg["model"]["name"])
    p = cfg["preparation"]
    md = (
        _md_preparation_runs_md(p)
        or p["method"] == "swap"  # hybrid MD/swap: pelsim.swap.SwapMD's list has skin MD_SKIN too
        or any(cfg["search"][s]["enabled"] for s in MD_SEARCHES)
    )
    skin = MD_SKIN if md else QUENCH_MIN_SKIN
    need = 2.0 * (m.rc_max + skin)
    side = float(np.min(box))
    if side <= need:
        n_min = int(m.density * need**m.dim) + 1
        raise InputError(
            f"{what}: box side {side:.3f} too small for {m.name} "
            f"({'MD' if md else 'the quench'} needs more than 2 (cutoff + skin) = {need:.3f}, "
            f"i.e. N >= {n_min} at density {m.density:g})"
        )


#: more MD steps than this in one cooling ramp can only be a mistake
MAX_COOLING_STEPS = 10**9


def check_cooling(cfg: dict) -> None:
    """Refuse a cooling ramp so slow that its steps cannot run (preparation.cooling_rate)."""
    p = cfg["preparation"]
    if _cools(p):
        steps = (p["T_liquid"] - p["T_glass"]) / p["cooling_rate"] / p["dt"]
        if steps > MAX_COOLING_STEPS:
            raise InputError(
                f"config key 'preparation.cooling_rate' = {p['cooling_rate']:g}: the ramp from "
                f"T_liquid to T_glass would take {steps:.3g} MD steps (> {MAX_COOLING_STEPS:.0e})"
            )


def _glass_start(ctx):
    from pelsim.io import read_extxyz
    from pelsim.prepare import random_configuration

    cfg = ctx.cfg
    files = cfg["glasses"]["files"]
    if files:
        f = Path(files[ctx.glass])
        return read_extxyz(f if f.is_absolute() else ctx.base_dir / f, model=cfg["model"]["name"])
    return random_configuration(cfg["model"]["name"], cfg["model"]["N"], seed=ctx.stage_seed)


def glass_T_f(cfg: dict, glass: int) -> float | None:
    """The swap-MC temperature of glass ``glass`` (None for the MD preparation)."""
    p = cfg["preparation"]
    if p["method"] != "swap":
        return None
    T_f = p["swap"]["T_f"]
    return float(T_f[glass % len(T_f)])


def _swap_prepare(ctx, conf) -> tuple:
    """Hybrid MD / swap MC of ``conf`` at the glass's T_f: (glass configuration with the final
    diameters, check dict: T_f, swap acceptance, potential energy per particle over the first and
    last thirds of the run and their standard error, as in :func:`pelsim.prepare.equilibrate`)."""
    from pelsim.polydisperse import quench as relax
    from pelsim.prepare import energy_trend
    from pelsim.swap import SwapMD, SwapThermo

    cfg, p = ctx.cfg, ctx.cfg["preparation"]
    sw = p["swap"]
    T_f = glass_T_f(cfg, ctx.glass)
    # remove the high-energy contacts of the start before giving it a temperature
    conf, _ = relax(conf, fmax=1e-2)
    md = SwapMD(
        conf.model,
        conf.box,
        conf.diameters,
        T_f,
        dt=p["dt"],
        md_steps=sw["md_steps"],
        swaps=int(round(sw["swaps_per_particle"] * conf.n)),
        window=sw["window"] or None,
        seed=ctx.stage_seed,
    )
    md.init(conf.positions)
    th = SwapThermo()
    md.run(sw["blocks"], th, every=max(1, sw["blocks"] // 300))
    out = conf.copy(np.mod(md.positions, conf.box))
    out.diameters = np.asarray(md.diameters, float)
    a = th.arrays()
    U = a["potential"]  # per particle
    t = energy_trend(U)  # the drift check of pelsim.prepare.equilibrate: necessary, not sufficient
    k = t["k"]
    check = {
        "T_f": T_f,
        "T_mean": float(a["temperature"][k:].mean()) if len(U) > 1 else float(a["temperature"].mean()),
        "swap_acceptance": float(a["acceptance"].mean()),
        "U_first": t["U_first"],
        "U_last": t["U_last"],
        "U_sem": t["U_sem"],
        "time_tau": float(md.time),
        "ok": t["no_trend"],
    }
    return out, check


def stage_prepare(ctx) -> dict:
    """Glass preparation and its inherent structure (result: npz)."""
    from pelsim.prepare import cool, equilibrate, quench

    cfg, p = ctx.cfg, ctx.cfg["preparation"]
    kind = cfg["model"]["potential"]
    conf = _glass_start(ctx)
    check = {}
    if p["method"] == "swap":
        conf, check = _swap_prepare(ctx, conf)
    elif p["equilibration_steps"] > 0:
        conf, check, _ = equilibrate(
            conf,
            p["T_liquid"],
            p["equilibration_steps"],
            dt=p["dt"],
            kind=kind,
            seed=ctx.stage_seed,
            progress=False,
        )
    if p["method"] == "md" and _cools(p):
        conf, _ = cool(
            conf,
            p["T_liquid"],
            p["T_glass"],
            p["cooling_rate"],
            dt=p["dt"],
            kind=kind,
            seed=ctx.stage_seed + 1,
            progress=False,
        )
    IS, res = quench(conf, kind=kind)
    if not res.converged:
        raise RuntimeError(f"glass {ctx.glass}: IS minimisation stopped at max|F| = {res.max_force:.2e}")
    extra = {} if conf.diameters is None else {"diameters": conf.diameters}
    T_f = glass_T_f(cfg, ctx.glass)
    np.savez(
        ctx.output,
        glass=conf.positions,
        inherent=IS.positions,
        species=conf.species,
        box=conf.box,
        model=np.array(conf.model),
        is_energy=res.energy,
        is_max_force=res.max_force,
        check=np.array(json.dumps({k: v for k, v in dict(check).items()})),
        **extra,
    )
    out = {
        "is_energy_per_particle": res.energy / conf.n,
        "is_max_force": res.max_force,
        "equilibrated": bool(dict(check).get("ok", True)),
    }
    if T_f is not None:
        out.update(
            T_f=T_f,
            swap_acceptance=check["swap_acceptance"],
            U_first=check["U_first"],
            U_last=check["U_last"],
            swap_time_tau=check["time_tau"],
        )
    return out


def load_prepared(path):
    """(Configuration at T_glass, Configuration of its IS) from a prepare result."""
    from pelsim.config import Configuration

    d = np.load(path)
    model = str(d["model"])
    diam = d["diameters"] if "diameters" in d.files else None  # polydisperse models
    return (
        Configuration(d["glass"], d["species"], d["box"], model, diameters=diam),
        Configuration(d["inherent"], d["species"], d["box"], model, diameters=diam),
    )


def _search(ctx, name: str) -> dict:
    """One search strategy on one glass through :func:`pelsim.landscape.search.search_glass`."""
    from pelsim.landscape.routes import ROUTES
    from pelsim.landscape.search import search_glass

    cfg = ctx.cfg
    c = cfg["search"][name]
    _glass_conf, IS = load_prepared(ctx.inputs["prepare"])
    IS.info["source"] = f"glass {ctx.glass} (seed {ctx.glass_seed}) IS"
    kw = {"n_samples": 0, "n_modes": 0, "valley_modes": 0}
    kw.update(ROUTES[name][0].from_dict(c).search_kwargs())  # the route's dataclass maps its keys
    if name == "is_pairs":
        kw.update(neb_batch=cfg["runner"]["neb_batch"], neb_devices=cfg["runner"]["neb_devices"])
    cat, stats = search_glass(
        IS,
        out=ctx.output,
        kind=cfg["model"]["potential"],
        glass=ctx.glass,
        seed=ctx.stage_seed,
        unit_preset=cfg["units"]["preset"],
        tls_threshold_K=cfg["units"]["tls_threshold_K"],
        progress=False,
        **kw,
    )
    s = cat.summary()
    return {
        "dwps": s["dwps"],
        "tls": s["tls"],
        "twps": s["twps"],
        "minima": s["minima"],
        **{k: v for k, v in stats.items() if isinstance(v, int | float) and k != "dwps_before"},
    }


def stage_is_pairs(ctx) -> dict:
    return _search(ctx, "is_pairs")


def stage_single_ended(ctx) -> dict:
    return _search(ctx, "single_ended")


def stage_intra_basin(ctx) -> dict:
    return _search(ctx, "intra_basin")


def stage_explore(ctx) -> dict:
    return _search(ctx, "explore")


def stage_tls_hunt(ctx) -> dict:
    """The TLS hunt on one glass (:func:`pelsim.landscape.hunt.hunt_glasses`): its catalogue of
    refined DWPs is the task result; the glass's hunt counts (pool, control, screened, refined)
    are returned with the ``hunt_`` prefix for the selection-aware statistics of the report.
    With ``outputs.pair_tables`` the pair table (every pair's features, selection and screening
    outcome, and the minima; :func:`pelsim.landscape.hunt.write_pair_tables`) is written next to
    the task's result, atomically and before the task is committed: a task killed between the two
    is redone and overwrites it, so a finished campaign holds exactly one table per glass."""
    from pelsim.landscape.hunt import hunt_glasses, write_pair_tables
    from pelsim.landscape.routes import HuntParams

    cfg = ctx.cfg
    _glass_conf, IS = load_prepared(ctx.inputs["prepare"])
    IS.info["source"] = f"glass {ctx.glass} (seed {ctx.glass_seed}) IS"
    cat, hunts, summary = hunt_glasses(
        [IS],
        params=HuntParams.from_dict(cfg["search"]["tls_hunt"]),
        glass=ctx.glass,
        seeds=[ctx.stage_seed],
        kind=cfg["model"]["potential"],
        unit_preset=cfg["units"]["preset"],
        tls_threshold_K=cfg["units"]["tls_threshold_K"],
        out=ctx.output,
        neb_batch=cfg["runner"]["neb_batch"],
    )
    if cfg["outputs"]["pair_tables"]:
        write_pair_tables(pair_tables_path(ctx.inputs["prepare"]), hunts, summary)
    s = cat.summary()
    g = summary["glasses"][0]
    out = {"dwps": s["dwps"], "tls": s["tls"], "twps": s["twps"], "minima": s["minima"]}
    out.update({f"hunt_{k}": v for k, v in g.items() if isinstance(v, int | float)})
    out.update({f"hunt_seconds_{k}": v for k, v in summary["seconds"].items()})
    return out


def pair_tables_path(prepared) -> Path:
    """Where a glass's TLS-hunt pair tables go: its task folder (next to its prepare result)."""
    return Path(prepared).parent / "tls_hunt.pairs.h5"


def _e_IS(store, glass: int) -> float | None:
    """The IS energy per particle of a prepared glass (its prepare task's summary), or None."""
    done = store.finished(glass, "prepare")
    if not done:
        return None
    v = done.get("summary", done).get("is_energy_per_particle")
    return None if v is None else float(v)


def hunt_summaries(cfg: dict, store) -> list[dict]:
    """The per-glass hunt counts of a campaign's finished tls_hunt tasks (``hunt_`` keys)."""
    out = []
    if not cfg["search"]["tls_hunt"]["enabled"]:
        return out
    for g in range(cfg["glasses"]["count"]):
        done = store.finished(g, "tls_hunt")
        if done:
            s = done.get("summary", done)
            out.append({k[5:]: v for k, v in s.items() if k.startswith("hunt_")})
    return out


def merge(cfg: dict, outputs: list[Path], out: Path) -> dict:
    """Merge the search catalogues in the given (glass, stage) order into one catalogue at ``out``."""
    from pelsim.landscape.catalogue import Catalogue

    merged = None
    for p in outputs:
        if p.suffix != ".h5":
            continue
        other = Catalogue.open(p, "r")
        if merged is None:
            a = other.attrs
            merged = Catalogue(
                out,
                model=a["model"],
                potential=a["potential"],
                N=a["N"],
                dim=a["dim"],
                box=a["box"],
                species=a["species"],
                masses=a["masses"],
                unit_preset=a["unit_preset"],
                tls_threshold_K=a["tls_threshold_K"],
            )
        merged.merge(other)
    if merged is None:  # no search enabled: an empty catalogue of the right system
        from pelsim.models import load_model

        m = load_model(cfg["model"]["name"])
        merged = Catalogue(
            out,
            model=m.name,
            potential=cfg["model"]["potential"],
            N=cfg["model"]["N"],
            dim=m.dim,
            unit_preset=cfg["units"]["preset"],
            tls_threshold_K=cfg["units"]["tls_threshold_K"],
        )
    merged.attrs["created"] = "merged"  # the merged file is a pure function of the task results
    merged.save(out)
    s = merged.summary()
    return {k: s[k] for k in ("minima", "saddles", "dwps", "twps", "tls")}


def _filtered(dwps: dict, twps: dict, f: dict) -> tuple[dict, dict]:
    """Apply [filters] to the DWPs; a TWP survives only if its three DWPs do."""
    n = len(dwps.get("id", []))
    if n == 0:
        return dwps, twps
    keep = (np.asarray(dwps["V0"]) <= f["max_barrier"]) & (
        np.abs(np.asarray(dwps["asymmetry"])) <= f["max_asymmetry"]
    )
    ids = set(np.asarray(dwps["id"])[keep].tolist())
    d = {k: np.asarray(v)[keep] for k, v in dwps.items()}
    if len(twps.get("id", [])):
        tk = np.array([all(i in ids for i in row) for row in np.asarray(twps["dwps"])], bool)
        twps = {k: np.asarray(v)[tk] for k, v in twps.items()}
    return d, twps


def finalize(cfg: dict, store) -> dict:
    """Distributions, etm predictions and the report of a merged campaign catalogue."""
    from analysis.report import analyse_arrays, units_for, write_report
    from pelsim.landscape.catalogue import Catalogue
    from pelsim.models import load_model

    if not cfg["outputs"]["report"]:
        return {}
    cat = Catalogue.open(store.catalogue_path, "r")
    m = load_model(cfg["model"]["name"])
    rho = cfg["model"]["density"] or m.density
    a = cfg["analysis"]
    units = units_for(cfg["units"]["preset"], rho, cfg["units"]["tls_threshold_K"])
    settings = {
        "n_glasses": cfg["glasses"]["count"],
        "n_particles": cfg["model"]["N"],
        "units": units,
        "bootstrap": a["bootstrap"],
        "T_min_K": a["T_min_K"],
        "T_max_K": a["T_max_K"],
        "fields_T": a["fields_T"],
        "frequency_Hz": a["frequency_Hz"],
        "seed": 0,
    }
    dwps, twps = _filtered(cat.dwps(), cat.twps(), cfg["filters"])
    res = analyse_arrays(dwps, twps, store.analysis_dir, settings)
    hunts = hunt_summaries(cfg, store)
    if hunts:
        from etm.io import atomic_write_text
        from pelsim.landscape.hunt import depletion_by_stability, depletion_by_T_f, hunt_statistics
        from pelsim.units import get_preset

        E_thr = get_preset(cfg["units"]["preset"]).energy_reduced(cfg["units"]["tls_threshold_K"])
        res["tls_hunt"] = hunt_statistics(hunts, cfg["model"]["N"], E_thr, bootstrap=max(a["bootstrap"], 1))
        record = {"glasses": hunts, "statistics": res["tls_hunt"]}
        if cfg["preparation"]["method"] == "swap":  # the T_f series: one set of statistics per T_f
            by = {}
            for h in hunts:
                by.setdefault(glass_T_f(cfg, int(h["glass"])), []).append(h)
            record["statistics_by_T_f"] = {
                f"{T:g}": hunt_statistics(hs, cfg["model"]["N"], E_thr, bootstrap=max(a["bootstrap"], 1))
                for T, hs in sorted(by.items())
            }
            res["tls_hunt_by_T_f"] = record["statistics_by_T_f"]
            record["depletion_by_T_f"] = depletion_by_T_f(record["statistics_by_T_f"])
            res["tls_depletion"] = record["depletion_by_T_f"]
        if len(hunts) >= 4:  # the same, with each glass placed by its own IS energy
            e = [_e_IS(store, int(h["glass"])) for h in hunts]
            if all(x is not None for x in e) and len(set(e)) > 1:
                record["depletion_by_stability"] = depletion_by_stability(hunts, e)
                record["e_IS"] = e
                res["tls_by_stability"] = record["depletion_by_stability"]
        text = json.dumps(record, indent=1, default=float)
        atomic_write_text(store.analysis_dir / "tls_hunt.json", text)
    seconds = sum(e.get("seconds", 0.0) for e in store.read_log() if e.get("event") == "task")
    meta = {
        "name": cfg["campaign"]["name"],
        "description": cfg["campaign"]["description"],
        "model": m.name,
        "N": cfg["model"]["N"],
        "potential": cfg["model"]["potential"],
        "config_hash": store.read_meta()["hash"],  # the campaign's identity (config and inputs)
        "seconds": seconds,
    }
    report = write_report(res, store.report_dir, meta)
    s = res["summary"]
    return {
        "report": str(report),
        "dwps": s["n_dwps"],
        "tls": s["tls"]["n_tls"],
        "twps": s["twps"]["n_twps"],
        "Pbar_J_m3": s["tls"]["Pbar_J_m3"],
        "Pbar_fit_J_m3": res["predictions"]["heat_capacity"]["fit"]["Pbar_fit_J_m3"],
        "Pbar_fit_supported": bool(res["predictions"]["heat_capacity"]["fit"].get("supported", True)),
        **({"tls_hunt": res["tls_hunt"]} if hunts else {}),
    }
