"""etm: the standard and the extended tunneling model of glasses.

Implements Sections 3-7 of Jug, Bonfanti & Kob (2015), the seed paper in
``../shared/seed``: the two-level (2LS) and three-level (ATS, Aharonov-Bohm)
tunneling systems, their density of states, and the observables C_p(T,B),
M(T,B), epsilon'(T,B), tan delta and the polarization echo.

Units: energies in kelvin (k_B = 1 inside etm), fields in tesla,
concentrations per gram, C in J/(g K), M in A m^2/g. See :mod:`etm.units`.
Where the paper's printed closed forms are wrong, ``docs/errata.md`` says so
and the code uses the corrected form.
"""

import jax

jax.config.update("jax_enable_x64", True)

__version__ = "0.1.0"
