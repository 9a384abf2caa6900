"""Glass models as data (``pelsim/data/*.toml``): multi-species LJ and polydisperse soft spheres.

A model is a parameter set: species symbols, composition, epsilon and sigma
matrices, masses, the cutoff factor (r_c = rc_factor * sigma_ab) and the number
density. Kob-Andersen 3D (80:20) and 2D (65:35) ship with the package; any other
multi-species LJ glass is one TOML file away (pass its path to :func:`load_model`).
All quantities are in LJ reduced units of the A-A pair.

A TOML file with ``kind = "polydisperse"`` and a ``[polydisperse]`` table is a
:class:`PolydisperseModel`: one species whose particles carry their own diameters
(``polydisperse-ss``, the soft spheres of Ninarello, Berthier & Coslovich, PRX 7, 021039
(2017); the pair energy is :mod:`pelsim.polydisperse`). Its units are eps and the mean diameter.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from pelsim.errors import InputError

__all__ = [
    "LJModel",
    "PolydisperseModel",
    "load_model",
    "available_models",
    "species_counts",
    "soft_sphere_coefficients",
]


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


@dataclass(frozen=True)
class PolydisperseModel(LJModel):
    """Continuously polydisperse soft spheres (one species, per-particle diameters).

    v(r) = eps (sigma_ij/r)^12 + c0 + c2 (r/sigma_ij)^2 + c4 (r/sigma_ij)^4 for r < rc_factor sigma_ij
    (:func:`soft_sphere_coefficients`), sigma_ij = (sigma_i + sigma_j)/2 (1 - non_additivity
    |sigma_i - sigma_j|), diameters drawn from P(sigma) ~ sigma^-3 on [sigma_min, sigma_max]
    (:meth:`diameters`). ``eps``/``sigma`` are the 1x1 unit matrices (eps, mean diameter).
    """

    sigma_min: float = 0.725
    sigma_max: float = 1.45 / 0.9
    non_additivity: float = 0.2
    n_default: int = 1500

    @property
    def rc_max(self) -> float:
        """Largest pair cutoff: rc_factor * sigma_max (two particles of the largest diameter)."""
        return float(self.rc_factor * self.sigma_max)

    def pair_sigma(self, si, sj):
        """Non-additive pair diameter sigma_ij (numpy or JAX arrays that broadcast)."""
        return 0.5 * (si + sj) * (1.0 - self.non_additivity * abs(si - sj))

    def diameters(self, n: int, seed: int = 0) -> np.ndarray:
        """n diameters with the exact distribution, deterministic given ``seed``.

        The k-th diameter is the quantile F^-1((k + 1/2)/n) of P(sigma) ~ sigma^-3
        (F(sigma) = (sigma_min^-2 - sigma^-2)/(sigma_min^-2 - sigma_max^-2)): a sample whose
        histogram is the distribution itself, not a random draw of it (a random draw of 1500 makes
        the mean wander by ~0.005 and the polydispersity by ~1 %). The quantiles are assigned to
        the particles in a random order drawn from ``seed``. The sample mean is 1 up to O(1/n^2)
        (measured |mean - 1| < 1e-5 at n = 1500, tests/test_polydisperse.py).
        """
        if n < 1:
            raise InputError("need at least one particle")
        a, b = self.sigma_min**-2, self.sigma_max**-2
        u = (np.arange(n) + 0.5) / n
        sig = (a - u * (a - b)) ** -0.5
        return sig[np.random.default_rng(seed).permutation(n)]


def soft_sphere_coefficients(rc_factor: float) -> tuple[float, float, float]:
    """(c0, c2, c4) of u(x) = x^-12 + c0 + c2 x^2 + c4 x^4 with u, u', u'' zero at x = rc_factor.

    Solved as a 3x3 linear system (closed form: c0 = -28 x_c^-12, c2 = 48 x_c^-14, c4 = -21 x_c^-16).
    """
    xc = float(rc_factor)
    A = np.array([[1.0, xc**2, xc**4], [0.0, 2 * xc, 4 * xc**3], [0.0, 2.0, 12 * xc**2]])
    b = -np.array([xc**-12, -12 * xc**-13, 156 * xc**-14])
    return tuple(float(c) for c in np.linalg.solve(A, b))


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
        kind = d.get("kind", "lj")
        if kind not in ("lj", "polydisperse"):
            raise InputError(f"model {s}: unknown kind {kind!r} (expected 'lj' or 'polydisperse')")
        extra = {}
        if kind == "polydisperse":
            extra = _polydisperse_fields(d.get("polydisperse", {}), s)
            extra["n_default"] = int(d.get("n_default", 1500))
        model = (PolydisperseModel if kind == "polydisperse" else LJModel)(
            name=str(d.get("name", path.stem)),
            dim=int(d["dim"]),
            symbols=symbols,
            fractions=fractions,
            eps=eps,
            sigma=sig,
            masses=masses,
            rc_factor=float(d.get("rc_factor", 2.5)),
            density=float(d["density"]),
            **extra,
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


def _polydisperse_fields(p: dict, s: str) -> dict:
    """sigma_min, sigma_max, non_additivity of a ``[polydisperse]`` table (P(sigma) ~ sigma^-3).

    The mean of P(sigma) ~ sigma^-3 on [a, b] is 2ab/(a + b); with a = ratio b and mean m this
    gives b = m (1 + ratio)/(2 ratio).
    """
    try:
        ratio = float(p["size_ratio"])
        mean = float(p.get("sigma_mean", 1.0))
        exponent = float(p.get("exponent", -3.0))
        nonadd = float(p.get("non_additivity", 0.0))
    except KeyError as exc:
        raise InputError(f"model {s}: [polydisperse] needs {exc.args[0]!r}") from None
    if exponent != -3.0:
        raise InputError(f"model {s}: only P(sigma) ~ sigma^-3 is implemented (exponent = -3)")
    if not (0.0 < ratio < 1.0) or mean <= 0 or not (0.0 <= nonadd < 1.0):
        raise InputError(f"model {s}: need 0 < size_ratio < 1, sigma_mean > 0, 0 <= non_additivity < 1")
    smax = mean * (1.0 + ratio) / (2.0 * ratio)
    return {"sigma_min": ratio * smax, "sigma_max": smax, "non_additivity": nonadd}


def species_counts(model: LJModel, n: int) -> np.ndarray:
    """Number of particles of each species for n particles (rounded, total exactly n)."""
    counts = np.floor(np.asarray(model.fractions) * n + 0.5).astype(int)
    counts[0] += n - counts.sum()
    return counts
