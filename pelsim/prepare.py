"""Glass preparation protocols: random starts, equilibration, cooling, quenches, sampling.

Protocols (all seeded, reproducible; LJ units; progress bars on long runs):

* :func:`random_configuration` - N particles with the model composition, species shuffled,
  positions uniform in the box then pushed apart by a soft-sphere minimisation until no pair
  is closer than ``min_dist`` * sigma_ab (non-overlapping start).
* :func:`equilibrate` - Nose-Hoover chain NVT at T for ``steps``; returns the configuration
  and a check: mean kinetic T within 5 % of target, no trend in U (first vs last third of the
  run within 3 standard errors).
* :func:`cool` - linear ramp of the thermostat from T_start to T_end at ``rate`` (T per tau).
* :func:`quench` - instantaneous quench to the inherent structure (IS): L-BFGS/FIRE to
  max_i|F_i| <= 1e-10 (``pelsim.minimize.quench``), smooth potential by default.
* :func:`sample` - configurations every ``interval`` steps of an NVT run at T (parents of ISs).
"""

from __future__ import annotations

import numpy as np

from pelsim.config import Configuration
from pelsim.errors import InputError
from pelsim.geometry import minimum_image
from pelsim.md import MDRunner, Thermo
from pelsim.minimize import MinResult
from pelsim.minimize import quench as _quench
from pelsim.models import PolydisperseModel, load_model, species_counts

__all__ = ["random_configuration", "equilibrate", "cool", "quench", "sample", "EquilibrationCheck"]


def random_configuration(model, n: int, seed: int = 0, min_dist: float = 0.75) -> Configuration:
    """Non-overlapping random configuration of n particles at the model density.

    Polydisperse models: diameters from :meth:`PolydisperseModel.diameters` (same seed)."""
    import jax
    import jax.numpy as jnp

    from pelsim.minimize import fire

    m = load_model(model)
    if n < 2:
        raise InputError("need at least 2 particles")
    rng = np.random.default_rng(seed)
    L = m.box_length(n)
    box = np.full(m.dim, L)
    species = np.repeat(np.arange(m.n_species), species_counts(m, n)).astype(np.int32)
    rng.shuffle(species)
    R = rng.uniform(0, L, size=(n, m.dim))
    diameters = m.diameters(n, seed) if isinstance(m, PolydisperseModel) else None
    if n <= 4000:  # dense O(N^2) soft-sphere push-apart (N x N arrays: small N only)
        if diameters is None:
            sig = jnp.asarray(m.sigma)[species[:, None], species[None, :]] * min_dist
        else:
            sig = jnp.asarray(m.pair_sigma(diameters[:, None], diameters[None, :])) * min_dist
        off = jnp.asarray(~np.eye(n, dtype=bool))

        def soft(R):  # harmonic soft spheres of diameter min_dist * sigma_ab (only to remove overlaps)
            d = R[:, None, :] - R[None, :, :]
            d = minimum_image(d, L)
            r = jnp.sqrt(jnp.sum(d * d, -1) + jnp.where(off, 0.0, 1.0))
            return 0.25 * jnp.sum(jnp.where(off & (r < sig), (1 - r / sig) ** 2, 0.0))

        res = fire(soft, R, fmax=1e-12, max_steps=5000, dt_max=0.1, max_disp=0.1)
        R = np.mod(res.R, L)
    else:  # large N: cheap overlap removal by rejection on a jittered lattice
        k = int(np.ceil(n ** (1 / m.dim)))
        grid = np.stack(np.meshgrid(*[np.arange(k)] * m.dim, indexing="ij"), -1).reshape(-1, m.dim)
        grid = grid[rng.permutation(len(grid))[:n]] * (L / k)
        R = np.mod(grid + rng.uniform(-0.05, 0.05, grid.shape) * (L / k), L)
    del jax
    return Configuration(R, species, box, m.name, {"seed": seed, "protocol": "random"}, diameters)


class EquilibrationCheck(dict):
    """{'T_mean', 'T_target', 'U_first', 'U_last', 'U_sem', 'ok'} (LJ units, U per particle)."""


def energy_trend(U, sem_floor: float = 0.0) -> dict:
    """The run-level drift check of a series U (per particle): the means of its first and last
    thirds (``k`` samples each), the standard error of their difference (+ ``sem_floor``) and
    ``no_trend``: they agree within 3 sqrt(5) standard errors. Necessary, not sufficient, for
    equilibrium (used by :func:`equilibrate` and the campaigns' swap-MC preparation)."""
    U = np.asarray(U, float)
    k = max(len(U) // 3, 1)
    sem = np.sqrt(np.var(U[:k]) / k + np.var(U[-k:]) / k) + sem_floor
    first, last = float(U[:k].mean()), float(U[-k:].mean())
    no_trend = bool(abs(first - last) < 3 * sem * np.sqrt(5))
    return {"k": k, "U_first": first, "U_last": last, "U_sem": float(sem), "no_trend": no_trend}


def _check(th: Thermo, T: float, n: int) -> EquilibrationCheck:
    a = th.arrays()
    t = energy_trend(a["potential"] / n, sem_floor=1e-12)
    T_mean = float(a["temperature"].mean())
    ok = abs(T_mean - T) < 0.05 * T and t["no_trend"]
    return EquilibrationCheck(
        T_mean=T_mean,
        T_target=T,
        U_first=t["U_first"],
        U_last=t["U_last"],
        U_sem=t["U_sem"],
        ok=bool(ok),
    )


def _runner(conf, T, kind, dt, seed, chunk, dtype, integrator="nose_hoover"):
    return MDRunner(
        conf.model,
        conf.box,
        conf.species,
        integrator,
        dt=dt,
        kT=T,
        kind=kind,
        chunk=chunk,
        dtype=dtype,
        seed=seed,
    )


def equilibrate(
    conf: Configuration,
    T: float,
    steps: int,
    dt: float = 0.005,
    kind: str = "smooth",
    seed: int = 0,
    chunk: int = 100,
    dtype=np.float64,
    progress: bool = True,
    writer=None,
    write_every: int = 0,
):
    """NVT (Nose-Hoover chain) at T for steps; returns (Configuration, EquilibrationCheck, Thermo).

    The start is first relaxed to max|F| < 1e-2 (FIRE); the first third of the run is discarded and
    the check uses the last two thirds.
    """
    # remove the high-energy contacts of a random start before giving it a temperature
    from pelsim.minimize import quench as _q

    R0 = _q(load_model(conf.model), conf.box, conf.species, conf.positions, kind, fmax=1e-2, method="fire").R
    md = _runner(conf, T, kind, dt, seed, chunk, dtype)
    md.init(R0)
    th = Thermo()
    md.run(steps // 3, progress=progress)  # discarded transient
    md.run(steps - steps // 3, thermo=th, progress=progress, writer=writer, write_every=write_every)
    out = conf.copy(md.positions)
    out.info.update(T=T, protocol="equilibrate", steps=steps, seed=seed)
    return out, _check(th, T, conf.n), th


def cool(
    conf: Configuration,
    T_start: float,
    T_end: float,
    rate: float,
    dt: float = 0.005,
    kind: str = "smooth",
    seed: int = 0,
    chunk: int = 100,
    dtype=np.float64,
    progress: bool = True,
    writer=None,
    write_every: int = 0,
):
    """Cool linearly from T_start to T_end at ``rate`` (temperature per LJ time unit)."""
    if rate <= 0 or T_end > T_start:
        raise InputError("cooling needs rate > 0 and T_end <= T_start")
    steps = max(chunk, int(round((T_start - T_end) / rate / dt / chunk)) * chunk)
    md = _runner(conf, T_start, kind, dt, seed, chunk, dtype)
    md.init(conf.positions, kT=T_start)
    th = Thermo()
    md.run(
        steps, kT=T_start, kT_end=T_end, thermo=th, progress=progress, writer=writer, write_every=write_every
    )
    out = conf.copy(md.positions)
    out.info.update(T=T_end, protocol=f"cool {T_start}->{T_end} at {rate}/tau", steps=steps, seed=seed)
    return out, th


def quench(conf: Configuration, kind: str = "smooth", fmax: float = 1e-10, method: str = "auto") -> tuple:
    """Instantaneous quench to the inherent structure: (Configuration, MinResult).

    Polydisperse models (per-particle diameters): :func:`pelsim.polydisperse.quench` (smooth by
    construction; ``kind`` must be "smooth")."""
    model = load_model(conf.model)
    if isinstance(model, PolydisperseModel):
        from pelsim import polydisperse

        polydisperse.require_smooth(model, kind)
        _, res = polydisperse.quench(conf, fmax=fmax, method=method)
    else:
        res: MinResult = _quench(model, conf.box, conf.species, conf.positions, kind, fmax, method)
    out = conf.copy(np.mod(res.R, conf.box))
    out.info.update(protocol="IS", energy=res.energy, max_force=res.max_force, steps=res.steps)
    return out, res


def sample(
    conf: Configuration,
    T: float,
    n_samples: int,
    interval: int,
    dt: float = 0.005,
    kind: str = "smooth",
    seed: int = 0,
    chunk: int = 100,
    dtype=np.float64,
    progress: bool = True,
    writer=None,
):
    """NVT run at T returning n_samples configurations every ``interval`` steps.

    Polydisperse models: Nose-Hoover NVT with the diameters fixed (:class:`pelsim.swap.SwapMD`
    without swap moves: landscape exploration keeps each particle's diameter), one block per
    sample."""
    chunk = min(chunk, interval)
    if interval % chunk:
        raise InputError("interval must be a multiple of the chunk length")
    if isinstance(load_model(conf.model), PolydisperseModel):
        return _sample_polydisperse(conf, T, n_samples, interval, dt, kind, seed, dtype, progress, writer)
    md = _runner(conf, T, kind, dt, seed, chunk, dtype)
    md.init(conf.positions)
    out = []
    from tqdm.auto import tqdm

    for k in tqdm(range(n_samples), disable=not progress, desc=f"sampling T={T}"):
        md.run(interval)
        c = conf.copy(md.positions)
        c.info.update(T=T, protocol="sample", step=md.step, seed=seed, sample=k)
        out.append(c)
        if writer is not None:
            writer.append(c.positions, md.step)
    return out


def _sample_polydisperse(conf, T, n_samples, interval, dt, kind, seed, dtype, progress, writer):
    """:func:`sample` of a polydisperse configuration (fixed diameters; see there)."""
    from tqdm.auto import tqdm

    from pelsim.polydisperse import require_smooth
    from pelsim.swap import SwapMD

    model = load_model(conf.model)
    require_smooth(model, kind)
    md = SwapMD(model, conf.box, conf.diameters, T, dt=dt, md_steps=interval, swaps=0, seed=seed, dtype=dtype)
    md.init(conf.positions)
    out = []
    for k in tqdm(range(n_samples), disable=not progress, desc=f"sampling T={T}"):
        md.run(1)
        c = conf.copy(np.mod(md.positions, conf.box))
        step = (k + 1) * interval
        c.info.update(T=T, protocol="sample", step=step, seed=seed, sample=k)
        out.append(c)
        if writer is not None:
            writer.append(c.positions, step)
    return out
