"""Parameter containers shared by every etm observable.

:class:`ATSParams` holds the cutoffs of the ATS distribution (seed Eq. 10)
and how the Aharonov-Bohm phase is built from the field:

  D0*phi [K] = FLUX_PHASE_PER_T_K_A2 * B[T] * (D0|q/e|S)[K A^2]        (Eq. 7)

with the orientational average phi^2 -> phi^2/3 on by default, and the
high-field correction of Eq. 20 applied only when ``B_star`` is given.
Amplitudes (Pn = P* n_ATS per gram for C and M, the dielectric prefactor
pi x P* p^2/(eps_r eps_0), Gamma for the loss) are passed to each observable.
"""

from __future__ import annotations

from dataclasses import dataclass

from etm.errors import InputError


@dataclass(frozen=True)
class ATSParams:
    """Cutoffs of the ATS parameter distribution (seed Eq. 10, Tables 2, 4-7).

    Attributes:
      D_min: lower cutoff of the asymmetry D = sqrt(E1^2+E2^2+E3^2) [K].
      D0min_qS, D0max_qS: cutoffs of D0 times |q/e| S_Delta [K Angstrom^2].
      B_star: upturn field of Eq. 20 [T]; None disables the high-field correction.
      orientation_average: replace phi^2 by phi^2/3 (Eqs. 19-20); default True.
    """

    D_min: float
    D0min_qS: float
    D0max_qS: float
    B_star: float | None = None
    orientation_average: bool = True

    def __post_init__(self):
        if not (self.D_min > 0):
            raise InputError(f"D_min must be > 0 K, got {self.D_min}")
        if not (self.D0min_qS > 0):
            raise InputError(f"D0min_qS must be > 0 K A^2, got {self.D0min_qS}")
        if not (self.D0max_qS > self.D0min_qS):
            raise InputError(
                f"D0min_qS ({self.D0min_qS}) must be smaller than D0max_qS ({self.D0max_qS})"
            )
        if self.B_star is not None and not (self.B_star > 0):
            raise InputError(f"B_star must be > 0 T, got {self.B_star}")


#: trace paramagnetic ions of the seed paper (Eqs. 16, 90): total angular momentum J and Lande g
J_FE2 = 2.0  # Fe2+
J_FE3 = 2.5  # Fe3+
G_FE = 2.0
