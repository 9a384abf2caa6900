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
simply redone), and the stages module's ``finalize`` builds analysis and report; the
marker ``final.done.json`` is written last, so a run killed in merge or finalize is not
"done" (``pelsim campaign status`` says which step is missing).

One run owns a directory at a time (an exclusive ``flock`` held from before the claim to
the end); a second run on it stops with one line naming the holder. The campaign's identity
is the hash of its validated config and of the contents of its input files
(``glasses.files``); a resume with another config or a changed input file is refused.
Everything the stages will need is checked before anything is written. A failed task
comes back from its worker as a record, not a Dask exception: the run stops with one line
(input 2, calculation 1, environment 3; the traceback goes to ``log.jsonl``).

A stages module (``campaign.stages_module``, default :mod:`pelsim.campaign.stages`)
provides:

* ``STAGES``: a list of ``(name, ext, after)``: stage name, result file extension,
  names of the stages of the same glass it needs;
* ``enabled_stages(cfg) -> list[str]`` (optional; default all);
* ``PRIORITY``: {stage name: int} (optional; default 0): Dask runs ready tasks of a higher
  priority first (results do not depend on the order: every task has its own seed);
* ``check_inputs(cfg, base_dir)`` (optional): validate everything the stages will need
  (input files, sizes) before anything runs or is written;
* ``stage_<name>(ctx: TaskContext) -> dict``: do the work, write ``ctx.output``,
  return a small JSON summary (``{"dwps": 3, ...}``; ``dwps`` feeds the progress bar);
* ``merge(cfg, outputs: list[Path], out: Path) -> dict``: merge the task results;
* ``finalize(cfg, store) -> dict`` (optional): analysis and report.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
import socket
import struct
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pelsim.campaign import config as config_mod
from pelsim.campaign.store import CampaignStore, atomic_path, sha256_file, versions
from pelsim.errors import (
    CalculationError,
    EnvironmentFailure,
    InputError,
    ToolkitError,
    environment_failure,
)

#: seconds a scheduler address gets to connect and send its Dask handshake
HANDSHAKE_SECONDS = 5.0


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


def input_path(name: str, base_dir: str | Path) -> Path:
    """An input file named in the config (relative to the campaign file's directory)."""
    return Path(name) if Path(name).is_absolute() else Path(base_dir) / name


def input_digests(cfg: dict, base_dir: str | Path) -> dict[str, str]:
    """sha256 of each input file (``glasses.files``), keyed by its name in the config."""
    out = {}
    for name in cfg["glasses"]["files"]:
        path = input_path(name, base_dir)
        try:
            out[name] = sha256_file(path)
        except FileNotFoundError:
            raise InputError(f"config key 'glasses.files': input file not found: {path}") from None
        except OSError as exc:
            raise environment_failure(exc, "reading an input file") from None
    return out


def campaign_hash(cfg: dict, inputs: dict[str, str]) -> str:
    """The campaign's identity: its config hash, and the input files' contents when there are any.

    Without input files it is :func:`config.config_hash` (directories made before input files
    were hashed keep their identity).
    """
    if not inputs:
        return config_mod.config_hash(cfg)
    text = config_mod.canonical_json(cfg) + json.dumps(inputs, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _failure(exc: BaseException) -> dict:
    """A failed task as a record the runner turns into one line (and its traceback for the log)."""
    import traceback

    if isinstance(exc, ToolkitError):
        kind, message = {2: "input", 3: "environment"}.get(exc.exit_code, "calculation"), str(exc)
    elif isinstance(exc, OSError):
        kind, message = "environment", str(environment_failure(exc))
    elif isinstance(exc, MemoryError):
        kind, message = "environment", f"out of memory ({exc})"
    else:
        kind, message = "calculation", f"{type(exc).__name__}: {exc}"
    return {"failed": kind, "error": message, "traceback": traceback.format_exc()}


def execute_task(
    root: str,
    cfg: dict,
    stages_module: str,
    glass: int,
    glass_seed: int,
    stage: str,
    ext: str,
    base_dir: str,
    input_check: tuple | None,
    *dep_infos,
) -> dict:
    """Run one (glass, stage) task on a worker; idempotent (returns the marker if done).

    ``input_check``: (path, sha256) of the glass's input file, verified before the task runs
    (given to the stages that read it). A failure is returned as ``{"failed": kind, "error",
    "traceback"}``, never raised: the runner stops with one line and Dask prints nothing.
    """
    for d in dep_infos:
        if d.get("failed"):
            return {"failed": "dependency", "error": f"stage {d.get('stage', '?')} failed"}
    try:
        return _execute_task(
            root, cfg, stages_module, glass, glass_seed, stage, ext, base_dir, input_check, dep_infos
        )
    except Exception as exc:  # every failure comes back as a record (see the docstring)
        return _failure(exc)


def _execute_task(root, cfg, stages_module, glass, glass_seed, stage, ext, base_dir, input_check, dep_infos):
    # jax's dtype-promotion FutureWarnings from inside the engine would flood the progress bars
    warnings.filterwarnings("ignore", category=FutureWarning, module="jax")
    store = CampaignStore(root)
    info = store.finished(glass, stage)
    if info is not None:
        return info
    if input_check is not None:
        path, want = input_check
        if not Path(path).is_file() or sha256_file(path) != want:
            raise InputError(
                f"input file {path} changed (or vanished) since the campaign started; restore it "
                "or use a new --out directory"
            )
    mod = importlib.import_module(stages_module)
    fn = getattr(mod, f"stage_{stage}")
    inputs = {d["stage"]: store.tasks_dir / f"g{glass:04d}" / d["output"] for d in dep_infos}
    final = store.task_output(glass, stage, ext)
    t0 = time.perf_counter()
    reset_peak_rss()
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
            raise CalculationError(f"stage {stage} of glass {glass} wrote no result")
    info = store.commit_task(glass, stage, final, time.perf_counter() - t0, summary)
    return dict(info, memory=task_memory())


def _rss_kb(field: str) -> int | None:
    """VmRSS / VmHWM of this process in kB (Linux /proc), None elsewhere."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def reset_peak_rss() -> bool:
    """Reset this process's peak RSS (VmHWM) so that the next :func:`task_memory` gives the peak
    of one task, not of the worker's life (Linux: ``5`` written to /proc/self/clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def trim_heap() -> bool:
    """Give the C heap's free pages back to the system (glibc ``malloc_trim``). XLA's buffers and
    compilations are malloc'd and freed heap stays with the process otherwise (KA N = 270
    quickstart, 2026-12-07: workers at 1.0-1.2 GB after a search task, 0.8-0.9 GB once trimmed)."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        return bool(ctypes.CDLL(name).malloc_trim(0))
    except (OSError, AttributeError):
        return False


def task_memory() -> dict:
    """{"peak_rss_mb", "rss_mb", "rss_after_trim_mb"} of the task that just ran in this process
    (None where /proc is not there): written to log.jsonl's task events. Frees as it measures:
    ``gc.collect`` and :func:`trim_heap` run before the last figure, so the next task starts lean."""
    mb = lambda kb: None if kb is None else round(kb / 1024, 1)
    out = {"peak_rss_mb": mb(_rss_kb("VmHWM")), "rss_mb": mb(_rss_kb("VmRSS"))}
    import gc

    gc.collect()
    trim_heap()
    out["rss_after_trim_mb"] = mb(_rss_kb("VmRSS"))
    return out


def probe_scheduler(address: str, timeout: float = HANDSHAKE_SECONDS) -> None:
    """Refuse (InputError) an address where no Dask scheduler answers within ``timeout`` seconds.

    A Dask TCP listener sends its handshake as soon as it accepts a connection: an 8-byte frame
    length, then the frames. distributed's client reads that handshake with no time limit and
    trusts the length it reads, so an HTTP server makes it hang (it waits for a request) or try
    to allocate exabytes (a 400 reply read as a length). The runner reads the first 8 bytes
    itself, with a deadline. Only plain TCP addresses can be checked this way (TLS, UCX: not).
    """
    from distributed.comm.addressing import parse_address, parse_host_port

    try:
        scheme, loc = parse_address(address)
        if scheme != "tcp":
            return
        host, port = parse_host_port(loc)
    except (ValueError, TypeError) as exc:
        raise InputError(f"bad scheduler address {address!r}: {exc}") from None
    deadline = time.monotonic() + timeout
    head = b""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            while len(head) < 8:
                sock.settimeout(max(deadline - time.monotonic(), 1e-3))
                chunk = sock.recv(8 - len(head))
                if not chunk:
                    break
                head += chunk
    except TimeoutError:
        if not head:
            raise InputError(
                f"no Dask scheduler at {address}: it sent no Dask handshake within {timeout:g} s"
            ) from None
    except OSError as exc:
        raise InputError(
            f"cannot reach the Dask scheduler at {address} ({exc.strerror or type(exc).__name__})"
        ) from None
    n = struct.unpack("Q", head)[0] if len(head) == 8 else 0
    if not 0 < n <= 1 << 20:  # a handshake is a few hundred bytes
        raise InputError(f"no Dask scheduler at {address}: it answered {head!r}, not a Dask handshake")


# No memory limit on local workers, so no pausing, spilling or restarts by Dask. The tasks hold no
# Dask data (their results are files), so spilling frees nothing; and a worker over Dask's pause
# threshold (80 % of its share of RAM) stops taking tasks and, with the logs silenced, the
# campaign waits for ever: seen 2026-12-07, quickstart, one worker at 9.6 GB of a 12 GB share,
# 17 of 18 tasks done, both workers idle. Each task's peak RSS is in log.jsonl instead
# (task_memory). A MemoryError in a task is an environment failure; a worker the kernel kills
# fails its task with one error line (_run_tasks).
WORKER_MEMORY = 0


def connect(scheduler: str, workers: int, threads: int, processes: bool):
    """A dask.distributed Client: attached to ``scheduler`` or on a new LocalCluster."""
    from distributed import Client, LocalCluster

    if scheduler:
        if "://" not in scheduler and ":" not in scheduler:
            raise InputError(f"scheduler address {scheduler!r} is not of the form tcp://HOST:PORT")
        probe_scheduler(scheduler)
        try:
            return Client(scheduler, timeout=f"{HANDSHAKE_SECONDS:g}s"), None
        except (OSError, TimeoutError) as exc:
            raise InputError(
                f"cannot reach the Dask scheduler at {scheduler} ({type(exc).__name__})"
            ) from None
        except ValueError as exc:
            raise InputError(f"bad scheduler address {scheduler!r}: {exc}") from None
        except MemoryError:  # a length that is not one (see probe_scheduler)
            raise InputError(f"no Dask scheduler at {scheduler}: its handshake is not Dask's") from None
    with warnings.catch_warnings():  # the scheduler's HTTP port is moved when 8787 is taken: no news
        warnings.filterwarnings("ignore", message="Port .* is already in use", category=UserWarning)
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=threads,
            processes=processes,
            dashboard_address=None,
            silence_logs=logging.ERROR,
            memory_limit=WORKER_MEMORY,
        )
    client = Client(cluster)
    if processes:
        pin_workers(client, threads)
    return client, cluster


def _set_affinity(cores) -> list:
    from pelsim.device import xla_flags_for_cores

    os.sched_setaffinity(0, set(cores))
    xla_flags_for_cores()  # one core: no YNN fusions (their first executions: 5 GB, 4x slower)
    return sorted(os.sched_getaffinity(0))


def pin_workers(client, threads: int) -> dict:
    """Pin each local worker process to its own ``threads`` CPU cores (Linux), when the workers fit
    on the cores this process may use; else leave them free. Returns {worker address: cores}.

    Why: XLA's CPU thread pool is sized by the cores a process sees, so unpinned workers each run
    threads on every core and contend. Measured 2026-12-03 (KA N = 270, 100 quenches, two
    processes at once on the 2-core machine): 22-27 s unpinned, 13-15 s pinned one core each, the
    same as one process alone on one core."""
    if not hasattr(os, "sched_setaffinity"):
        return {}
    cores = sorted(os.sched_getaffinity(0))
    workers = sorted(client.scheduler_info()["workers"])
    if not workers or len(workers) * threads > len(cores):
        return {}
    out = {}
    for k, addr in enumerate(workers):
        mine = cores[k * threads : (k + 1) * threads]
        out[addr] = client.run(_set_affinity, mine, workers=[addr])[addr]
    return out


def run(
    config_path: str | Path,
    out: str | Path,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: bool = True,
    finalize: bool = True,
) -> dict:
    """Run (or resume) the campaign defined in ``config_path`` into directory ``out``.

    Returns a summary dict (tasks run and skipped, DWPs, timings). Bad input raises
    InputError before anything is written; a directory held by another run, too. A full or
    read-only file system raises EnvironmentFailure, a failed task the error of its kind.
    """
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
    inputs = input_digests(cfg, base_dir)
    cfg_json = config_mod.canonical_json(cfg)
    cfg_hash = campaign_hash(cfg, inputs)
    toml_text = config_path.read_text()

    store = CampaignStore(out)
    r = cfg["runner"]
    if r["scheduler"] and ("://" not in r["scheduler"] and ":" not in r["scheduler"]):
        raise InputError(f"scheduler address {r['scheduler']!r} is not of the form tcp://HOST:PORT")
    # read-only checks first: another campaign, or a live run, is refused before a cluster starts
    store.check_target(toml_text)
    store.verify(cfg_hash, cfg_json, inputs)
    store.check_free()
    client, cluster = connect(r["scheduler"], r["workers"], r["threads_per_worker"], r["processes"])
    try:
        store.lock()  # held until the end: no other run claims, cleans or writes here meanwhile
        try:
            resumed = store.claim(cfg_json, cfg_hash, toml_text, inputs)
            summary = _run_tasks(
                cfg, store, mod, stages, seeds, inputs, base_dir, cfg_hash, client, progress, resumed
            )
        except OSError as exc:
            raise environment_failure(exc, f"campaign {store.root}") from None
    except BaseException:
        store.unlock()
        raise
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    try:
        summary.update(finish(cfg, store, mod, stages, len(seeds), finalize=finalize))
        summary["seconds"] = round(time.perf_counter() - t_start, 2)
        store.log("end", **summary)
    except OSError as exc:
        raise environment_failure(exc, f"campaign {store.root}") from None
    finally:
        store.unlock()
    return summary


def _run_tasks(cfg, store, mod, stages, seeds, inputs, base_dir, cfg_hash, client, progress, resumed) -> dict:
    """Submit the unfinished tasks, follow them to the end; stop at the first failure."""
    from distributed import as_completed
    from tqdm.auto import tqdm

    r = cfg["runner"]
    store.log(
        "start",
        resumed=resumed,
        config_hash=cfg_hash,
        config=json.loads(config_mod.to_json(cfg)),
        inputs=inputs,
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

    files = cfg["glasses"]["files"]
    priority = dict(mod.PRIORITY) if hasattr(mod, "PRIORITY") else {}
    futures, handle = {}, {}
    for g, s in enumerate(seeds):
        check = (str(input_path(files[g], base_dir)), inputs[files[g]]) if files else None
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
                None if after else check,  # the stages that start a glass read its input file
                *deps,
                key=f"{cfg_hash[:8]}-g{g:04d}-{name}",
                pure=False,
                retries=0,
                priority=priority.get(name, 0),
            )
            handle[(g, name)] = fut
            futures[fut] = (g, name)
    stage_seconds: dict[str, float] = {}
    failed = None
    try:
        for fut in as_completed(list(futures)):
            g, name = futures[fut]
            try:
                info = fut.result()
            except Exception as exc:  # the worker died or was lost: the task did not report
                info = _failure(exc)
            if info.get("failed"):
                failed = _task_error(store, g, name, info)
                break
            stage_seconds[name] = stage_seconds.get(name, 0.0) + info["seconds"]
            store.log(
                "task",
                glass=g,
                stage=name,
                seconds=info["seconds"],
                summary=info["summary"],
                memory=info.get("memory"),
            )
            account(g, info)
    finally:
        for b in (bar_glass, bar_task, bar_pair):
            b.close()
    if failed is not None:
        for fut in futures:
            fut.cancel()
        raise failed
    return {"tasks_run": len(todo), "tasks_skipped": n_tasks - len(todo), "stage_seconds": stage_seconds}


def _task_error(store: CampaignStore, glass: int, stage: str, info: dict) -> ToolkitError:
    """The one-line error of a failed task; its traceback goes to the campaign log."""
    message = " ".join(str(info.get("error", "")).split())  # one line
    try:
        store.log("task_failed", glass=glass, stage=stage, error=message, traceback=info.get("traceback"))
        where = f" (traceback in {store.log_path})" if info.get("traceback") else ""
    except OSError:  # a full disk: the line below is all there is
        where = ""
    kind = info["failed"]
    if kind == "input":
        return InputError(f"glass {glass}, stage {stage}: {message}")
    if kind == "environment":
        return EnvironmentFailure(f"glass {glass}, stage {stage}: {message}")
    return CalculationError(f"glass {glass}, stage {stage} failed: {message}{where}")


def finish(cfg: dict, store: CampaignStore, mod, stages, n_glasses: int, finalize: bool = True) -> dict:
    """Merge every task result (fixed order) into the campaign catalogue, then finalize.

    The final marker is removed first and written last: a run killed anywhere in here
    leaves a campaign that ``status`` shows as not finished and the next run completes.
    """
    outputs = []
    for g in range(n_glasses):
        for name, _ext, _after in stages:
            info = store.finished(g, name)
            if info is None:
                raise InputError(f"task glass {g} stage {name} is not finished; run the campaign first")
            outputs.append(store.tasks_dir / f"g{g:04d}" / info["output"])
    store.clear_final()
    t0 = time.perf_counter()
    with atomic_path(store.catalogue_path) as tmp:
        merged = mod.merge(cfg, outputs, tmp) or {}
    store.log("merge", seconds=round(time.perf_counter() - t0, 3), **merged)
    summary = {"merged": merged}
    done = not hasattr(mod, "finalize")
    if finalize and not done:
        summary["final"] = _finalize(cfg, store, mod)
        done = True
    store.commit_final(done, summary)
    return summary


def _finalize(cfg: dict, store: CampaignStore, mod) -> dict:
    t0 = time.perf_counter()
    final = mod.finalize(cfg, store) or {}
    store.log("finalize", seconds=round(time.perf_counter() - t0, 3), **final)
    return final


def _load_campaign(out: str | Path):
    """(store, meta, validated cfg, stages module) of an existing campaign directory."""
    store = CampaignStore(out)
    store.check_target()
    holder = store.holder()
    if holder is not None and not (store.root / "campaign.json").exists():
        raise InputError(f"{store.root}: a run ({holder}) is claiming the directory; try again")
    meta = store.read_meta()
    try:
        cfg = config_mod.validate(_unjson(meta["config"]))
    except InputError as exc:
        raise InputError(f"{store.root / 'campaign.json'}: {exc}") from None
    return store, meta, cfg, load_stages_module(cfg["campaign"]["stages_module"])


def status(out: str | Path) -> dict:
    """Which tasks of the campaign in ``out`` are finished, and its state (reads only).

    ``state``: "running" (another process holds the lock), "incomplete" (tasks pending),
    "not merged", "not finalized" (killed in merge or finalize, or finalize not run), "done".
    """
    store, meta, cfg, mod = _load_campaign(out)
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
    n_total = len(seeds) * len(stages)
    ends = [e for e in store.read_log() if e.get("event") == "end"]
    final = store.final_state()
    holder = store.holder()
    if holder is not None:
        state, line = "running", f"running ({holder})"
    elif n_done < n_total:
        state = "incomplete"
        line = f"incomplete: {n_total - n_done} tasks pending; `pelsim campaign run` resumes"
    elif final is None and not store.catalogue_path.is_file():
        state, line = "not merged", "tasks done, not merged; `pelsim campaign run` merges and finalizes"
    elif final is None or not final["finalized"]:
        state = "not finalized"
        line = "merged, analysis/report not finished; `pelsim campaign report` builds them"
    else:
        state, line = "done", "done"
    return {
        "dir": str(store.root),
        "config_hash": meta["hash"],
        "state": state,
        "state_line": line,
        "stages": [s[0] for s in stages],
        "tasks_done": n_done,
        "tasks_total": n_total,
        "table": table,
        "catalogue": store.catalogue_path.is_file(),
        "final": final,
        "last_run": ends[-1] if ends else None,
    }


def report(out: str | Path) -> dict:
    """Rebuild analysis and report of a finished campaign directory from its catalogue.

    The catalogue is merged again from the task results only when it is missing; an
    existing catalogue is read as it is (a truncated or corrupt one is an InputError,
    and nothing is overwritten). Takes the directory's lock like a run.
    """
    store, _meta, cfg, mod = _load_campaign(out)
    store.lock()
    try:
        if not store.catalogue_path.is_file():
            return finish(cfg, store, mod, plan(cfg, mod), len(config_mod.glass_seeds(cfg)), finalize=True)
        final = _finalize(cfg, store, mod) if hasattr(mod, "finalize") else {}
        store.commit_final(True, {"final": final})
        return {"final": final}
    except OSError as exc:
        raise environment_failure(exc, f"campaign {store.root}") from None
    finally:
        store.unlock()


def _unjson(obj):
    """Undo config._jsonable (infinite floats were stored as strings)."""
    if isinstance(obj, dict):
        return {k: _unjson(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_unjson(v) for v in obj]
    if obj in ("inf", "-inf"):
        return float(obj)
    return obj
