"""A configuration: positions, species, periodic box and model name.

The common currency between engine, landscape tools and storage. Positions are
(N, d) float64 in sigma_AA, wrapped or not (all energies use the minimum image);
species are (N,) integer indices into the model's symbols; the box is the (d,)
side lengths of an orthorhombic periodic cell (the engine uses cubic/square boxes).
Polydisperse models (``polydisperse-ss``) also carry ``diameters`` (N,) float64 (units of the
mean diameter); for the species models ``diameters`` is None.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pelsim.errors import InputError

__all__ = ["Configuration"]


@dataclass
class Configuration:
    positions: np.ndarray
    species: np.ndarray
    box: np.ndarray
    model: str = "ka3d"
    info: dict = field(default_factory=dict)
    diameters: np.ndarray | None = None

    def __post_init__(self):
        self.positions = np.asarray(self.positions, dtype=np.float64)
        self.species = np.asarray(self.species, dtype=np.int32)
        self.box = np.asarray(self.box, dtype=np.float64).reshape(-1)
        if self.diameters is not None:
            self.diameters = np.asarray(self.diameters, dtype=np.float64).reshape(-1)
            if self.diameters.shape != (self.positions.shape[0],):
                raise InputError(f"{self.diameters.size} diameters for {self.positions.shape[0]} particles")

    @property
    def n(self) -> int:
        return self.positions.shape[0]

    @property
    def dim(self) -> int:
        return self.positions.shape[1]

    def wrapped(self) -> np.ndarray:
        return np.mod(self.positions, self.box)

    def copy(self, positions=None) -> Configuration:
        return Configuration(
            self.positions.copy() if positions is None else np.asarray(positions),
            self.species.copy(),
            self.box.copy(),
            self.model,
            dict(self.info),
            None if self.diameters is None else self.diameters.copy(),
        )
