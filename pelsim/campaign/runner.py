"""Run a campaign on Dask: idempotent (glass x stage) tasks, atomic results, resume.

The runner turns a validated config into tasks, one per glass and stage, with
the dependencies the stages module declares (``prepare`` before the searches of
the same glass). Each task runs on a Dask worker (a ``LocalCluster`` on this
machine by default, or an existing scheduler given by address, e.g. one started
by dask-jobqueue on SLURM), writes its result to a temporary file, moves it into
place with ``os.replace`` and then writes its marker (see :mod:`.store`). A task
whose marker is valid is never run again, so ``pelsim campaign run`` on the same
directory resumes after any interruption, including SIGKILL. When every task is
done the task results are merged, in a fixed (glass, stage) order, into one
catalogue (rebuilt from scratch each time, so a merge interrupted half-way is
simply redone), and the stages module's ``finalize`` builds analysis and report.

A stages module (``campaign.stages_module``, default :mod:`pelsim.campaign.stages`)
provides:

* ``STAGES``: a list of ``(name, ext, after)``: stage name, result file extension,
  names of the stages of the same glass it needs;
* ``enabled_stages(cfg) -> list[str]`` (optional; default all);
* ``check_inputs(cfg, base_dir)`` (optional): validate input files before anything runs;
* ``stage_<name>(ctx: TaskContext) -> dict``: do the work, write ``ctx.output``,
  return a small JSON summary (``{"dwps": 3, ...}``; ``dwps`` feeds the progress bar);
* ``merge(cfg, outputs: list[Path], out: Path) -> dict``: merge the task results;
* ``finalize(cfg, store) -> dict`` (optional): analysis and report.
"""

from __future__ import annotations

import importlib
import json
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pelsim.campaign import config as config_mod
from pelsim.campaign.store import CampaignStore, atomic_path, versions
from pelsim.errors import InputError


@dataclass
class TaskContext:
    """What a stage function gets: the config, its glass, seeds, input files, output path."""

    cfg: dict
    glass: int
    glass_seed: int
    stage: str
    stage_seed: int
    inputs: dict = field(default_factory=dict)  # stage name -> Path of its result
    output: Path | None = None  # write the result here (a temporary name; the runner renames it)
    base_dir: Path | None = None  # directory of the campaign file (for relative input paths)


def stage_seed(glass_seed: int, stage: str) -> int:
    """A deterministic 31-bit seed for one (glass, stage), independent of run order."""
    key = [glass_seed] + [ord(c) for c in stage]
    return int(np.random.SeedSequence(key).generate_state(1)[0] & 0x7FFFFFFF)


def load_stages_module(name: str):
    try:
        mod = importlib.import_module(name)
    except ImportError as exc:
        raise InputError(f"config key 'campaign.stages_module': cannot import {name!r} ({exc})") from None
    if not hasattr(mod, "STAGES") or not hasattr(mod, "merge"):
        raise InputError(f"config key 'campaign.stages_module': {name!r} defines no STAGES/merge")
    return mod


def plan(cfg: dict, mod) -> list[tuple[str, str, tuple]]:
    """The enabled stages, in dependency order: (name, ext, after)."""
    enabled = mod.enabled_stages(cfg) if hasattr(mod, "enabled_stages") else [s[0] for s in mod.STAGES]
    return [(n, e, tuple(a for a in after if a in enabled)) for n, e, after in mod.STAGES if n in enabled]


def execute_task(
    root: str,
    cfg: dict,
    stages_module: str,
    glass: int,
    glass_seed: int,
    stage: str,
    ext: str,
    base_dir: str,
    *dep_infos,
) -> dict:
    """Run one (glass, stage) task on a worker; idempotent (returns the marker if done)."""
    import warnings

    # jax's dtype-promotion FutureWarnings from inside the engine would flood the progress bars
    warnings.filterwarnings("ignore", category=FutureWarning, module="jax")
    store = CampaignStore(root)
    info = store.finished(glass, stage)
    if info is not None:
        return info
    mod = importlib.import_module(stages_module)
    fn = getattr(mod, f"stage_{stage}")
    inputs = {d["stage"]: store.tasks_dir / f"g{glass:04d}" / d["output"] for d in dep_infos}
    final = store.task_output(glass, stage, ext)
    t0 = time.perf_counter()
    with atomic_path(final) as tmp:
        ctx = TaskContext(
            cfg=cfg,
            glass=glass,
            glass_seed=glass_seed,
            stage=stage,
            stage_seed=stage_seed(glass_seed, stage),
            inputs=inputs,
            output=tmp,
            base_dir=Path(base_dir),
        )
        summary = fn(ctx) or {}
        if not tmp.exists():
            raise RuntimeError(f"stage {stage} of glass {glass} wrote no result")
    return store.commit_task(glass, stage, final, time.perf_counter() - t0, summary)


def connect(scheduler: str, workers: int, threads: int, processes: bool):
    """A dask.distributed Client: attached to ``scheduler`` or on a new LocalCluster."""
    from distributed import Client, LocalCluster

    if scheduler:
        if "://" not in scheduler and ":" not in scheduler:
            raise InputError(f"scheduler address {scheduler!r} is not of the form tcp://HOST:PORT")
        try:
            return Client(scheduler, timeout="5s"), None
        except (OSError, TimeoutError) as exc:
            raise InputError(
                f"cannot reach the Dask scheduler at {scheduler} ({type(exc).__name__})"
            ) from None
        except ValueError as exc:
            raise InputError(f"bad scheduler address {scheduler!r}: {exc}") from None
    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=threads,
        processes=processes,
        dashboard_address=None,
        silence_logs=logging.ERROR,
    )
    return Client(cluster), cluster


def run(
    config_path: str | Path,
    out: str | Path,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: bool = True,
    finalize: bool = True,
) -> dict:
    """Run (or resume) the campaign defined in ``config_path`` into directory ``out``.

    Returns a summary dict (tasks run and skipped, DWPs, timings). Raises InputError
    for bad input before anything is written.
    """
    from tqdm.auto import tqdm

    t_start = time.perf_counter()
    config_path = Path(config_path)
    cfg = config_mod.load(config_path)
    if workers is not None:
        if workers < 1:
            raise InputError(f"--workers must be >= 1, got {workers}")
        cfg["runner"]["workers"] = workers
    if scheduler is not None:
        cfg["runner"]["scheduler"] = scheduler
    mod = load_stages_module(cfg["campaign"]["stages_module"])
    base_dir = config_path.resolve().parent
    if hasattr(mod, "check_inputs"):
        mod.check_inputs(cfg, base_dir)
    stages = plan(cfg, mod)
    seeds = config_mod.glass_seeds(cfg)
    cfg_hash = config_mod.config_hash(cfg)

    store = CampaignStore(out)
    r = cfg["runner"]
    if r["scheduler"] and ("://" not in r["scheduler"] and ":" not in r["scheduler"]):
        raise InputError(f"scheduler address {r['scheduler']!r} is not of the form tcp://HOST:PORT")
    if store.root.exists() and not (store.root / "campaign.json").exists() and any(store.root.iterdir()):
        raise InputError(f"{store.root} exists and is not a campaign directory; refusing to write there")
    if (store.root / "campaign.json").exists():
        store.claim(config_mod.canonical_json(cfg), cfg_hash, config_path.read_text())  # check only
    client, cluster = connect(r["scheduler"], r["workers"], r["threads_per_worker"], r["processes"])
    try:
        resumed = store.claim(config_mod.canonical_json(cfg), cfg_hash, config_path.read_text())
        store.log(
            "start",
            resumed=resumed,
            config_hash=cfg_hash,
            config=json.loads(config_mod.to_json(cfg)),
            versions=versions(),
            scheduler=r["scheduler"] or "LocalCluster",
            argv=sys.argv,
        )

        todo, done_infos = [], {}
        for g in range(len(seeds)):
            for name, _ext, _after in stages:
                info = store.finished(g, name)
                if info is None:
                    todo.append((g, name))
                else:
                    done_infos[(g, name)] = info
        n_tasks = len(seeds) * len(stages)
        bar_off = not progress
        bar_glass = tqdm(total=len(seeds), desc="glasses", unit="glass", position=0, disable=bar_off)
        bar_task = tqdm(total=n_tasks, desc="stages ", unit="task", position=1, disable=bar_off)
        bar_pair = tqdm(desc="pairs  ", unit="dwp", position=2, disable=bar_off)
        remaining = {g: len(stages) for g in range(len(seeds))}

        def account(g, info):
            bar_task.update(1)
            bar_pair.update(int(info.get("summary", {}).get("dwps", 0)))
            remaining[g] -= 1
            if remaining[g] == 0:
                bar_glass.update(1)

        for (g, _), info in sorted(done_infos.items()):
            account(g, info)

        futures, handle = {}, {}
        from distributed import as_completed

        for g, s in enumerate(seeds):
            for name, ext, after in stages:
                if (g, name) in done_infos:
                    handle[(g, name)] = done_infos[(g, name)]
                    continue
                deps = [handle[(g, a)] for a in after]
                fut = client.submit(
                    execute_task,
                    str(store.root.resolve()),
                    cfg,
                    cfg["campaign"]["stages_module"],
                    g,
                    s,
                    name,
                    ext,
                    str(base_dir),
                    *deps,
                    key=f"{cfg_hash[:8]}-g{g:04d}-{name}",
                    pure=False,
                    retries=0,
                )
                handle[(g, name)] = fut
                futures[fut] = (g, name)
        stage_seconds: dict[str, float] = {}
        failed = None
        for fut in as_completed(list(futures)):
            g, name = futures[fut]
            try:
                info = fut.result()
            except InputError as exc:
                failed = InputError(f"glass {g}, stage {name}: {exc}")
                store.log("task_failed", glass=g, stage=name, error=str(exc))
                break
            except Exception as exc:  # a crashed stage: log it, stop, keep finished work
                store.log("task_failed", glass=g, stage=name, error=f"{type(exc).__name__}: {exc}")
                failed = exc
                break
            stage_seconds[name] = stage_seconds.get(name, 0.0) + info["seconds"]
            store.log("task", glass=g, stage=name, seconds=info["seconds"], summary=info["summary"])
            account(g, info)
        for b in (bar_glass, bar_task, bar_pair):
            b.close()
        if failed is not None:
            for fut in futures:
                fut.cancel()
            raise failed
    finally:
        client.close()
        if cluster is not None:
            cluster.close()

    summary = finish(cfg, store, mod, stages, len(seeds), finalize=finalize)
    summary.update(
        tasks_run=len(todo),
        tasks_skipped=n_tasks - len(todo),
        stage_seconds=stage_seconds,
        seconds=round(time.perf_counter() - t_start, 2),
    )
    store.log("end", **summary)
    return summary


def finish(cfg: dict, store: CampaignStore, mod, stages, n_glasses: int, finalize: bool = True) -> dict:
    """Merge every task result (fixed order) into the campaign catalogue, then finalize."""
    outputs = []
    for g in range(n_glasses):
        for name, _ext, _after in stages:
            info = store.finished(g, name)
            if info is None:
                raise InputError(f"task glass {g} stage {name} is not finished; run the campaign first")
            outputs.append(store.tasks_dir / f"g{g:04d}" / info["output"])
    t0 = time.perf_counter()
    with atomic_path(store.catalogue_path) as tmp:
        merged = mod.merge(cfg, outputs, tmp) or {}
    store.log("merge", seconds=round(time.perf_counter() - t0, 3), **merged)
    summary = {"merged": merged}
    if finalize and hasattr(mod, "finalize"):
        t0 = time.perf_counter()
        summary["final"] = mod.finalize(cfg, store) or {}
        store.log("finalize", seconds=round(time.perf_counter() - t0, 3), **summary["final"])
    return summary


def status(out: str | Path) -> dict:
    """Which tasks of the campaign in ``out`` are finished (reads markers, runs nothing)."""
    store = CampaignStore(out)
    meta = store.read_meta()
    cfg = config_mod.validate(_unjson(meta["config"]))
    mod = load_stages_module(cfg["campaign"]["stages_module"])
    stages = plan(cfg, mod)
    seeds = config_mod.glass_seeds(cfg)
    table = []
    for g in range(len(seeds)):
        row = {"glass": g, "seed": seeds[g]}
        for name, _e, _a in stages:
            info = store.finished(g, name)
            row[name] = None if info is None else info.get("summary", {})
        table.append(row)
    n_done = sum(1 for row in table for name, _e, _a in stages if row[name] is not None)
    ends = [e for e in store.read_log() if e.get("event") == "end"]
    return {
        "dir": str(store.root),
        "config_hash": meta["hash"],
        "stages": [s[0] for s in stages],
        "tasks_done": n_done,
        "tasks_total": len(seeds) * len(stages),
        "table": table,
        "catalogue": store.catalogue_path.is_file(),
        "last_run": ends[-1] if ends else None,
    }


def report(out: str | Path) -> dict:
    """Rebuild analysis and report of a finished campaign directory from its catalogue.

    The catalogue is merged again from the task results only when it is missing; an
    existing catalogue is read as it is (a truncated or corrupt one is an InputError,
    and nothing is overwritten).
    """
    store = CampaignStore(out)
    meta = store.read_meta()
    cfg = config_mod.validate(_unjson(meta["config"]))
    mod = load_stages_module(cfg["campaign"]["stages_module"])
    if not store.catalogue_path.is_file():
        return finish(cfg, store, mod, plan(cfg, mod), len(config_mod.glass_seeds(cfg)), finalize=True)
    final = mod.finalize(cfg, store) if hasattr(mod, "finalize") else {}
    store.log("finalize", **(final or {}))
    return {"final": final or {}}


def _unjson(obj):
    """Undo config._jsonable (infinite floats were stored as strings)."""
    if isinstance(obj, dict):
        return {k: _unjson(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_unjson(v) for v in obj]
    if obj in ("inf", "-inf"):
        return float(obj)
    return obj
