"""LJ reduced units -> physical units: presets and the reduced Planck constant.

A preset fixes the energy epsilon_AA (given as epsilon/k_B in kelvin), the length
sigma_AA (angstrom) and the mass m_A (atomic mass units). Then

    hbar* = hbar / (sigma sqrt(m epsilon))           (dimensionless)
    E[K]  = E* x epsilon/k_B                          (energies, e.g. Delta, Delta0)

Presets: ``argon`` (epsilon/k_B = 119.8 K, sigma = 3.405 A, m = 39.948 u ->
hbar* = 0.0296), ``ni80p20`` (the Weber-Stillinger Ni-Ni parameters that KA-BLJ
was made from: epsilon/k_B = 7791 K, sigma = 2.2 A, m = 58.693 u), ``khomenko2020``
(the TLS convention of the polydisperse soft-sphere papers, below) and any
user-defined triple (:func:`custom`). Used for the TLS classification
(splitting < 1 K, Khomenko et al.) and for Delta, Delta0 in kelvin (seed Eqs. 2-4).

``khomenko2020``: Khomenko et al., PRL 124, 225901 (2020) call a double well a TLS when its
quantum splitting is below k_B T_Q with T_Q = 1 K (abstract, arXiv:1910.11168), and the code of
Ciarella et al., Nat. Commun. 14, 4229 (2023), applies that criterion in the model's units as
E_qs < 0.00151 eps (``thresh_tls = 0.00151`` in G_validate_performances_qs_predictor.py of
github.com/SCiarella/TLS_ML_exploration, commit 0965db4 of 2022-04-21; the splittings of its
exact_calculations/QS_T*/quantum_splitting_T*.csv tables are in eps). So 1 K = 0.00151 eps, i.e.
epsilon/k_B = 1/0.00151 K = 662.25 K (:data:`KHOMENKO_TLS_THRESHOLD_EPS`), and the default
``tls_threshold_K = 1`` reproduces their threshold exactly. The length and mass of their mapping
(their TLS tables are labelled "Ar units" and "NiP units") were not found in the sources read
here: the preset takes argon's sigma = 3.405 A and m = 39.948 u (hbar* = 0.0126), an ASSUMPTION;
splittings, and so which pairs are TLS, scale with hbar* (docs/published_tls.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pelsim.errors import InputError

HBAR_SI = 1.054571817e-34  # J s
K_B_SI = 1.380649e-23  # J / K
AMU_SI = 1.66053906660e-27  # kg
ANGSTROM_SI = 1e-10  # m


@dataclass(frozen=True)
class UnitPreset:
    """epsilon_K: epsilon_AA / k_B (K); sigma_A: sigma_AA (angstrom); mass_u: m_A (u)."""

    name: str
    epsilon_K: float
    sigma_A: float
    mass_u: float

    @property
    def hbar(self) -> float:
        """Reduced Planck constant hbar / (sigma sqrt(m epsilon))."""
        eps = self.epsilon_K * K_B_SI
        return HBAR_SI / (self.sigma_A * ANGSTROM_SI * math.sqrt(self.mass_u * AMU_SI * eps))

    def energy_K(self, e_reduced):
        """Reduced energy -> kelvin."""
        return e_reduced * self.epsilon_K

    def energy_reduced(self, e_K):
        """Kelvin -> reduced energy."""
        return e_K / self.epsilon_K

    def time_s(self, t_reduced):
        """Reduced time sigma sqrt(m / epsilon) -> seconds."""
        tau = self.sigma_A * ANGSTROM_SI * math.sqrt(self.mass_u * AMU_SI / (self.epsilon_K * K_B_SI))
        return t_reduced * tau


#: the TLS threshold of Khomenko et al. (2020) / Ciarella et al. (2023) in the soft spheres' eps
#: (module docstring): E_qs < 0.00151 eps, which they state as T_Q = 1 K
KHOMENKO_TLS_THRESHOLD_EPS = 0.00151

PRESETS = {
    "argon": UnitPreset("argon", 119.8, 3.405, 39.948),
    "ni80p20": UnitPreset("ni80p20", 7791.0, 2.2, 58.693),
    # 1 K = 0.00151 eps; sigma and m of argon assumed (module docstring)
    "khomenko2020": UnitPreset("khomenko2020", 1.0 / KHOMENKO_TLS_THRESHOLD_EPS, 3.405, 39.948),
}
DEFAULT_PRESET = "argon"


def custom(epsilon_K: float, sigma_A: float, mass_u: float, name: str = "custom") -> UnitPreset:
    """A user-defined preset; all three values must be positive."""
    for label, v in (("epsilon_K", epsilon_K), ("sigma_A", sigma_A), ("mass_u", mass_u)):
        if not (isinstance(v, int | float) and v > 0 and math.isfinite(v)):
            raise InputError(f"unit preset {label} must be a positive number, got {v!r}")
    return UnitPreset(name, float(epsilon_K), float(sigma_A), float(mass_u))


def get_preset(name_or_preset=DEFAULT_PRESET) -> UnitPreset:
    """A preset by name (argon, ni80p20, khomenko2020) or a UnitPreset passed through."""
    if isinstance(name_or_preset, UnitPreset):
        return name_or_preset
    try:
        return PRESETS[str(name_or_preset).lower()]
    except KeyError:
        raise InputError(
            f"unknown unit preset {name_or_preset!r} (expected one of "
            f"{', '.join(PRESETS)} or a custom preset)"
        ) from None
