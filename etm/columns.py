"""The observables of the ``etm`` CLI as column tables: arrays and a values dict in, columns out.

One function per command (names and units of the columns in docs/etm.md); the CLI
(:mod:`etm.cli`), the fits (:mod:`etm.fit`), the figures (:mod:`etm.plots`) and the demo
(:mod:`etm.demo`) all call these, so a CSV written by any of them has the same columns.

* :func:`heat_capacity_columns` - C_ATS (seed Eqs. 17/18) + C_para of Fe2+/Fe3+ (Eq. 16)
* :func:`magnetization_columns` - M_ATS (Eqs. 93-94) + M_para (Brillouin, Eq. 90)
* :func:`dielectric_columns` - Delta eps'/eps' of Eq. (51)
* :func:`loss_columns` - Delta tan delta of Eq. (61)
* :func:`echo_columns` - A(B)/A(inf) of Eqs. (76-77)
* :func:`dos_columns` - g_ATS of Eqs. (12-13); :func:`spectrum_columns` - Eq. (8);
  :func:`tunneling_columns` - Eq. (4)

A values dict holds the parameters by their :data:`PARAM_FLAGS` names (``D_min``, ``Pn``,
``frequency`` ...) plus ``orientation_average``; a missing required parameter is an
:class:`~etm.errors.InputError` naming its flag. Defaults of the optional parameters:
:data:`LOSS_DEFAULT_FREQUENCY_HZ` and :data:`etm.echo.ECHO_DEFAULTS`.
"""

from __future__ import annotations

import numpy as np

from etm import echo
from etm.dielectric import deps_ats
from etm.dos import g_ats
from etm.errors import InputError
from etm.grids import require_nonnegative, require_positive
from etm.hamiltonian import eigenvalues_3ls
from etm.heat_capacity import c_ats, c_paramagnetic
from etm.loss import dtan_delta_ats
from etm.magnetization import m_ats, m_brillouin
from etm.params import G_FE, J_FE2, J_FE3, ATSParams
from etm.tunneling import delta0_two_parabola

#: parameter name -> (CLI flag, unit, help)
PARAM_FLAGS = {
    "D_min": ("--D-min", "K", "lower cutoff of the asymmetry D"),
    "D0min_qS": ("--D0min-qS", "K A^2", "lower cutoff of D0 |q/e| S"),
    "D0max_qS": ("--D0max-qS", "K A^2", "upper cutoff of D0 |q/e| S"),
    "B_star": ("--B-star", "T", "upturn field of Eq. 20; enables the high-field correction"),
    "Pn": ("--Pn", "1/g", "P* n_ATS"),
    "n_fe2": ("--n-fe2", "1/g", "Fe2+ concentration (J=2, g=2); default 0"),
    "n_fe3": ("--n-fe3", "1/g", "Fe3+ concentration (J=5/2, g=2); default 0"),
    "amplitude": (
        "--amplitude",
        "K",
        "prefactor pi x_ATS P* p1^2/(eps_r eps_0) of Tables 5-7 (read in K, see etm.dielectric)",
    ),
    "Gamma": ("--Gamma", "1/(s K^5)", "ATS relaxation constant of the corrected Eq. 55 (Tables 7, 8)"),
    "frequency": ("--frequency", "Hz", "measuring frequency omega/2pi (default: loss 1e3, echo 1e9)"),
    "tau1": ("--tau1", "s", "first pulse length (default 1e-7)"),
    "tau2": ("--tau2", "s", "second pulse length (default 2e-7)"),
    "tau12": ("--tau12", "s", "delay between the pulses (default 2e-6)"),
    "p1F0": ("--p1F0", "D kV/m", "single-well dipole times pulse field (Table 8)"),
    "c_ats": ("--c-ats", "1/(s K)", "spectral diffusion, 1/tau_phi = c_ATS T (Eq. 79; Table 8); default 0"),
    "tan_omega_dtau": ("--tan-omega-dtau", "1", "tan(omega Delta tau) of Eq. 76 (Table 8); default 0"),
    "ats_ratio": ("--ats-ratio", "1", "ATS share of the zero-field echo, 1 - A(0)/A(inf); default 0.5"),
}

#: default measuring frequency of the loss [Hz]
LOSS_DEFAULT_FREQUENCY_HZ = 1e3

#: values-dict name -> keyword of :func:`etm.echo.echo_amplitude` (defaults: ECHO_DEFAULTS)
ECHO_KEYWORDS = {
    "ats_ratio": "ats_ratio",
    "T_K": "T_K",
    "frequency": "freq_Hz",
    "tau1": "tau1_s",
    "tau2": "tau2_s",
    "tau12": "tau12_s",
    "Gamma": "Gamma",
    "c_ats": "c_ats",
    "tan_omega_dtau": "tan_omega_dtau",
}


def require(values: dict, names, command: str) -> None:
    """InputError naming the flags of the parameters in ``names`` that have no value."""
    missing = [PARAM_FLAGS[n][0] for n in names if values.get(n) is None]
    if missing:
        raise InputError(f"{command}: missing {', '.join(missing)} (or give --material NAME)")


def ats_params(values: dict) -> ATSParams:
    """ATSParams from a values dict (validates D_min > 0, D0min < D0max, B* > 0)."""
    return ATSParams(
        values["D_min"],
        values["D0min_qS"],
        values["D0max_qS"],
        B_star=values.get("B_star"),
        orientation_average=values.get("orientation_average", True),
    )


def _tb(T_K, B_T):
    T = require_positive(np.asarray(T_K, np.float64), "T", "K")
    B = require_nonnegative(np.asarray(B_T, np.float64), "B", "T")
    return T, B


def _ats_plus_fe(T_K, B_T, values: dict, command: str, ats_fn, fe_fn, prefix: str, unit: str) -> dict:
    """ATS term ``ats_fn(T, B, params, Pn)`` + Fe2+/Fe3+ terms ``fe_fn(T, B, n, J, g)`` and their sum."""
    require(values, ("D_min", "D0min_qS", "D0max_qS", "Pn"), command)
    p = ats_params(values)
    T, B = _tb(T_K, B_T)
    ats = np.asarray(ats_fn(T, B, p, values["Pn"]), np.float64)
    para = np.zeros_like(ats)
    for key, J in (("n_fe2", J_FE2), ("n_fe3", J_FE3)):
        n = values.get(key) or 0.0
        if n:
            para = para + np.asarray(fe_fn(T, B, n, J, G_FE), np.float64)
    return {
        "T_K": T,
        "B_T": B,
        f"{prefix}_ATS_{unit}": ats,
        f"{prefix}_para_{unit}": para,
        f"{prefix}_total_{unit}": ats + para,
    }


def heat_capacity_columns(T_K, B_T, values: dict) -> dict:
    """C_ATS (Eq. 17/18), C_para = Fe2+ + Fe3+ (Eq. 16) and their sum [J/(g K)], elementwise."""
    return _ats_plus_fe(T_K, B_T, values, "heat-capacity", c_ats, c_paramagnetic, "C", "J_per_gK")


def magnetization_columns(T_K, B_T, values: dict) -> dict:
    """M_ATS (Eqs. 93-94, = -dF/dB), M_para = Fe2+ + Fe3+ Brillouin (Eq. 90) and sum [A m^2/g]."""
    return _ats_plus_fe(T_K, B_T, values, "magnetization", m_ats, m_brillouin, "M", "Am2_per_g")


def dielectric_columns(T_K, B_T, values: dict) -> dict:
    """Relative change Delta eps'/eps' of Eq. (51) (ATS part, relative to B = 0)."""
    require(values, ("D_min", "D0min_qS", "D0max_qS", "amplitude"), "dielectric")
    p = ats_params(values)
    T, B = _tb(T_K, B_T)
    return {"T_K": T, "B_T": B, "deps_rel": np.asarray(deps_ats(T, B, p, values["amplitude"]), np.float64)}


def loss_columns(T_K, B_T, values: dict) -> dict:
    """Delta tan delta of Eq. (61) (ATS relaxation part)."""
    require(values, ("D_min", "D0min_qS", "D0max_qS", "amplitude", "Gamma"), "loss")
    p = ats_params(values)
    T, B = _tb(T_K, B_T)
    freq = values.get("frequency")
    freq = LOSS_DEFAULT_FREQUENCY_HZ if freq is None else freq
    if not freq > 0:
        raise InputError(f"--frequency must be > 0 Hz, got {freq}")
    d = dtan_delta_ats(T, B, p, values["amplitude"], values["Gamma"], 2 * np.pi * freq)
    return {"T_K": T, "B_T": B, "dtan_delta": np.asarray(d, np.float64)}


def echo_columns(B_T, values: dict) -> dict:
    """Echo amplitude relative to its high-field value, A(B)/A(inf), Eqs. (76-77) (etm.echo).

    values: D_min, D0min_qS, D0max_qS, p1F0 (required); T_K, frequency, tau1, tau2, tau12,
    Gamma, c_ats, tan_omega_dtau, ats_ratio (defaults: :data:`etm.echo.ECHO_DEFAULTS`).
    """
    require(values, ("D_min", "D0min_qS", "D0max_qS", "p1F0"), "echo")
    p = ats_params(values)
    B = require_nonnegative(np.asarray(B_T, np.float64), "B", "T")
    kw = {}
    for name, key in ECHO_KEYWORDS.items():
        v = values.get(name)
        kw[key] = echo.ECHO_DEFAULTS[key] if v is None else v
    if not kw["T_K"] > 0:
        raise InputError(f"--T must be > 0 K, got {kw['T_K']}")
    a = echo.echo_amplitude(B, p, p1F0_D_kV_m=values["p1F0"], **kw)
    return {"B_T": B, "echo_rel": np.asarray(a, np.float64).reshape(B.shape)}


def tunneling_columns(V0_K, hw_K) -> dict:
    """Delta0 of the symmetric two-parabola DWP, Eq. (4) (0 beyond its bracket's zero)."""
    V0 = require_nonnegative(np.asarray(V0_K, np.float64), "V0", "K")
    hw = require_positive(np.asarray(hw_K, np.float64), "hbar-omega", "K")
    return {"V0_K": V0, "hbar_omega_K": hw, "Delta0_K": np.asarray(delta0_two_parabola(V0, hw), np.float64)}


def spectrum_columns(E1, E2, E3, D0, phi) -> dict:
    """Eigenvalues E0 < E1 < E2 of Eq. (6) along the A-B phases ``phi`` (closed form Eq. 8)."""
    if not D0 > 0:
        raise InputError(f"--D0 must be > 0 (Eq. 11), got {D0}")
    phi = np.asarray(phi, np.float64)
    ev = np.asarray(eigenvalues_3ls(E1, E2, E3, D0, phi), np.float64).reshape(phi.shape + (3,))
    return {"phi": phi, "E0": ev[..., 0], "E1": ev[..., 1], "E2": ev[..., 2]}


def dos_columns(E_K, B_T, values: dict) -> dict:
    """g_ATS(E, B) [1/(K g)] of Eqs. (12-13)."""
    require(values, ("D_min", "D0min_qS", "D0max_qS", "Pn"), "dos")
    p = ats_params(values)
    E = require_positive(np.asarray(E_K, np.float64), "E", "K")
    B = require_nonnegative(np.asarray(B_T, np.float64), "B", "T")
    return {"E_K": E, "B_T": B, "g_ATS_per_K_per_g": np.asarray(g_ats(E, B, p, values["Pn"]), np.float64)}
