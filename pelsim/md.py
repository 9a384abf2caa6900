"""Molecular dynamics (NVE, Nose-Hoover chain NVT, Langevin NVT) in jitted chunks on jax-md.

A :class:`MDRunner` advances ``chunk`` steps per jitted call (``lax.fori_loop`` over jax-md's
integrator steps, the neighbor list updated before each force call) and after every chunk:

1. checks ``did_buffer_overflow``; on overflow reallocates the list from the positions
   AFTER the failed chunk and redoes the chunk from the state saved before it
   (never continues with a wrong list);
2. records potential energy U (eps_AA), kinetic temperature T = 2K/(d N - d) (eps_AA/k_B),
   total energy and pressure P = (N T + W/d)/V with the pair virial W = sum r_ij . f_ij
   (W = -dE/d(strain) at unit strain).

Positions and velocities are float64 by default; ``dtype=np.float32`` runs MD in float32
(faster on CPU and GPU; landscape work stays in float64). Units: LJ reduced (tau = sigma
sqrt(m/eps)), unit masses for KA.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

from pelsim.errors import InputError
from pelsim.models import load_model
from pelsim.neighbors import (
    DenseNeighborFn,
    allocate,
    make_dense_neighbor_fn,
    make_neighbor_fn,
)
from pelsim.potentials import dense_neighbor_forces, neighbor_list_energy

__all__ = ["MDRunner", "Thermo", "kinetic_temperature"]

INTEGRATORS = ("nve", "nose_hoover", "langevin")
# dense-list row capacity: largest row at allocation x this (measured at KA 3D N=1000: no
# overflow in 25,000 steps of T = 2 -> 0.4 with 1.1; an overflow raises it by 0.1 for the run)
MD_CAPACITY = 1.1
# MD list skins (sigma_AA): a two-level list, an inner skin of 0.3 (few padded force slots) whose
# rebuilds scan an outer list with skin 1.2 instead of all N particles (KA 3D N=1000, f32, NVT
# T=0.5, docs/engine.md: ~20 % more steps/s than one list with skin 0.5). In boxes smaller than
# 2 (r_c + outer skin) the list has one level.
MD_SKIN = 0.3
MD_OUTER_SKIN = 1.2


def kinetic_temperature(V, masses=1.0):
    """T = sum m v^2 / (d N - d) (3 momentum constraints removed), eps_AA / k_B."""
    n, d = V.shape
    return float(jnp.sum(masses * V * V) / (d * n - d))


@dataclass
class Thermo:
    """Time series recorded once per chunk: step, U, K, E = U + K, T, P (LJ units, totals)."""

    step: list = field(default_factory=list)
    potential: list = field(default_factory=list)
    kinetic: list = field(default_factory=list)
    temperature: list = field(default_factory=list)
    pressure: list = field(default_factory=list)

    def arrays(self) -> dict:
        out = {k: np.asarray(v) for k, v in self.__dict__.items()}
        out["total"] = out["potential"] + out["kinetic"]
        return out


class MDRunner:
    """Run MD of a multi-species LJ system in jitted chunks with checked neighbor lists.

    Parameters: model, box (d,), species (N,), integrator ("nve", "nose_hoover", "langevin"),
    dt (tau), kT (target temperature, eps_AA), kind ("smooth"/"shifted"), skin (sigma_AA),
    chunk (steps per jitted call), dtype (np.float64 or np.float32), tau_T (Nose-Hoover
    coupling time), gamma (Langevin friction, 1/tau), neighbors ("dense": pelsim's own dense
    list with analytic forces, the default; "jax-md": jax-md's list in format ``fmt`` with
    autodiff forces), devices (dense list only: split the force rows over this many JAX
    devices, see :meth:`_sharded_forces`; 1 = one device, the default), outer_skin (dense list:
    skin of the outer list of a two-level list, None for one level; see ``MD_SKIN``).
    """

    def __init__(
        self,
        model,
        box,
        species,
        integrator="nve",
        dt=0.005,
        kT=1.0,
        kind="smooth",
        skin=MD_SKIN,
        chunk=100,
        dtype=np.float64,
        tau_T=None,
        gamma=1.0,
        fmt="OrderedSparse",
        cell_list=None,
        seed=0,
        neighbors="dense",
        devices=1,
        nh_chain=(5, 2, 3),
        outer_skin=MD_OUTER_SKIN,
    ):
        from jax_md import simulate, space

        self.model = load_model(model)
        if integrator not in INTEGRATORS:
            raise InputError(f"unknown integrator {integrator!r} (expected {', '.join(INTEGRATORS)})")
        self.box = np.broadcast_to(np.asarray(box, float).reshape(-1), (self.model.dim,)).copy()
        self.species = np.asarray(species, np.int32)
        self.n, self.d = self.species.size, self.model.dim
        self.dtype = np.dtype(dtype)
        self.dt, self.chunk, self.integrator = float(dt), int(chunk), integrator
        self.kT = float(kT)
        self.volume = float(np.prod(self.box))
        self.devices = int(devices)
        self._place = lambda tree: tree
        if self.devices > 1 and neighbors != "dense":
            raise InputError("devices > 1 needs neighbors='dense'")
        if neighbors == "dense":
            # pelsim's dense list + analytic row-sum forces (default: measured faster, less memory);
            # per-species-pair list cutoffs r_c,ab + skin (fewer columns than r_c,max + skin)
            # one column count per species (rows grouped: ~20 % fewer padded slots at KA 3D) and
            # 10 % headroom instead of 25 % (an overflow is caught and redone with more, see run)
            self.neighbor_fn = make_dense_neighbor_fn(
                self.model,
                self.box,
                self.n,
                skin,
                capacity_multiplier=MD_CAPACITY,
                species=self.species,
                group_rows=self.devices == 1,
                outer_skin=outer_skin,
            )
            e_nl, f_nl = dense_neighbor_forces(self.model, self.box, self.species, kind)
            energy = lambda R, neighbor, **kw: f_nl(R, neighbor)
            if self.devices > 1:
                energy = self._sharded_forces(f_nl)
        elif neighbors == "jax-md":
            self.neighbor_fn = make_neighbor_fn(self.model, self.box, self.n, skin, fmt, cell_list=cell_list)
            e_nl = neighbor_list_energy(self.model, self.box, self.species, kind)
            energy = lambda R, neighbor, **kw: e_nl(R, neighbor)
        else:
            raise InputError(f"unknown neighbors {neighbors!r} (expected 'dense' or 'jax-md')")
        self.energy_nl = e_nl
        masses = jnp.asarray(np.asarray(self.model.masses)[self.species][:, None], self.dtype)
        self.masses = masses
        _, shift = space.periodic(jnp.asarray(self.box, self.dtype))
        dt_ = jnp.asarray(dt, self.dtype)
        if integrator == "nve":
            init, apply = simulate.nve(energy, shift, dt_)
        elif integrator == "nose_hoover":
            chain_length, chain_steps, sy_steps = nh_chain
            init, apply = simulate.nvt_nose_hoover(
                energy,
                shift,
                dt_,
                self.kT,
                tau=100 * dt if tau_T is None else tau_T,
                chain_length=chain_length,
                chain_steps=chain_steps,
                sy_steps=sy_steps,
            )
        else:
            init, apply = simulate.nvt_langevin(energy, shift, dt_, self.kT, gamma=gamma)
        self._init, self._apply = init, apply
        self.key = jax.random.PRNGKey(seed)
        self.rebuilds_after_overflow = 0
        self.step = 0

        def step(st, nb, kT):
            new = apply(st, neighbor=nb, kT=kT)
            # jax-md's thermostat chains may promote dtypes; keep the carry's types fixed
            return jax.tree_util.tree_map(lambda a, b: a.astype(b.dtype), new, st)

        def run_chunk(state, nbrs, kT, nsteps):
            if neighbors == "jax-md":

                def body(_, c):
                    st, nb = c
                    nb = nb.update(st.position)
                    return step(st, nb, kT), nb

                return jax.lax.fori_loop(0, nsteps, body, (state, nbrs))

            # dense list: an inner loop of plain steps while the list is valid (needs_rebuild), then
            # one rebuild. Measured: a lax.cond around the rebuild in every step cost ~1 ms per
            # step on XLA CPU at N=1000 (more than the force); this runs 2.5x faster.
            def inner_cond(c):
                st, nb, i = c
                return (i < nsteps) & ~nb.fn.needs_rebuild(st.position, nb)

            def inner_body(c):
                st, nb, i = c
                return step(st, nb, kT), nb, i + 1

            def outer_body(c):
                st, nb, i = jax.lax.while_loop(inner_cond, inner_body, c)
                return st, nb.update(st.position), i

            st, nb, _ = jax.lax.while_loop(lambda c: c[2] < nsteps, outer_body, (state, nbrs, jnp.int32(0)))
            return st, nb

        self._run_chunk = jax.jit(run_chunk, static_argnums=3, donate_argnums=(0,))

        def observe(state, nbrs):
            R = state.position
            U = e_nl(R, nbrs)
            W = -jax.grad(lambda s: e_nl(R, nbrs, s))(jnp.asarray(1.0, R.dtype))
            V = state.velocity
            K = 0.5 * jnp.sum(state.mass * V * V)
            T = 2 * K / (self.d * self.n - self.d)
            P = (self.n * T + W / self.d) / self.volume
            return U, K, T, P, nbrs.did_buffer_overflow

        self._observe = jax.jit(observe)

    def _sharded_forces(self, f_nl):
        """Forces split over ``devices`` by rows of the dense list (positions replicated).

        Each device computes the row sums of its N/devices rows; the integrator then sees the
        gathered (N, d) forces. On CPU the devices are host devices: set
        ``jax.config.update("jax_num_cpu_devices", 2)`` (or ``XLA_FLAGS=
        --xla_force_host_platform_device_count=2``) before JAX's first computation. On several
        GPUs the same code splits the rows over the GPUs.
        """
        from jax.sharding import Mesh, NamedSharding
        from jax.sharding import PartitionSpec as P

        avail = jax.devices()
        if len(avail) < self.devices:
            raise InputError(
                f"devices={self.devices} but JAX sees {len(avail)}: on CPU call "
                f'jax.config.update("jax_num_cpu_devices", {self.devices}) before the first JAX computation'
            )
        if self.n % self.devices:
            raise InputError(f"devices={self.devices} must divide the number of particles {self.n}")
        mesh = Mesh(np.asarray(avail[: self.devices]), ("rows",))
        rows = self.n // self.devices

        class _Rows:  # the list's idx block seen by one device
            def __init__(self, idx):
                self.idx = idx

        def block(R, idx):
            return f_nl(R, _Rows(idx), row_start=jax.lax.axis_index("rows") * rows)

        sharded = jax.shard_map(block, mesh=mesh, in_specs=(P(), P("rows")), out_specs=P("rows"))
        replicated = NamedSharding(mesh, P())
        self._place = lambda tree: jax.device_put(tree, replicated)
        return lambda R, neighbor, **kw: sharded(R, neighbor.idx)

    def init(self, R, kT=None, V=None):
        """Initial state at positions R (velocities Maxwell-Boltzmann at kT, or V given)."""
        R = jnp.asarray(np.mod(np.asarray(R, float), self.box), self.dtype)
        self.nbrs = self._place(allocate(self.neighbor_fn, R))
        self.key, k = jax.random.split(self.key)
        kT = self.kT if kT is None else kT
        state = self._init(k, self._place(R), mass=self._place(self.masses), kT=kT, neighbor=self.nbrs)
        if V is not None:
            state = state.set(momentum=jnp.asarray(V, self.dtype) * self.masses)
        self.state = self._place(state)
        return state

    def run(
        self,
        nsteps: int,
        kT=None,
        thermo: Thermo | None = None,
        progress: bool = False,
        writer=None,
        write_every: int = 0,
        kT_end=None,
    ):
        """Advance nsteps (a multiple of chunk is best); kT may ramp linearly to kT_end (cooling).

        Records into ``thermo`` once per chunk; writes frames to an H5MDWriter every
        ``write_every`` steps (a multiple of chunk).
        """
        from tqdm.auto import tqdm

        kT0 = self.kT if kT is None else float(kT)
        kT1 = kT0 if kT_end is None else float(kT_end)
        done = 0
        bar = tqdm(total=nsteps, disable=not progress, desc=f"{self.integrator} MD", unit="step")
        while done < nsteps:
            k = min(self.chunk, nsteps - done)
            kT_now = kT0 + (kT1 - kT0) * (done + 0.5 * k) / nsteps
            saved = jax.tree_util.tree_map(lambda x: jnp.array(x, copy=True), self.state)
            for _attempt in range(10):
                state, nbrs = self._run_chunk(self.state, self.nbrs, jnp.asarray(kT_now, self.dtype), k)
                U, K, T, P, over = self._observe(state, nbrs)
                if not bool(over):
                    break
                # reallocate from positions AFTER the failed chunk, redo the chunk from the saved state
                self.rebuilds_after_overflow += 1
                if isinstance(self.neighbor_fn, DenseNeighborFn):  # more headroom from now on
                    cm = self.neighbor_fn.capacity_multiplier
                    self.neighbor_fn.capacity_multiplier = min(1.5, cm + 0.1)
                self.nbrs = self._place(allocate(self.neighbor_fn, state.position))
                self.state = jax.tree_util.tree_map(lambda x: jnp.array(x, copy=True), saved)
            else:
                raise InputError("neighbor list keeps overflowing (system exploding? reduce dt)")
            self.state, self.nbrs = state, nbrs
            done += k
            self.step += k
            if not np.isfinite(float(U)):
                raise InputError(f"MD blew up at step {self.step} (non-finite energy): reduce dt")
            if thermo is not None:
                thermo.step.append(self.step)
                thermo.potential.append(float(U))
                thermo.kinetic.append(float(K))
                thermo.temperature.append(float(T))
                thermo.pressure.append(float(P))
            if writer is not None and write_every and self.step % write_every == 0:
                writer.append(
                    np.asarray(self.state.position, float),
                    self.step,
                    observables={"potential_energy": float(U), "temperature": float(T)},
                )
            bar.update(k)
        bar.close()
        return self.state

    @property
    def positions(self) -> np.ndarray:
        return np.asarray(self.state.position, np.float64)

    @property
    def velocities(self) -> np.ndarray:
        return np.asarray(self.state.velocity, np.float64)
