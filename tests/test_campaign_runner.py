"""The campaign runner with deterministic stand-in stages (no physics, fast).

The stand-in stages below are also the stages module of the kill-and-resume test
(imported by the runner's workers as ``test_campaign_runner`` with tests/ on PYTHONPATH).
They produce a fake 'catalogue' whose content is a pure function of the seeds, so
any lost, duplicated or reordered task shows up as a difference. ``FAKE_STAGE_FAIL =
"GLASS:STAGE:KIND"`` makes one task fail (KIND: enospc, runtime, input).
"""

from __future__ import annotations

import errno
import json
import os
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from pelsim.errors import InputError

# ---------------------------------------------------------------- stand-in stages
STAGES = [("prepare", "npz", ()), ("is_pairs", "npz", ("prepare",)), ("intra_basin", "npz", ("prepare",))]
SLEEP = float(os.environ.get("FAKE_STAGE_SLEEP", "0.0"))


def enabled_stages(cfg):
    return ["prepare"] + [s for s in ("is_pairs", "intra_basin") if cfg["search"][s]["enabled"]]


def _maybe_fail(ctx):
    spec = os.environ.get("FAKE_STAGE_FAIL", "")
    if not spec:
        return
    glass, stage, kind = spec.split(":")
    if int(glass) != ctx.glass or stage != ctx.stage:
        return
    if kind == "enospc":
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(ctx.output))
    if kind == "input":
        raise InputError("stand-in stage refuses its input")
    raise RuntimeError("stand-in stage crashed\nsecond line")


def stage_prepare(ctx):
    _maybe_fail(ctx)
    rng = np.random.default_rng(ctx.stage_seed)
    time.sleep(SLEEP)
    np.savez(ctx.output, positions=rng.random((ctx.cfg["model"]["N"], 3)))  # the temp name keeps .npz
    return {}


def _fake_search(ctx, k):
    _maybe_fail(ctx)
    pos = np.load(ctx.inputs["prepare"])["positions"]
    rng = np.random.default_rng(ctx.stage_seed)
    time.sleep(SLEEP)
    n = 1 + int(rng.integers(k))
    barrier = np.sort(rng.random(n)) * pos.mean()
    np.savez(ctx.output, barrier=barrier, glass=np.full(n, ctx.glass))
    return {"dwps": n}


def stage_is_pairs(ctx):
    return _fake_search(ctx, 4)


def stage_intra_basin(ctx):
    return _fake_search(ctx, 3)


def merge(cfg, outputs, out):
    rows = []
    for p in outputs:
        if p.name.startswith("prepare"):
            continue
        d = np.load(p)
        for b, g in zip(d["barrier"], d["glass"], strict=True):
            rows.append((int(g), p.stem, float(b)))
    with h5py.File(out, "w") as f:
        f["glass"] = np.array([r[0] for r in rows], dtype=np.int64)
        f["method"] = np.array([r[1] for r in rows], dtype="S16")
        f["barrier"] = np.array([r[2] for r in rows])
    return {"dwps": len(rows)}


def finalize(cfg, store):
    from pelsim.campaign.store import atomic_write_text

    rows = read_cat(store.catalogue_path)
    atomic_write_text(store.report_dir / "report.md", f"{len(rows['barrier'])} DWPs\n")
    return {"report": str(store.report_dir / "report.md")}


# ---------------------------------------------------------------- helpers
FAKE_TOML = """
[campaign]
name = "fake"
stages_module = "test_campaign_runner"
[model]
N = 8
[glasses]
count = {count}
seed = {seed}
[runner]
workers = 2
processes = {processes}
"""


def write_cfg(tmp_path: Path, count=3, seed=7, processes="false", name="fake.toml") -> Path:
    p = tmp_path / name
    p.write_text(FAKE_TOML.format(count=count, seed=seed, processes=processes))
    return p


def read_cat(path: Path) -> dict:
    with h5py.File(path, "r") as f:
        return {k: f[k][()] for k in f}


# ---------------------------------------------------------------- tests
def test_run_resume_and_determinism(tmp_path):
    from pelsim.campaign import runner

    cfg = write_cfg(tmp_path)
    s1 = runner.run(cfg, tmp_path / "a", progress=False)
    assert s1["tasks_run"] == 9 and s1["tasks_skipped"] == 0
    cat_a = read_cat(tmp_path / "a" / "catalogue.h5")
    assert s1["merged"]["dwps"] == len(cat_a["barrier"]) > 0
    # every glass contributes, in (glass, stage) order
    assert np.all(np.diff(cat_a["glass"]) >= 0) and set(cat_a["glass"]) == {0, 1, 2}
    # a second run of the same directory runs nothing and reproduces the catalogue
    s2 = runner.run(cfg, tmp_path / "a", progress=False)
    assert s2["tasks_run"] == 0 and s2["tasks_skipped"] == 9
    cat_a2 = read_cat(tmp_path / "a" / "catalogue.h5")
    for k in cat_a:
        np.testing.assert_array_equal(cat_a[k], cat_a2[k])
    # an independent directory with the same seeds gives the same catalogue ...
    runner.run(cfg, tmp_path / "b", progress=False)
    cat_b = read_cat(tmp_path / "b" / "catalogue.h5")
    for k in cat_a:
        np.testing.assert_array_equal(cat_a[k], cat_b[k])
    # ... and other seeds a different one
    cfg2 = write_cfg(tmp_path, seed=8, name="fake2.toml")
    runner.run(cfg2, tmp_path / "c", progress=False)
    cat_c = read_cat(tmp_path / "c" / "catalogue.h5")
    assert len(cat_c["barrier"]) != len(cat_a["barrier"]) or not np.allclose(
        cat_c["barrier"], cat_a["barrier"]
    )


def test_resume_redoes_only_missing_or_corrupt_tasks(tmp_path):
    from pelsim.campaign import runner
    from pelsim.campaign.store import CampaignStore

    cfg = write_cfg(tmp_path)
    out = tmp_path / "run"
    runner.run(cfg, out, progress=False)
    ref = read_cat(out / "catalogue.h5")
    st = CampaignStore(out)
    st.marker(1, "is_pairs").unlink()  # as if killed between result and marker
    st.task_output(2, "intra_basin", "npz").write_bytes(b"torn")  # a result that does not match its marker
    (out / "tasks" / "g0000" / "prepare.tmp-deadbeef.npz").write_bytes(b"x")  # leftover temporary
    s = runner.run(cfg, out, progress=False)
    assert s["tasks_run"] == 2
    assert not list(out.rglob("*.tmp-*"))
    new = read_cat(out / "catalogue.h5")
    for k in ref:
        np.testing.assert_array_equal(ref[k], new[k])
    st_json = runner.status(out)
    assert st_json["tasks_done"] == st_json["tasks_total"] == 9
    log = st.read_log()
    starts = [e for e in log if e["event"] == "start"]
    assert len(starts) == 2 and starts[1]["resumed"] and starts[0]["config_hash"] == starts[1]["config_hash"]
    assert starts[0]["versions"]["jax"] and starts[0]["config"]["glasses"]["count"] == 3
    assert sum(e["event"] == "task" for e in log) == 9 + 2


def test_other_config_in_same_directory_is_refused(tmp_path):
    from pelsim.campaign import runner

    out = tmp_path / "run"
    runner.run(write_cfg(tmp_path), out, progress=False)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    with pytest.raises(InputError, match="different campaign"):
        runner.run(write_cfg(tmp_path, seed=99, name="other.toml"), out, progress=False)
    after = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert before == after
    # runner-only keys do not change the campaign's identity
    runner.run(write_cfg(tmp_path, name="same.toml"), out, workers=1, progress=False)


def test_stage_seeds_are_order_independent():
    from pelsim.campaign.runner import stage_seed

    assert stage_seed(3, "is_pairs") == stage_seed(3, "is_pairs")
    seeds = {stage_seed(g, s) for g in range(50) for s in ("prepare", "is_pairs", "intra_basin")}
    assert len(seeds) == 150


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    from pelsim.campaign.store import atomic_path, atomic_write_text

    target = tmp_path / "x.json"
    atomic_write_text(target, json.dumps({"a": 1}))
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert json.loads(target.read_text()) == {"a": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json"]


# ---------------------------------------------------------------- the lock, the claim, identity
def test_lock_is_exclusive_and_guards_cleaning(tmp_path):
    from pelsim.campaign.store import CampaignStore

    a, b = CampaignStore(tmp_path / "c"), CampaignStore(tmp_path / "c")
    with pytest.raises(RuntimeError, match="lock"):
        a.clean_temporaries()  # never without the lock: a live run's temporaries would go
    a.lock()
    assert b.holder() == f"pid {os.getpid()} on {os.uname().nodename}"
    with pytest.raises(InputError, match=f"in use by another run \\(pid {os.getpid()} on"):
        b.lock()
    with pytest.raises(InputError, match=f"pid {os.getpid()}"):
        b.check_free()
    a.unlock()
    assert b.holder() is None
    b.lock()  # free again
    b.unlock()


def test_first_claim_killed_between_its_writes_is_resumable(tmp_path):
    """What each kill point of the first claim leaves is claimed (or resumed) by the next run."""
    from pelsim.campaign.store import TMP_TAG, CampaignStore

    cfg = write_cfg(tmp_path)
    toml = cfg.read_text()
    # killed before campaign.json was in place: the lock file and a temporary only
    d1 = tmp_path / "k1"
    d1.mkdir()
    (d1 / "campaign.lock").write_text("pid 1 on gone\n")
    (d1 / f"campaign{TMP_TAG}0123456789ab.json").write_text('{"hash": "half')
    # killed between campaign.json and campaign.toml: a later run restores campaign.toml
    d2 = tmp_path / "k2"
    from pelsim.campaign import runner

    runner.run(cfg, d2, progress=False)
    (d2 / "campaign.toml").unlink()
    # an older pelsim wrote campaign.toml first and was killed before campaign.json
    d3 = tmp_path / "k3"
    d3.mkdir()
    (d3 / "campaign.toml").write_text(toml)
    ref = read_cat(d2 / "catalogue.h5")
    for d in (d1, d2, d3):
        s = runner.run(cfg, d, progress=False)
        assert s["tasks_run"] == (0 if d is d2 else 9)
        got = read_cat(d / "catalogue.h5")
        for k in ref:
            np.testing.assert_array_equal(got[k], ref[k])
        assert (d / "campaign.toml").read_text() == toml and not list(d.rglob(f"*{TMP_TAG}*"))
    # ... but a campaign.toml of another campaign is not taken over
    d4 = tmp_path / "k4"
    d4.mkdir()
    (d4 / "campaign.toml").write_text(toml + "\n# edited\n")
    with pytest.raises(InputError, match="not a campaign directory"):
        runner.run(cfg, d4, progress=False)
    assert sorted(p.name for p in d4.iterdir()) == ["campaign.toml"]
    assert CampaignStore(d4).holder() is None


FILES_TOML = """
[campaign]
name = "fake with inputs"
stages_module = "test_campaign_runner"
[model]
N = 8
[glasses]
count = 2
files = ["g0.xyz", "g1.xyz"]
[runner]
processes = false
"""


def test_input_file_contents_are_part_of_the_identity(tmp_path):
    from pelsim.campaign import runner
    from pelsim.campaign.store import CampaignStore

    cfg = tmp_path / "files.toml"
    cfg.write_text(FILES_TOML)
    for i in range(2):
        (tmp_path / f"g{i}.xyz").write_text(f"glass {i}\n")
    out = tmp_path / "run"
    assert runner.run(cfg, out, progress=False)["tasks_run"] == 6
    meta = CampaignStore(out).read_meta()
    assert set(meta["inputs"]) == {"g0.xyz", "g1.xyz"}
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file() and p.name != "campaign.lock"}
    (tmp_path / "g1.xyz").write_text("glass 1, overwritten\n")
    with pytest.raises(InputError, match="input file g1.xyz changed since the campaign"):
        runner.run(cfg, out, progress=False)
    after = {p: p.read_bytes() for p in out.rglob("*") if p.is_file() and p.name != "campaign.lock"}
    assert before == after
    (tmp_path / "g1.xyz").write_text("glass 1\n")  # restored: resumes, nothing to redo
    assert runner.run(cfg, out, progress=False)["tasks_run"] == 0
    # a task to (re)do verifies its glass's input on the worker too (the file may change mid-run)
    CampaignStore(out).marker(1, "prepare").unlink()
    info = runner.execute_task(
        str(out), {}, "test_campaign_runner", 1, 1, "prepare", "npz", str(tmp_path),
        (str(tmp_path / "g1.xyz"), "0" * 64),
    )  # fmt: skip
    assert info["failed"] == "input" and "g1.xyz changed" in info["error"]


# ---------------------------------------------------------------- failures: one line, its kind
@pytest.mark.parametrize(
    "kind, error, words",
    [
        ("enospc", "EnvironmentFailure", ["glass 1, stage is_pairs", "No space left on device", "is_pairs"]),
        ("runtime", "CalculationError", ["glass 1, stage is_pairs failed: RuntimeError", "traceback in"]),
        ("input", "InputError", ["glass 1, stage is_pairs: stand-in stage refuses"]),
    ],
)
def test_failed_task_is_one_error_of_its_kind(tmp_path, monkeypatch, kind, error, words):
    import pelsim.errors as errors
    from pelsim.campaign import runner
    from pelsim.campaign.store import CampaignStore

    monkeypatch.setenv("FAKE_STAGE_FAIL", f"1:is_pairs:{kind}")
    out = tmp_path / "run"
    with pytest.raises(getattr(errors, error)) as ei:
        runner.run(write_cfg(tmp_path), out, progress=False)
    msg = str(ei.value)
    assert "\n" not in msg and all(w in msg for w in words), msg
    failed = [e for e in CampaignStore(out).read_log() if e["event"] == "task_failed"]
    assert len(failed) == 1 and "Traceback" in failed[0]["traceback"]
    st = runner.status(out)
    assert st["state"] == "incomplete" and st["table"][1]["is_pairs"] is None
    monkeypatch.delenv("FAKE_STAGE_FAIL")
    assert runner.run(write_cfg(tmp_path), out, progress=False)["tasks_run"] >= 1


def test_full_disk_while_writing_is_an_environment_failure(tmp_path, monkeypatch):
    """fsync answering ENOSPC (what a full disk does to a write): one EnvironmentFailure line."""
    from pelsim.campaign import runner
    from pelsim.errors import EnvironmentFailure

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(EnvironmentFailure, match="No space left on device") as ei:
        runner.run(write_cfg(tmp_path), tmp_path / "run", progress=False)
    assert "\n" not in str(ei.value) and "run/campaign.json" in str(ei.value)  # the file is named


def test_status_shows_the_finalize_state(tmp_path, monkeypatch):
    from pelsim.campaign import runner
    from pelsim.campaign.store import CampaignStore

    out = tmp_path / "run"
    runner.run(write_cfg(tmp_path), out, progress=False, finalize=False)
    st = runner.status(out)
    assert st["tasks_done"] == st["tasks_total"] and st["catalogue"]
    assert st["state"] == "not finalized"
    runner.report(out)
    assert runner.status(out)["state"] == "done"
    # a merge or finalize that did not end (killed) leaves no valid final marker
    store = CampaignStore(out)
    store.clear_final()
    assert runner.status(out)["state"] == "not finalized"
    store.catalogue_path.unlink()
    assert runner.status(out)["state"] == "not merged"
    runner.run(write_cfg(tmp_path), out, progress=False)
    assert runner.status(out)["state"] == "done"
    # a marker written for another catalogue does not count
    store.catalogue_path.write_bytes(store.catalogue_path.read_bytes() + b"\0")
    assert runner.status(out)["state"] == "not finalized"
    # a run in progress (the lock held) shows as running
    store.lock()
    try:
        st = runner.status(out)
        assert st["state"] == "running" and f"pid {os.getpid()}" in st["state_line"]
    finally:
        store.unlock()


def test_real_scheduler_passes_the_handshake_probe(tmp_path):
    """An existing Dask scheduler by address: the runner's handshake check accepts it."""
    from distributed import LocalCluster

    from pelsim.campaign import runner

    with LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, protocol="tcp://", host="127.0.0.1",
        dashboard_address=None,
    ) as c:  # fmt: skip
        assert c.scheduler_address.startswith("tcp://127.0.0.1:")
        runner.probe_scheduler(c.scheduler_address)
        s = runner.run(write_cfg(tmp_path), tmp_path / "run", scheduler=c.scheduler_address, progress=False)
    assert s["tasks_run"] == 9


def test_local_workers_are_pinned_to_their_own_cores():
    """pin_workers: each local worker process on its own core (XLA sizes its thread pool by the
    cores it sees; unpinned workers contend, docs/campaigns.md), none when they do not fit."""
    if not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs Linux CPU affinity and 2 cores")
    from pelsim.campaign.runner import connect, pin_workers

    client, cluster = connect("", 2, 1, True)
    try:
        aff = client.run(lambda: sorted(os.sched_getaffinity(0)))
        assert all(len(a) == 1 for a in aff.values())
        assert len({a[0] for a in aff.values()}) == 2
        # one core each: the workers' XLA runs without YNN fusions (pelsim.device.xla_flags_for_cores)
        from pelsim.device import ynn_flag_known

        if ynn_flag_known():
            flags = client.run(lambda: os.environ.get("XLA_FLAGS", ""))
            assert all("xla_cpu_experimental_ynn_fusion_type=" in f for f in flags.values()), flags
        assert pin_workers(client, len(os.sched_getaffinity(0))) == {}  # 2 x all cores: no fit
    finally:
        client.close()
        cluster.close()


def test_local_workers_are_never_paused_for_memory():
    """A local worker has no Dask memory limit: Dask's pause at 80 % of a worker's share of RAM
    left the quickstart waiting for ever on a silent, paused worker (2026-12-07, runner.py)."""
    from pelsim.campaign.runner import connect

    client, cluster = connect("", 1, 1, True)
    try:
        info = client.scheduler_info()["workers"]
        assert len(info) == 1
        assert all(not w.get("memory_limit") for w in info.values())
    finally:
        client.close()
        cluster.close()


def test_task_memory_is_logged_and_peak_is_per_task(tmp_path):
    """Each task event of log.jsonl carries its own peak RSS: a task that allocates 300 MB shows
    it, and the reset before the next task brings the peak back down (Linux /proc only)."""
    from pelsim.campaign import runner

    if runner._rss_kb("VmHWM") is None or not runner.reset_peak_rss():
        pytest.skip("needs Linux /proc/self/clear_refs")
    runner.reset_peak_rss()
    base = runner.task_memory()["peak_rss_mb"]
    big = np.ones(300 * 2**20 // 8)  # 300 MB, touched
    big_peak = runner.task_memory()["peak_rss_mb"]
    del big
    runner.reset_peak_rss()
    after = runner.task_memory()
    assert big_peak - base > 250
    assert after["peak_rss_mb"] < big_peak - 250
    assert after["rss_after_trim_mb"] <= after["rss_mb"] + 1
    s = runner.run(write_cfg(tmp_path), tmp_path / "a", progress=False)
    assert s["tasks_run"] == 9
    events = [json.loads(line) for line in (tmp_path / "a" / "log.jsonl").read_text().splitlines()]
    tasks = [e for e in events if e["event"] == "task"]
    assert len(tasks) == 9
    for e in tasks:
        m = e["memory"]
        assert 0 < m["rss_after_trim_mb"] and 0 < m["rss_mb"] <= m["peak_rss_mb"] + 1
