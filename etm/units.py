"""Physical constants and the explicit unit conversions of etm.

Conventions (binding for the CLI):
  * energies in kelvin (k_B = 1 inside etm); fields in tesla;
  * concentrations (n_Fe, Pn = P* n_ATS) per gram; C in J/(g K); M in A m^2/g;
  * the Aharonov-Bohm flux term D0*phi [K] = 2 pi (e/h) B (D0 |q/e| S),
    i.e. 1.51927e-5 * B[T] * (D0|q/e|S)[K Angstrom^2]  (seed Eq. 7).

CODATA 2018 exact values where exact.
"""

import math

K_B = 1.380649e-23  # J/K
H_PLANCK = 6.62607015e-34  # J s
HBAR = H_PLANCK / (2.0 * math.pi)  # J s
E_CHARGE = 1.602176634e-19  # C
MU_B = 9.2740100783e-24  # J/T
ANGSTROM = 1e-10  # m
AMU = 1.66053906660e-27  # kg
EPS0 = 8.8541878128e-12  # F/m

#: D0*phi [K] per (tesla * kelvin * angstrom^2) of D0|q/e|S: 2 pi e / h * 1e-20
FLUX_PHASE_PER_T_K_A2 = 2.0 * math.pi * E_CHARGE / H_PLANCK * ANGSTROM**2  # = 1.51927e-5
#: mu_B / k_B in K/T
MU_B_OVER_KB = MU_B / K_B


def d0phi_kelvin(field_T, d0qs_K_A2):
    """D0*phi in kelvin for a field B [T] and D0|q/e|S [K Angstrom^2] (seed Eq. 7)."""
    return FLUX_PHASE_PER_T_K_A2 * field_T * d0qs_K_A2
