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


_FLAGS = "import os, pelsim; print(os.environ.get('XLA_FLAGS', ''))"


def test_one_core_process_runs_without_ynn_fusions():
    """A process that sees one core (NPROC=1 here, a pinned worker in campaigns) turns off XLA's
    YNN fusions, whose first executions on a one-thread pool held 5 GB (pelsim.device); a process
    with more cores, a user's own setting and the opt-out are left alone."""
    from pelsim.device import ynn_flag_known

    flag = "--xla_cpu_experimental_ynn_fusion_type="
    one = _run(_FLAGS, {"NPROC": "1", "XLA_FLAGS": ""})
    assert one.returncode == 0, one.stderr
    assert (flag in one.stdout) == ynn_flag_known()
    two = _run(_FLAGS, {"NPROC": "2", "XLA_FLAGS": ""})
    assert two.returncode == 0 and flag not in two.stdout
    mine = "--xla_cpu_experimental_ynn_fusion_type=ELTWISE"
    own = _run(_FLAGS, {"NPROC": "1", "XLA_FLAGS": mine})
    assert own.returncode == 0 and own.stdout.strip() == mine
    opt_out = _run(_FLAGS, {"NPROC": "1", "XLA_FLAGS": "", "PELSIM_YNN_FUSIONS": "1"})
    assert opt_out.returncode == 0 and flag not in opt_out.stdout


def test_ynn_setting_does_not_change_the_landscape():
    """With and without the fusions, a KA glass's energy and forces agree to round-off (1e-12
    relative), and a short FIRE minimisation reaches the same minimum energy (1e-10)."""
    code = (
        "import numpy as np, jax, jax.numpy as jnp, pelsim\n"
        "from pelsim.prepare import random_configuration\n"
        "from pelsim.landscape.search import landscape_energy\n"
        "from pelsim.minimize import minimize\n"
        "c = random_configuration('ka3d', 270, seed=3)\n"
        "e, _ = landscape_energy(c, 'smooth')\n"
        "R = jnp.asarray(c.positions)\n"
        "F = -jax.grad(e)(R)\n"
        "m = minimize(e, R)\n"
        "print(repr(float(e(R))), repr(float(jnp.abs(F).sum())), repr(float(m.energy)))\n"
    )
    a = _run(code, {"NPROC": "1", "XLA_FLAGS": ""})
    b = _run(code, {"NPROC": "1", "XLA_FLAGS": "", "PELSIM_YNN_FUSIONS": "1"})
    assert a.returncode == 0, a.stderr
    assert b.returncode == 0, b.stderr
    va, vb = (list(map(float, r.stdout.split())) for r in (a, b))
    assert abs(va[0] - vb[0]) <= 1e-12 * abs(va[0])
    assert abs(va[1] - vb[1]) <= 1e-12 * abs(va[1])
    assert abs(va[2] - vb[2]) <= 1e-10 * abs(va[2])
