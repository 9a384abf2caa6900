"""Every bad input to ``pelsim campaign`` gives one line ``error: ...`` and exit code 2,
and no existing result is overwritten (subprocesses, as a user would run it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

TESTS = Path(__file__).resolve().parent
GOOD = """
[campaign]
name = "bad-input test"
{extra_campaign}
[model]
N = {N}
[glasses]
count = 1
{extra_glasses}
[runner]
processes = false
"""


def _pelsim(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run(
        [sys.executable, "-m", "pelsim", "campaign", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=cwd,
    )


def _assert_one_line_error(r, *words):
    assert r.returncode == 2, (r.returncode, r.stderr[-1500:])
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr[-1500:]
    assert "Traceback" not in r.stderr
    for w in words:
        assert w in lines[0], lines[0]


def _snapshot(d: Path) -> dict:
    return {p: p.read_bytes() for p in d.rglob("*") if p.is_file()} if d.exists() else {}


def _write_xyz(path: Path, rows):
    lines = [str(len(rows)), 'Lattice="6 0 0 0 6 0 0 0 6" Properties=species:S:1:pos:R:3 pbc="T T T"']
    lines += [f"{s} {x} {y} {z}" for s, x, y, z in rows]
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished (stand-in stages) campaign directory to try to overwrite."""
    d = tmp_path_factory.mktemp("done")
    cfg = d / "fake.toml"
    cfg.write_text(
        GOOD.format(extra_campaign='stages_module = "test_campaign_runner"', N=8, extra_glasses="")
    )
    r = _pelsim("run", cfg, "--out", d / "out", "--no-progress")
    assert r.returncode == 0, r.stderr[-2000:]
    return d


def test_malformed_toml(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text("[campaign\nname = 'x'\n")
    _assert_one_line_error(_pelsim("run", p, "--out", tmp_path / "o"), "malformed TOML", "c.toml")
    assert not (tmp_path / "o").exists()


def test_unknown_key(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text(GOOD.format(extra_campaign="", N=64, extra_glasses="seeed = 3"))
    _assert_one_line_error(_pelsim("run", p, "--out", tmp_path / "o"), "glasses.seeed")
    assert not (tmp_path / "o").exists()


def test_missing_files(tmp_path):
    _assert_one_line_error(_pelsim("run", tmp_path / "nope.toml"), "not found")
    _assert_one_line_error(_pelsim("status", tmp_path / "nodir"), "not a campaign directory")
    p = tmp_path / "c.toml"
    p.write_text(GOOD.format(extra_campaign="", N=64, extra_glasses='files = ["missing.extxyz"]'))
    _assert_one_line_error(_pelsim("run", p, "--out", tmp_path / "o"), "missing.extxyz")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "rows, word",
    [
        ([("Ni", 0, 0, 0), ("P", "nan", 1, 1)], "NaN"),
        ([("Ni", 1, 1, 1), ("P", 1.05, 1, 1)], "overlap"),
    ],
)
def test_bad_coordinates(tmp_path, rows, word):
    _write_xyz(tmp_path / "g.extxyz", rows)
    p = tmp_path / "c.toml"
    p.write_text(GOOD.format(extra_campaign="", N=2, extra_glasses='files = ["g.extxyz"]'))
    _assert_one_line_error(_pelsim("run", p, "--out", tmp_path / "o"), word)
    assert not (tmp_path / "o").exists()


def test_unreachable_scheduler(tmp_path, finished):
    p = finished / "fake.toml"
    before = _snapshot(finished / "out")
    r = _pelsim("run", p, "--out", tmp_path / "o", "--scheduler", "tcp://127.0.0.1:9")
    _assert_one_line_error(r, "scheduler", "127.0.0.1:9")
    assert not (tmp_path / "o").exists()
    r = _pelsim("run", p, "--out", finished / "out", "--scheduler", "tcp://127.0.0.1:9")
    _assert_one_line_error(r, "scheduler")
    assert _snapshot(finished / "out") == before


def test_other_campaign_does_not_overwrite(tmp_path, finished):
    before = _snapshot(finished / "out")
    p = tmp_path / "other.toml"
    p.write_text(GOOD.format(extra_campaign='stages_module = "test_campaign_runner"', N=9, extra_glasses=""))
    _assert_one_line_error(_pelsim("run", p, "--out", finished / "out"), "different campaign")
    assert _snapshot(finished / "out") == before


def test_truncated_catalogue(tmp_path):
    """A campaign directory whose catalogue.h5 was truncated: report refuses, overwrites nothing."""
    from pelsim.campaign import config
    from pelsim.landscape.catalogue import Catalogue

    cfg = config.validate({"campaign": {"name": "t"}, "model": {"N": 4}, "glasses": {"count": 1}})
    out = tmp_path / "camp"
    out.mkdir()
    (out / "campaign.json").write_text(
        json.dumps({"hash": config.config_hash(cfg), "config": json.loads(config.canonical_json(cfg))})
    )
    cat = Catalogue(out / "catalogue.h5", N=4, dim=3, box=np.full(3, 3.0))
    cat.add_minimum(np.random.default_rng(0).random((4, 3)) * 3, -1.0)
    cat.save()
    data = (out / "catalogue.h5").read_bytes()
    (out / "catalogue.h5").write_bytes(data[: len(data) // 2])
    before = _snapshot(out)
    _assert_one_line_error(_pelsim("report", out), "catalogue.h5")
    assert _snapshot(out) == before
