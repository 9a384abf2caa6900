"""Kill the campaign runner with SIGKILL at random moments, resume, compare.

The runner is started as ``python -m pelsim campaign run`` in its own session and
killed (SIGKILL to its whole process group, workers included, as a batch system
does) at random moments several times, then resumed until it finishes. Its final
catalogue must equal the one of an uninterrupted run from the same seeds: nothing
lost, nothing duplicated. The default run uses the deterministic stand-in stages of
test_campaign_runner.py (threads, 3 kills); ``--full`` uses process workers and 6 kills.
"""

from __future__ import annotations

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


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")])
    env["FAKE_STAGE_SLEEP"] = "0.25"
    return env


def _cmd(cfg, out):
    return [sys.executable, "-m", "pelsim", "campaign", "run", str(cfg), "--out", str(out), "--no-progress"]


def _run_to_end(cfg, out):
    r = subprocess.run(_cmd(cfg, out), env=_env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return r


@pytest.mark.slow
def test_sigkill_and_resume_loses_and_duplicates_nothing(tmp_path, full):
    n_kills = 6 if full else 3
    cfg = write_cfg(tmp_path, count=6 if full else 4, seed=11, processes="true" if full else "false")
    ref = tmp_path / "ref"
    _run_to_end(cfg, ref)
    want = read_cat(ref / "catalogue.h5")
    assert len(want["barrier"]) > 6

    out = tmp_path / "killed"
    rng = np.random.default_rng(2026)
    killed_with_work_done = 0
    for _ in range(n_kills):
        p = subprocess.Popen(
            _cmd(cfg, out),
            env=_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        time.sleep(rng.uniform(1.5, 4.0))  # python + dask start-up takes ~1.5-2 s
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        killed_with_work_done += len(list(out.rglob("*.done.json"))) > 0
    assert killed_with_work_done > 0, "the runner never got far enough to be killed mid-campaign"
    r = _run_to_end(cfg, out)
    got = read_cat(out / "catalogue.h5")
    assert set(got) == set(want)
    for k in want:
        np.testing.assert_array_equal(got[k], want[k], err_msg=k)
    # every task ran to completion exactly once in the directory's final state
    assert len(list(out.rglob("*.done.json"))) == len(list(ref.rglob("*.done.json")))
    assert not list(out.rglob("*.tmp-*"))
    assert "tasks" in r.stdout
