"""Every bad input to ``pelsim campaign`` gives one line ``error: ...`` and exit code 2,
every failure of the machine (read-only or full disk) one line and exit code 3, and no
existing result is overwritten (subprocesses, as a user would run it, or ``pelsim.cli.main``
in this process where a writer is patched to fail)."""

from __future__ import annotations

import errno
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

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


def _main(capsys, *args):
    """``pelsim campaign ARGS`` in this process: (returncode, stderr) like a subprocess result."""
    from pelsim.cli import main

    code = main(["campaign", *map(str, args)])
    return SimpleNamespace(returncode=code, stderr=capsys.readouterr().err)


def _assert_one_line_error(r, *words, code=2):
    assert r.returncode == code, (r.returncode, r.stderr[-1500:])
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr[-1500:]
    assert "Traceback" not in r.stderr
    for w in words:
        assert w in lines[0], lines[0]


def _snapshot(d: Path) -> dict:
    """Every file's bytes but the lock file's (it names the last process that held the directory)."""
    if not d.exists():
        return {}
    return {p: p.read_bytes() for p in d.rglob("*") if p.is_file() and p.name != "campaign.lock"}


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


# ---------------------------------------------------------------- the output directory
def test_out_is_a_regular_file(tmp_path, finished, capsys):
    f = tmp_path / "afile"
    f.write_text("mine")
    r = _main(capsys, "run", finished / "fake.toml", "--out", f)
    _assert_one_line_error(r, "afile", "not a directory")
    assert f.read_text() == "mine"


def test_out_on_a_file_system_that_refuses(tmp_path, finished, capsys):
    """/sys refuses new folders (EACCES/EPERM, EROFS where mounted read-only): exit 3, one line."""
    if os.access("/sys", os.W_OK) and os.path.isdir("/sys/pelsim-test"):
        pytest.skip("/sys is writable here")
    r = _main(capsys, "run", finished / "fake.toml", "--out", "/sys/pelsim-test/out")
    _assert_one_line_error(r, "/sys/pelsim-test", code=3)
    assert not os.path.exists("/sys/pelsim-test")


def test_read_only_output(tmp_path, finished, capsys, monkeypatch):
    """A read-only file system (mkdir answers EROFS for the output): exit 3, one line, nothing."""
    ro = tmp_path / "ro"
    real = Path.mkdir

    def mkdir(self, *args, **kwargs):
        if str(self).startswith(str(ro)):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    r = _main(capsys, "run", finished / "fake.toml", "--out", ro / "out", "--no-progress")
    _assert_one_line_error(r, "Read-only file system", str(ro), code=3)
    assert not ro.exists()


def test_full_disk(tmp_path, finished, capsys, monkeypatch):
    """A full disk (fsync answers ENOSPC) while the campaign writes: exit 3, one line."""

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    r = _main(capsys, "run", finished / "fake.toml", "--out", tmp_path / "o", "--no-progress")
    _assert_one_line_error(r, "No space left on device", code=3)
    # a task that hits the full disk on its worker: the same line, the task's name in it
    monkeypatch.undo()
    monkeypatch.setenv("FAKE_STAGE_FAIL", "0:prepare:enospc")
    r = _main(capsys, "run", finished / "fake.toml", "--out", tmp_path / "o2", "--no-progress")
    _assert_one_line_error(r, "glass 0, stage prepare", "No space left on device", code=3)


def test_status_of_a_corrupt_campaign_json(tmp_path, capsys):
    d = tmp_path / "c"
    d.mkdir()
    (d / "campaign.json").write_text(json.dumps({"hash": "0" * 64}))
    _assert_one_line_error(_main(capsys, "status", d), "campaign.json", "no 'config'")
    (d / "campaign.json").write_text("[1, 2")
    _assert_one_line_error(_main(capsys, "status", d), "campaign.json", "corrupt")


# ---------------------------------------------------------------- values that can only be mistakes
@pytest.mark.parametrize(
    "section, line, words",
    [
        ("model", "N = 9223372036854775807", ["model.N", "<= 10000000"]),
        ("preparation", "T_liquid = inf", ["preparation.T_liquid", "finite"]),
        ("preparation", "T_liquid = nan", ["preparation.T_liquid", "NaN"]),
        ("glasses", "count = 10000000", ["glasses.count", "<= 100000"]),
        ("preparation", "cooling_rate = 1e-300", ["preparation.cooling_rate", "MD steps"]),
        ("model", "N = 64", ["model.N", "too small", "N >= 211"]),
    ],
)
def test_values_refused_before_anything_is_written(tmp_path, capsys, section, line, words):
    """With the real stages: every key a stage needs is checked up front, and named."""
    text = GOOD.format(extra_campaign="", N=300, extra_glasses="")
    if section == "model":
        text = text.replace("N = 300", line)
    elif section == "glasses":
        text = text.replace("count = 1", line)
    else:
        text += f"[{section}]\n{line}\n"
    p = tmp_path / "c.toml"
    p.write_text(text)
    t0 = time.perf_counter()
    _assert_one_line_error(_main(capsys, "run", p, "--out", tmp_path / "o"), *words)
    assert not (tmp_path / "o").exists() and time.perf_counter() - t0 < 30


def test_size_check_is_the_engines_rule(tmp_path):
    """N = 211 (the smallest KA 3D N accepted with MD) is what the MD pair list accepts, 210 not."""
    from pelsim.campaign import config, stages
    from pelsim.md import MD_SKIN
    from pelsim.models import load_model
    from pelsim.neighbors import make_dense_neighbor_fn

    m = load_model("ka3d")
    make_dense_neighbor_fn(m, m.box_length(211), 211, MD_SKIN)
    with pytest.raises(Exception, match="half the box"):
        make_dense_neighbor_fn(m, m.box_length(210), 210, MD_SKIN)
    for n, ok in ((211, True), (210, False)):
        cfg = config.validate({"campaign": {"name": "t"}, "model": {"N": n}, "glasses": {"count": 1}})
        if ok:
            stages.check_inputs(cfg, tmp_path)
        else:
            with pytest.raises(Exception, match="'model.N' = 210: box side .* N >= 211"):
                stages.check_inputs(cfg, tmp_path)


# ---------------------------------------------------------------- something else than a scheduler
class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _serve(server):
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    return server


def _answer_400(sock):
    """A server that replies 'HTTP/1.1 400' at once to every connection (what distributed read as
    a frame length of 3.07 EiB)."""
    while True:
        try:
            c, _ = sock.accept()
        except OSError:
            return
        with c:
            c.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")


def test_http_server_posing_as_scheduler(tmp_path, finished):
    """python -m http.server (waits for a request) and a 400 replier, on 127.0.0.1 only: one
    line, exit 2, within the handshake bound; nothing written."""
    httpd = _serve(http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Quiet))
    s400 = socket.socket()
    s400.bind(("127.0.0.1", 0))
    s400.listen()
    threading.Thread(target=_answer_400, args=(s400,), daemon=True).start()
    try:
        for port, words in (
            (httpd.server_address[1], ["no Dask scheduler", "no Dask handshake within 5 s"]),
            (s400.getsockname()[1], ["no Dask scheduler", "HTTP/1.1"]),
        ):
            t0 = time.monotonic()
            r = _pelsim("run", finished / "fake.toml", "--out", tmp_path / "o", "--scheduler",
                        f"tcp://127.0.0.1:{port}")  # fmt: skip
            assert time.monotonic() - t0 < 60
            _assert_one_line_error(r, f"127.0.0.1:{port}", *words)
            assert not (tmp_path / "o").exists()
    finally:
        httpd.shutdown()
        s400.close()
