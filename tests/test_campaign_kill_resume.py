"""Kill the campaign runner, resume, compare: nothing lost, duplicated or left behind.

* Deterministic windows: ``tests/fault_inject.py`` SIGKILLs the runner at chosen renames
  (claim: before / after ``campaign.json``, restoring ``campaign.toml``; a task's result
  without its marker and the reverse; merge: before / after ``catalogue.h5``; finalize:
  the report, the final marker), one run after the other on one directory, checking
  ``status`` in between (a campaign killed in merge or finalize is not "done").
* Random kills: ``python -m pelsim campaign run`` in its own session, SIGKILLed (its whole
  process group, workers included, as a batch system does) at a random moment after it
  started its work, several times, then resumed to the end.
* Two concurrent runs on one directory: the second stops with one line naming the first's
  pid; the first finishes with every task run once.

Each final catalogue must equal the one of an uninterrupted run from the same seeds. The
stages are the deterministic stand-ins of test_campaign_runner.py (threads; ``--full``:
process workers and more kills for the random test).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from test_campaign_runner import read_cat, write_cfg

TESTS = Path(__file__).resolve().parent


def _env(sleep=0.25):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")])
    env["FAKE_STAGE_SLEEP"] = str(sleep)
    return env


def _cmd(cfg, out):
    return [sys.executable, "-m", "pelsim", "campaign", "run", str(cfg), "--out", str(out), "--no-progress"]


def _run_to_end(cfg, out, sleep=0.25):
    r = subprocess.run(_cmd(cfg, out), env=_env(sleep), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return r


def _assert_same_campaign(out, ref):
    want, got = read_cat(ref / "catalogue.h5"), read_cat(out / "catalogue.h5")
    assert set(got) == set(want)
    for k in want:
        np.testing.assert_array_equal(got[k], want[k], err_msg=k)
    # every task finished exactly once in the directory's final state, nothing left behind
    assert len(list(out.rglob("*.done.json"))) == len(list(ref.rglob("*.done.json")))
    assert not list(out.rglob("*.tmp-*"))
    assert (out / "report" / "report.md").read_text() == (ref / "report" / "report.md").read_text()
    assert (out / "campaign.toml").read_text() == (ref / "campaign.toml").read_text()


# (when, target name, what the kill leaves)
WINDOWS = [
    ("before", "campaign.json", "first claim: only the lock file and a temporary"),
    ("after", "campaign.json", "first claim: campaign.json, no campaign.toml"),
    ("before", "campaign.toml", "resume restoring campaign.toml"),
    ("before", "*.done.json", "a task's result in place, its marker not"),
    ("after", "*.done.json", "a task's marker in place, its log line not"),
    ("before", "catalogue.h5", "merge: the merged catalogue not in place"),
    ("after", "catalogue.h5", "merge done, finalize not started"),
    ("before", "report.md", "finalize: the report not in place"),
    ("before", "final.done.json", "finalize done, its marker not"),
]


@pytest.mark.slow
def test_kills_in_the_claim_task_merge_and_finalize_windows(tmp_path):
    from pelsim.campaign import runner

    cfg = write_cfg(tmp_path, count=2, seed=5)
    ref = tmp_path / "ref"
    runner.run(cfg, ref, progress=False)
    out = tmp_path / "killed"
    windows = tmp_path / "windows.json"
    windows.write_text(json.dumps([[when, name, 1] for when, name, _ in WINDOWS] + [None]))
    r = subprocess.run(
        [sys.executable, str(TESTS / "fault_inject.py"), "--chain", str(windows), "--", *_cmd(cfg, out)[3:]],
        env=_env(0.0),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    runs = json.loads(r.stdout.strip().splitlines()[-1])
    for (when, name, what), run in zip(WINDOWS, runs, strict=False):
        assert run["returncode"] == -signal.SIGKILL, (when, name, what, run)  # the window was reached
        if name in ("catalogue.h5", "report.md", "final.done.json"):  # every task done, not finished
            assert run["tasks_done"] == run["tasks_total"] == 6, (what, run)
            assert run["state"] in ("not merged", "not finalized"), (what, run)
    assert runs[-1]["returncode"] == 0 and runs[-1]["state"] == "done", (runs[-1], r.stderr[-2000:])
    _assert_same_campaign(out, ref)


@pytest.mark.slow
def test_sigkill_and_resume_loses_and_duplicates_nothing(tmp_path, full):
    n_kills = 6 if full else 3
    cfg = write_cfg(tmp_path, count=6 if full else 4, seed=11, processes="true" if full else "false")
    ref = tmp_path / "ref"
    _run_to_end(cfg, ref)
    assert len(read_cat(ref / "catalogue.h5")["barrier"]) > 6

    out = tmp_path / "killed"
    rng = np.random.default_rng(2026)
    killed_with_work_done = 0
    for _ in range(n_kills):
        starts = _count_starts(out)
        p = subprocess.Popen(
            _cmd(cfg, out),
            env=_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        # start-up (python, dask) takes 1.5 s on an idle machine, far longer under load: kill at a
        # random moment after the run logged its start, i.e. while its tasks are running
        t0 = time.monotonic()
        while _count_starts(out) == starts and p.poll() is None and time.monotonic() - t0 < 120:
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 1.5))
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        killed_with_work_done += len(list(out.rglob("*.done.json"))) > 0
    assert killed_with_work_done > 0, "the runner never got far enough to be killed mid-campaign"
    r = _run_to_end(cfg, out)
    _assert_same_campaign(out, ref)
    assert "tasks" in r.stdout


def _count_starts(out: Path) -> int:
    log = out / "log.jsonl"
    return log.read_text().count('"event": "start"') if log.is_file() else 0


@pytest.mark.slow
def test_second_run_on_a_directory_in_use_is_refused(tmp_path):
    from pelsim.campaign import runner
    from pelsim.campaign.store import CampaignStore

    cfg = write_cfg(tmp_path, count=4, seed=3)
    ref = tmp_path / "ref"
    runner.run(cfg, ref, progress=False)
    out = tmp_path / "shared"
    first = subprocess.Popen(
        _cmd(cfg, out), env=_env(1.0), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        t0 = time.monotonic()
        while not (CampaignStore(out).holder() and (out / "campaign.json").exists()):
            assert time.monotonic() - t0 < 120
            assert first.poll() is None, first.communicate()[1][-1500:]
            time.sleep(0.05)
        assert runner.status(out)["state"] == "running"
        second = subprocess.run(_cmd(cfg, out), env=_env(1.0), capture_output=True, text=True, timeout=120)
        assert first.poll() is None, "the first run ended before the second was tried: make it longer"
    finally:
        stdout, stderr = first.communicate(timeout=300)
    assert second.returncode == 2, second.stderr[-1500:]
    lines = [ln for ln in second.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and f"pid {first.pid} on" in lines[0], lines
    assert first.returncode == 0, stderr[-1500:]
    # the first run was not disturbed: every task ran once, one start, same catalogue
    log = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines() if x]
    assert [e["event"] for e in log].count("start") == 1
    assert [e["event"] for e in log].count("task") == 12
    _assert_same_campaign(out, ref)
