"""Multi-species Lennard-Jones glass models as data (``pelsim/data/*.toml``).

A model is a parameter set: species symbols, composition, epsilon and sigma
matrices, masses, the cutoff factor (r_c = rc_factor * sigma_ab) and the number
density. Kob-Andersen 3D (80:20) and 2D (65:35) ship with the package; any other
multi-species LJ glass is one TOML file away (pass its path to :func:`load_model`).
All quantities are in LJ reduced units of the A-A pair.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from pelsim.errors import InputError

__all__ = ["LJModel", "load_model", "available_models", "species_counts"]


@dataclass(frozen=True)
class LJModel:
    """A multi-species LJ model (reduced units of the A-A pair).

    Attributes
    ----------
    name : str
    dim : int                 spatial dimension (2 or 3)
    symbols : tuple[str]      chemical symbols used in extxyz files, species index = position
    fractions : tuple[float]  number fractions of the species (sum 1)
    eps, sigma : ndarray (S, S) symmetric pair parameters (energy, length)
    masses : tuple[float]     particle masses per species
    rc_factor : float         cutoff r_c,ab = rc_factor * sigma_ab
    density : float           number density N / V (sigma_AA^-d)
    """

    name: str
    dim: int
    symbols: tuple
    fractions: tuple
    eps: np.ndarray
    sigma: np.ndarray
    masses: tuple
    rc_factor: float = 2.5
    density: float = 1.2

    @property
    def n_species(self) -> int:
        return len(self.symbols)

    @property
    def rc(self) -> np.ndarray:
        """Pair cutoff matrix r_c,ab = rc_factor * sigma_ab (sigma_AA)."""
        return self.rc_factor * self.sigma

    @property
    def rc_max(self) -> float:
        return float(self.rc.max())

    def box_length(self, n: int) -> float:
        """Side length (sigma_AA) of the cubic/square box holding n particles at the model density."""
        return float((n / self.density) ** (1.0 / self.dim))

    def species_index(self, symbol: str) -> int:
        try:
            return self.symbols.index(symbol)
        except ValueError:
            raise InputError(
                f"unknown symbol {symbol!r} for model {self.name} (expected one of {', '.join(self.symbols)})"
            ) from None


def available_models() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files("pelsim.data").iterdir() if p.name.endswith(".toml"))


def load_model(name_or_path) -> LJModel:
    """Load a model by name ("ka3d", "ka2d") or from a TOML file path."""
    if isinstance(name_or_path, LJModel):
        return name_or_path
    s = str(name_or_path)
    path = Path(s)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise InputError(f"model file not found: {s}")
        text = path.read_text()
    else:
        res = resources.files("pelsim.data").joinpath(f"{s}.toml")
        if not res.is_file():
            raise InputError(f"unknown model {s!r} (available: {', '.join(available_models())})")
        text = res.read_text()
    try:
        d = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"model file {s}: {exc}") from None
    try:
        eps = np.asarray(d["epsilon"], dtype=float)
        sig = np.asarray(d["sigma"], dtype=float)
        symbols = tuple(d["symbols"])
        fractions = tuple(float(x) for x in d["fractions"])
        masses = tuple(float(x) for x in d.get("masses", [1.0] * len(symbols)))
        model = LJModel(
            name=str(d.get("name", path.stem)),
            dim=int(d["dim"]),
            symbols=symbols,
            fractions=fractions,
            eps=eps,
            sigma=sig,
            masses=masses,
            rc_factor=float(d.get("rc_factor", 2.5)),
            density=float(d["density"]),
        )
    except KeyError as exc:
        raise InputError(f"model {s}: missing key {exc.args[0]!r}") from None
    S = len(symbols)
    if eps.shape != (S, S) or sig.shape != (S, S) or len(fractions) != S or len(masses) != S:
        raise InputError(f"model {s}: parameter shapes do not match {S} species")
    if not (np.allclose(eps, eps.T) and np.allclose(sig, sig.T)):
        raise InputError(f"model {s}: epsilon and sigma must be symmetric")
    if abs(sum(fractions) - 1.0) > 1e-9 or model.dim not in (2, 3):
        raise InputError(f"model {s}: fractions must sum to 1 and dim be 2 or 3")
    return model


def species_counts(model: LJModel, n: int) -> np.ndarray:
    """Number of particles of each species for n particles (rounded, total exactly n)."""
    counts = np.floor(np.asarray(model.fractions) * n + 0.5).astype(int)
    counts[0] += n - counts.sum()
    return counts
