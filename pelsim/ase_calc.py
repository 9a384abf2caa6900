"""ASE calculator wrapping pelsim's JAX energy (energy in eps_AA, forces in eps_AA/sigma_AA).

Lets ASE's optimizers, NEB (``ase.mep.NEB``) and dimer run on the KA model, so that pelsim's
landscape tools can be cross-checked against ASE's reference implementations. Symbols map
to species through the model (Ni -> A, P -> B for KA); the cell must be orthorhombic and
periodic. The energy is the all-pairs :func:`pelsim.potentials.energy_fn` (exact for any
positions), jitted once per (cell, composition).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from ase.calculators.calculator import Calculator, all_changes

from pelsim.errors import InputError
from pelsim.models import load_model
from pelsim.potentials import energy_fn

__all__ = ["PelsimCalculator"]


class PelsimCalculator(Calculator):
    implemented_properties = ["energy", "forces", "free_energy"]

    def __init__(self, model="ka3d", kind="smooth", **kwargs):
        super().__init__(**kwargs)
        self.model = load_model(model)
        self.kind = kind
        self._key = None

    def _setup(self, atoms):
        m = self.model
        cell = np.asarray(atoms.cell[:])
        if np.abs(cell - np.diag(np.diag(cell))).max() > 1e-10 or not all(atoms.pbc[: m.dim]):
            raise InputError("PelsimCalculator needs an orthorhombic periodic cell")
        box = np.diag(cell)[: m.dim].copy()
        species = np.array([m.species_index(s) for s in atoms.get_chemical_symbols()], np.int32)
        key = (tuple(box), species.tobytes())
        if key != self._key:
            self._vg = jax.jit(jax.value_and_grad(energy_fn(m, box, species, self.kind)))
            self._key = key

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        self._setup(self.atoms)
        d = self.model.dim
        E, g = self._vg(jnp.asarray(self.atoms.positions[:, :d], jnp.float64))
        F = np.zeros((len(self.atoms), 3))
        F[:, :d] = -np.asarray(g)
        self.results = {"energy": float(E), "free_energy": float(E), "forces": F}
