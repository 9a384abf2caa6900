"""The toolkit forces no platform; `pelsim --device` chooses one or says clearly why it cannot."""

import os
import subprocess
import sys


def _run(code, env_extra=None):
    env = {k: v for k, v in os.environ.items() if k != "JAX_PLATFORMS"}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)


def test_import_forces_no_platform():
    r = _run("import os, pelsim, etm, analysis; print(os.environ.get('JAX_PLATFORMS', 'unset'))")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "unset"


def test_device_flag(tmp_path):
    from pelsim.io import write_extxyz
    from pelsim.prepare import random_configuration

    f = tmp_path / "c.extxyz"
    write_extxyz(f, random_configuration("ka2d", 64, seed=0))
    cmd = "import sys; from pelsim.cli import main; sys.exit(main(sys.argv[1:]))"
    cpu = subprocess.run(
        [sys.executable, "-c", cmd, "--device", "cpu", "energy", str(f), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert cpu.returncode == 0, cpu.stderr
    import jax

    if jax.default_backend() == "cpu":  # no GPU here: a clear one-line refusal, exit 2
        gpu = subprocess.run(
            [sys.executable, "-c", cmd, "--device", "gpu", "energy", str(f), "--json"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert gpu.returncode == 2
        last = gpu.stderr.strip().splitlines()[-1]
        assert last.startswith("error: --device gpu") and "Traceback" not in gpu.stderr
