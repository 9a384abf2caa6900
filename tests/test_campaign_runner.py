"""The campaign runner with deterministic stand-in stages (no physics, fast).

The stand-in stages below are also the stages module of the kill-and-resume test
(imported by the runner's workers as ``test_campaign_runner`` with tests/ on PYTHONPATH).
They produce a fake 'catalogue' whose content is a pure function of the seeds, so
any lost, duplicated or reordered task shows up as a difference.
"""

from __future__ import annotations

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


def stage_prepare(ctx):
    rng = np.random.default_rng(ctx.stage_seed)
    time.sleep(SLEEP)
    np.savez(ctx.output, positions=rng.random((ctx.cfg["model"]["N"], 3)))  # the temp name keeps .npz
    return {}


def _fake_search(ctx, k):
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
