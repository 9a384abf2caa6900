"""The bridge from simulated tunneling systems to observables computed by ``etm``.

The simulated empirical distribution of (Delta, Delta0) -- one term per DWP of the
catalogue, not the assumed STM form P-bar/Delta0 (seed Eq. 2) -- goes into etm:

* C_p(T) = k_B sum_i C0(E_i, T) / mass  (seed Eqs. 14-15 with the DOS a sum of delta
  functions at the splittings E_i = sqrt(Delta_i^2 + Delta0_i^2); ``etm.heat_capacity.schottky``),
  its linear coefficient gamma (least squares C = gamma T) and the deviation from
  linearity (the exponent of C ~ T^(1+alpha) and max |C/(gamma T) - 1|); next to it the
  STM line gamma T with P-bar fitted to it (``etm.heat_capacity.stm_linear_coefficient``);
* the resonant and relaxation Delta eps'/eps'(T) (seed Eqs. 32-51) from the same discrete
  systems through ``etm.dielectric``'s from-systems functions, with their log slopes and T0;
* the two-pulse echo amplitude against tau12 (seed Eqs. 76-88) through ``etm.echo``;
* TWPs in a field (:func:`twp_field_predictions`): the exact spectra of the 3-level
  Hamiltonian of seed Eq. 6 with one amplitude per saddle and the Aharonov-Bohm phase of Eq. 7
  from each TWP's loop area (``etm.levels``), orientation averaged: C_p(T, B) from the 3-level
  partition function, M(T, B) = -dF/dB, the resonant Delta eps'(T, B)/eps' of the well
  dipoles, and the echo amplitude against B through the lowest pair of levels.

Normalisation: observables are per gram of simulated glass (n_glasses * N particles of
mass m each, etm's convention), P-bar in J^-1 m^-3 (volume n_glasses * N / rho sigma^3).
Statistical errors: bootstrap over glasses (analysis.distributions.bootstrap_indices).
"""

from __future__ import annotations

import numpy as np

from analysis.distributions import resample_counts
from etm import dielectric as diel
from etm import echo as ec
from etm.heat_capacity import schottky, stm_linear_coefficient
from etm.levels import (
    heat_capacity_levels,
    moment_levels,
    spectrum_3ls,
    susceptibility_levels,
    twp_dipole_overlaps,
)
from etm.units import EPS0, FLUX_PHASE_PER_T_K_A2, K_B


def sample_mass_g(n_glasses: int, n_particles: int, particle_mass_kg: float) -> float:
    """Mass of the simulated glass in grams."""
    return n_glasses * n_particles * particle_mass_kg * 1e3


def heat_capacity_systems(T_K, E_K, mass_g: float) -> np.ndarray:
    """C(T) [J/(g K)] of independent 2LSs with gaps E_K (seed Eqs. 14-15, delta-function DOS)."""
    T = np.asarray(T_K, float)
    E = np.asarray(E_K, float)
    if E.size == 0:
        return np.zeros_like(T)
    return K_B * np.asarray(schottky(E[None, :], T[:, None])).sum(axis=1) / mass_g


def fit_linear(T_K, C) -> dict:
    """gamma of C = gamma T (least squares), alpha of C = a T^(1+alpha) (log-log), max deviation."""
    T, C = np.asarray(T_K, float), np.asarray(C, float)
    ok = C > 0
    if ok.sum() < 3:
        return {"gamma_J_gK2": 0.0, "alpha": float("nan"), "max_rel_deviation": float("nan")}
    gamma = float((T[ok] * C[ok]).sum() / (T[ok] ** 2).sum())
    slope, _ = np.polyfit(np.log(T[ok]), np.log(C[ok]), 1)
    dev = np.abs(C[ok] / (gamma * T[ok]) - 1.0)
    return {"gamma_J_gK2": gamma, "alpha": float(slope - 1.0), "max_rel_deviation": float(dev.max())}


#: a P-bar fitted to C_p means something only when many systems have gaps in the fitted range and
#: C is close to linear there: at least this many gaps within [T_min, 5 T_max] ...
MIN_SYSTEMS_FOR_PBAR_FIT = 20
#: ... and C ~ T^(1 + alpha) with |alpha| at most this
MAX_ALPHA_FOR_PBAR_FIT = 0.5


def fit_support(E_K, T_K, fit: dict) -> dict:
    """Whether the statistics support a P-bar fitted to C_p (``supported``, ``why``): a sum of a
    handful of Schottky peaks is no linear specific heat (seed Eq. 15 needs a smooth DOS)."""
    T = np.asarray(T_K, float)
    E = np.asarray(E_K, float)
    n = int(np.sum((E >= T.min()) & (E <= 5 * T.max())))
    why = []
    if n < MIN_SYSTEMS_FOR_PBAR_FIT:
        why.append(
            f"only {n} systems have gaps in [{T.min():g}, {5 * T.max():g}] K "
            f"(need {MIN_SYSTEMS_FOR_PBAR_FIT})"
        )
    alpha = fit.get("alpha", float("nan"))
    if not (np.isfinite(alpha) and abs(alpha) <= MAX_ALPHA_FOR_PBAR_FIT):
        why.append(f"C is not linear in T (C ~ T^(1 + alpha), alpha = {alpha:.3g})")
    return {"n_systems_in_range": n, "supported": not why, "why_not": "; ".join(why)}


def pbar_from_gamma(gamma_J_gK2: float, mass_density_g_m3: float) -> float:
    """P-bar [J^-1 m^-3] of the STM whose linear term gamma T equals the given one.

    gamma = (pi^2/6) k_B g0 with g0 = P-bar per K per g (etm.heat_capacity.stm_linear_coefficient),
    so P-bar = g0 * rho_mass / k_B.
    """
    g0 = gamma_J_gK2 / stm_linear_coefficient(1.0)
    return g0 * mass_density_g_m3 / K_B


def heat_capacity_prediction(
    dwps: dict, glasses, n_particles: int, units: dict, T_K, n_boot=200, seed=0
) -> dict:
    """C_p(T) of the simulated DWPs, its bootstrap band, linear fit and the fitted-P-bar STM line."""
    glasses = np.asarray(glasses)
    mass_g = sample_mass_g(len(glasses), n_particles, units["particle_mass_kg"])
    E, glass = _splitting_K(dwps)
    # C is a sum over systems: per-glass sums once, then resampled glass multiplicities
    S = K_B * np.asarray(schottky(E[None, :], np.asarray(T_K, float)[:, None])) / mass_g  # (nT, n_sys)
    per_glass = (S @ (glass[:, None] == np.asarray(glasses)[None, :])).T  # (n_glasses, nT)
    C = per_glass.sum(axis=0)
    boots = resample_counts(len(glasses), n_boot, seed) @ per_glass
    err = np.std(boots, axis=0) if n_boot and len(glasses) > 1 else np.zeros_like(C)
    fit = fit_linear(T_K, C)
    rho_mass = units["number_density_m3"] * units["particle_mass_kg"] * 1e3
    fit["Pbar_fit_J_m3"] = pbar_from_gamma(fit["gamma_J_gK2"], rho_mass)
    fit.update(fit_support(E, T_K, fit))
    return {
        "T_K": np.asarray(T_K, float),
        "C_J_gK": C,
        "C_err": err,
        "C_stm_J_gK": fit["gamma_J_gK2"] * np.asarray(T_K, float),
        "fit": fit,
        "mass_g": mass_g,
    }


def _splitting_K(dwps: dict) -> tuple[np.ndarray, np.ndarray]:
    """Finite splittings [K] and their glass indices."""
    if "splitting_K" in dwps:
        E = np.asarray(dwps["splitting_K"], float)
    elif "Delta_K" in dwps:
        E = np.hypot(np.asarray(dwps["Delta_K"], float), np.asarray(dwps["Delta0_K"], float))
    else:
        E = np.zeros(0)
    glass = np.asarray(dwps.get("glass", np.zeros(len(E), int)))
    ok = np.isfinite(E)
    return E[ok], glass[ok]


# ----------------------------------------------------------------------------------- TWPs
#: Assumptions of the TWP predictions in a field (stated in the report): the simulated particles
#: are neutral, so the tunnelling charge |q/e| is an assumption; the loop area S is the largest
#: per-particle oriented area of the TWP; the field direction is isotropic with respect to the
#: loop normal (average over cos(beta) in [0, 1] by Gauss-Legendre); the three wells carry
#: dipoles p0 (DIELECTRIC_DEFAULTS) at 120 degrees (etm.levels.twp_dipole_overlaps); the echo
#: drives the lowest pair of levels as an effective 2LS with the dephasing time of ECHO_SETUP.
TWP_DEFAULTS = {"charge_e": 1.0, "orientation_nodes": 8, "n_fields": 41, "B_max_T": 1.0}


def _twp_arrays(twps: dict, units: dict):
    """Well energies E (n, 3) [K], amplitudes D (n, 3) [K] (saddles 12, 23, 31), loop areas S (n,) [A^2]."""
    kpe = units["kelvin_per_epsilon"]
    E = np.stack([twps["E1"], twps["E2"], twps["E3"]], axis=1).astype(float) * kpe
    D = np.abs(np.asarray(twps["D0"], float)).reshape(-1, 3) * kpe
    S = np.abs(np.asarray(twps["loop_area_particle_max"], float)) * (units["length_m"] * 1e10) ** 2
    return E, D, S


def twp_phase(twps: dict, fields_T, units: dict, charge_e: float = 1.0, cos_beta=1.0) -> np.ndarray:
    """A-B phase phi = 2 pi (e/h) |q/e| B S cos(beta) [rad] (seed Eq. 7), shape (n, nB, *cos_beta.shape)."""
    _, _, S = _twp_arrays(twps, units)
    B = np.asarray(fields_T, float)
    c = np.asarray(cos_beta, float)
    extra = (None,) * c.ndim
    Sx, Bx = S[(slice(None), None, *extra)], B[(None, slice(None), *extra)]
    return FLUX_PHASE_PER_T_K_A2 * charge_e * Sx * Bx * c


def twp_levels(twps: dict, fields_T, units: dict, charge_e: float = 1.0) -> np.ndarray:
    """Exact spectra (n_twp, n_B, 3) [K] of seed Eq. 6 (one amplitude per saddle), B along the loop normal.

    Well energies E1..E3 and the amplitudes D0 of the three saddles come from the catalogue
    (reduced -> K); phi from :func:`twp_phase` with cos(beta) = 1.
    """
    E, D, _ = _twp_arrays(twps, units)
    phi = twp_phase(twps, fields_T, units, charge_e)
    return spectrum_3ls(E[:, None, :], D[:, None, :], phi)[0]


def twp_field_predictions(
    twps: dict, glasses, settings: dict, T_K, dwp_echo_J: float = 0.0, fields_T=None
) -> dict:
    """C_p(T, B), M(T, B), Delta eps'(T, B)/eps' and the echo amplitude against B of the TWPs.

    Exact spectra of seed Eq. 6 with the three amplitudes of each TWP and the A-B phase of
    Eq. 7 from its loop area (:func:`twp_phase`; charge and orientation: :data:`TWP_DEFAULTS`),
    through :mod:`etm.levels`:

    * C = k_B sum C/k_B(levels) / mass [J/(g K)];
    * M = k_B sum <-dE/dB> / mass [A m^2/g] (M = -dF/dB; dE/dB = dE/dphi dphi/dB);
    * Delta eps'/eps' = w sum chi, w = p0^2/(eps0 eps_r V) per system (as the DWPs'), chi the
      resonant (van Vleck, seed Eq. 32 for two levels) response of the well dipoles; ``deps_rel``
      is Delta eps'(T, B) - Delta eps'(T, 0) (the convention of Eq. 51); the relaxation
      (population) part of the static response is ``deps_relaxation`` (omega tau << 1 limit);
    * echo: the lowest pair as a 2LS (gap E1 - E0, Rabi frequency from <0|p|1>, rate 1/tau_phi)
      in :func:`etm.echo.echo_integral_from_systems` at the set-up of :data:`ECHO_SETUP`;
      ``echo_rel`` = (J_DWP + J_TWP(B)) / (J_DWP + J_TWP(0)) with the DWPs' J ``dwp_echo_J``
      (field independent), ``echo_twp_rel`` the TWPs' J(B)/J(0).

    Orientation: every observable is averaged over cos(beta) (field against loop normal).
    """
    n = len(np.asarray(twps.get("id", [])))
    if n == 0:
        return {"n_twps": 0}
    a = {**TWP_DEFAULTS, **settings.get("twp", {})}
    e = {**ECHO_SETUP, **settings.get("echo", {})}
    units = settings["units"]
    charge = float(settings.get("charge_e", a["charge_e"]))
    fields = np.asarray(settings.get("fields_T", [0.0, 1.0]) if fields_T is None else fields_T, float)
    B_max = max(float(fields.max()), a["B_max_T"])
    B = np.unique(np.concatenate([np.linspace(0.0, B_max, int(a["n_fields"])), fields]))
    T = np.asarray(T_K, float)
    x, wx = np.polynomial.legendre.leggauss(int(a["orientation_nodes"]))
    cb, wb = 0.5 * (x + 1.0), 0.5 * wx  # cos(beta) in [0, 1], weights sum to 1
    E, D, S = _twp_arrays(twps, units)
    phi = twp_phase(twps, B, units, charge, cb)  # (n, nB, nb)
    lev, vec, dphi = spectrum_3ls(E[:, None, None, :], D[:, None, None, :], phi)
    dphi_dB = FLUX_PHASE_PER_T_K_A2 * charge * S[:, None, None] * cb  # (n, 1, nb)
    dB = dphi * dphi_dB[..., None]  # dE_k/dB [K/T]
    off2, diag = twp_dipole_overlaps(vec)
    mass_g = sample_mass_g(len(glasses), settings["n_particles"], units["particle_mass_kg"])
    w_K = _dipole_weight_K(glasses, settings)
    nT, nB = T.size, B.size
    C, M, eps_res, eps_rel = (np.zeros((nT, nB)) for _ in range(4))
    for i, t in enumerate(T):
        C[i] = K_B * (heat_capacity_levels(t, lev) @ wb).sum(axis=0) / mass_g
        M[i] = K_B * (moment_levels(t, lev, dB) @ wb).sum(axis=0) / mass_g
        res, rel = susceptibility_levels(t, lev, off2, diag)
        eps_res[i] = w_K * (res @ wb).sum(axis=0)
        eps_rel[i] = w_K * (rel @ wb).sum(axis=0)
    # echo of the lowest pair, at the set-up temperature and delay
    gap = lev[..., 1] - lev[..., 0]
    p0F0 = _pi_half_p0F0(e)
    rabi = ec.RABI_PER_D_KV_M * p0F0 * np.sqrt(off2[..., 0, 1])
    J = np.zeros(nB)
    ok = (gap > 0) & (rabi > 0)
    for k in range(nB):
        m = ok[:, k, :]
        if m.any():
            Jk = ec.echo_integral_from_systems(
                gap[:, k, :][m],
                rabi[:, k, :][m],
                np.full(int(m.sum()), 1.0 / e["tau_phi_s"]),
                np.broadcast_to(wb, m.shape)[m],
                tau12_s=e["tau12_s"],
                **_echo_kw(e),
            )
            J[k] = float(np.asarray(Jk)[0])
    total = dwp_echo_J + J
    # relative to B = 0; NaN when the zero-field value vanishes (e.g. a degenerate lowest pair)
    rel = lambda y: y / y[0] if abs(y[0]) > 1e-12 * np.abs(y).max() else np.full_like(y, np.nan)  # noqa: E731
    i_fields = [int(np.argmin(np.abs(B - f))) for f in fields]
    # size of the A-B effect: the level shift up to B_max along the loop normal (dE/dphi is linear
    # in phi for small phi, so the shift is about (1/2) |dE/dphi| phi) against the float64
    # resolution of the levels; below it, eps'(B) and the echo(B) from eigenvectors are round-off
    shift_K = 0.5 * np.abs(dphi[:, -1, -1, :]).max(axis=-1) * np.abs(phi[:, -1, -1])
    resolution_K = 1e-15 * np.abs(lev[:, -1, -1, :]).max(axis=-1)
    return {
        "n_twps": n,
        "charge_e": charge,
        "assumptions": {**a, "charge_e": charge, "p0_debye": _dielectric_assumptions(settings)["p0_debye"]},
        "echo_setup": e,
        "T_K": T,
        "B_T": B,
        "fields_T": fields,
        "field_index": i_fields,
        "C_J_gK": C,
        "M_Am2_g": M,
        "deps": eps_res,
        "deps_rel": eps_res - eps_res[:, :1],
        "deps_relaxation": eps_rel,
        "echo_twp_J": J,
        "echo_twp_rel": rel(J),
        "echo_rel": rel(total),
        "dwp_echo_J": float(dwp_echo_J),
        "levels_K": lev[:, :, -1, :],  # field along the loop normal (largest cos(beta) node)
        "phi_max_rad": phi[:, -1, -1],
        "level_shift_K": shift_K,
        "level_resolution_K": resolution_K,
        "field_resolved": bool(np.any(shift_K > resolution_K)),
    }


def twp_markdown(d, fmt) -> list[str]:
    """Report lines of the TWP field predictions."""
    a = d["assumptions"]
    i = d["field_index"][-1]
    Bf = d["B_T"][i]
    iT = [0, len(d["T_K"]) // 2, len(d["T_K"]) - 1]
    note = (
        []
        if d["field_resolved"]
        else [
            "",
            "**The A-B effect of these TWPs is below float64 resolution**: the changes of eps' and of the "
            "echo with B shown below are round-off (M uses the closed-form dE/dphi and stays exact; it is "
            "tiny).",
        ]
    )
    L = [
        "Exact 3-level spectra of seed Eq. 6 (one amplitude per saddle) with the Aharonov-Bohm phase of "
        "Eq. 7 from each TWP's largest per-particle loop area; the simulated particles are neutral, so the "
        f"charge |q/e| = {a['charge_e']:g} is an assumption; field direction averaged over the loop normal "
        f"({a['orientation_nodes']} Gauss-Legendre nodes in cos beta); well dipoles {a['p0_debye']:g} D at "
        f"120 degrees (etm.levels). Largest A-B phase at {d['B_T'][-1]:g} T: "
        f"{fmt(float(np.max(d['phi_max_rad'])))} rad; largest level shift "
        f"{fmt(float(np.max(d['level_shift_K'])))} K against a float64 resolution of the levels of "
        f"{fmt(float(np.min(d['level_resolution_K'])))} K.",
        *note,
        "",
        "| T [K] | C(B = 0) [J/(g K)] | C(B) - C(0) | M(B) [A m^2/g] | Delta eps'(B) - Delta eps'(0) |",
        "|---|---|---|---|---|",
    ]
    for k in iT:
        L.append(
            f"| {fmt(d['T_K'][k])} | {fmt(d['C_J_gK'][k, 0])} | "
            f"{fmt(d['C_J_gK'][k, i] - d['C_J_gK'][k, 0])} | {fmt(d['M_Am2_g'][k, i])} | "
            f"{fmt(d['deps_rel'][k, i])} |"
        )
    L += [
        "",
        f"(field B = {Bf:g} T.) Echo amplitude at {d['echo_setup']['T_K'] * 1e3:g} mK, tau12 = "
        f"{d['echo_setup']['tau12_s'] * 1e6:g} us, DWPs + TWPs relative to B = 0: "
        + ", ".join(
            f"{b:g} T: {fmt(v, '.6g')}"
            for b, v in zip(
                d["B_T"][:: max(1, len(d["B_T"]) // 5)],
                d["echo_rel"][:: max(1, len(d["B_T"]) // 5)],
                strict=True,
            )
        ),
    ]
    return L


# ----------------------------------------------------------------------------- dielectric
#: Assumptions of the dielectric and echo predictions (the simulated particles carry no dipole):
#: one elastic dipole p0 per DWP, the relative permittivity of the host, and the elastic
#: coupling of the one-phonon relaxation time (seed Eq. 39): deformation potentials and sound
#: speeds typical of glasses. Every prediction is shown next to the STM with the same values.
DIELECTRIC_DEFAULTS = {
    "p0_debye": 1.0,
    "eps_r": 4.0,
    "gamma_def_eV": 1.0,
    "v_l_m_s": 3000.0,
    "v_t_m_s": 1800.0,
}
DEBYE_C_M = 3.33564e-30


def _dielectric_assumptions(settings: dict) -> dict:
    return {**DIELECTRIC_DEFAULTS, **settings.get("dielectric", {})}


def _dipole_weight_K(glasses, settings: dict) -> float:
    """w = p0^2 / (eps0 eps_r V) per system [K] (V: the volume of the simulated glasses)."""
    u = settings["units"]
    a = _dielectric_assumptions(settings)
    volume_m3 = len(glasses) * settings["n_particles"] / u["number_density_m3"]
    p0 = a["p0_debye"] * DEBYE_C_M
    return p0**2 / (EPS0 * a["eps_r"] * volume_m3) / K_B


def _dielectric_inputs(dwps, glasses, settings):
    u = settings["units"]
    a = _dielectric_assumptions(settings)
    E = np.asarray(dwps.get("splitting_K", np.zeros(0)), float)
    D0 = np.asarray(dwps.get("Delta0_K", np.zeros(0)), float)
    glass = np.asarray(dwps.get("glass", np.zeros(0, int)))
    ok = np.isfinite(E) & np.isfinite(D0) & (E > 0)
    E, D0, glass = E[ok], np.minimum(np.abs(D0[ok]), E[ok]), glass[ok]
    p0 = a["p0_debye"] * DEBYE_C_M
    w_K = _dipole_weight_K(glasses, settings)
    rho_kg_m3 = u["number_density_m3"] * u["particle_mass_kg"]
    ev = 1.602176634e-19
    gamma = diel.stm_gamma_from_elastic(
        rho_kg_m3, a["gamma_def_eV"] * ev, a["gamma_def_eV"] * ev, a["v_l_m_s"], a["v_t_m_s"]
    )
    return E, D0, glass, w_K, gamma, p0, a


def _log_slope(T, y, lo, hi):
    m = (T >= lo) & (T <= hi) & np.isfinite(y)
    if m.sum() < 3:
        return float("nan")
    return float(np.polyfit(np.log(T[m]), y[m], 1)[0])


def dielectric_prediction(dwps: dict, glasses, settings: dict, T_K) -> dict:
    """Resonant + relaxation Delta eps'/eps'(T) of the simulated DWPs (seed Eqs. 32-40, etm).

    Weights w = p0^2 / (eps0 eps_r V) per system; relaxation times from seed Eq. (39) with
    gamma from :data:`DIELECTRIC_DEFAULTS`. Next to it the STM (seed Eq. 35) with
    C = P-bar p0^2/(eps0 eps_r), P-bar fitted to C_p, Delta0_min and E_max of the sample.
    Log slopes are fitted below T0/3 (resonant) and above 3 T0 (relaxation); T0 = seed Eq. (38).
    """
    omega = 2 * np.pi * settings.get("frequency_Hz", 1e3)
    E, D0, glass, w_K, gamma, p0, a = _dielectric_inputs(dwps, glasses, settings)
    T0 = float(diel.stm_T0(gamma, omega))
    T_K = np.asarray(T_K, float)
    # the grid reaches well below T0, so that both branches of the V are visible
    T = np.geomspace(min(T_K.min(), T0 / 30), T_K.max(), len(T_K))
    out = {
        "T_K": T,
        "omega_rad_s": omega,
        "assumptions": a,
        "gamma_s_K3": gamma,
        "T0_K": T0,
        "n_systems": int(E.size),
    }
    if E.size == 0:
        return out
    w = np.full(E.size, w_K)
    res = np.asarray(diel.deps_stm_resonant_from_systems(T, E, D0, w))
    rel = np.asarray(diel.deps_stm_relaxation_from_systems(T, omega, E, D0, w, gamma_s_K3=gamma))
    res0 = np.asarray(diel.deps_stm_resonant_from_systems(np.array([T.min() * 1e-3]), E, D0, w))[0]
    out.update(resonant=res - res0, relaxation=rel, total=res - res0 + rel)
    pbar = settings.get("Pbar_fit_J_m3", 0.0)
    C = pbar * p0**2 / (EPS0 * a["eps_r"])
    out["C_stm"] = C
    e_hi = float(E.max()) / 10  # the asymptotes need T well below the largest splitting
    out["slopes"] = {
        "resonant_sim": _log_slope(T, out["resonant"], T.min(), min(T0 / 3, e_hi)),
        "relaxation_sim": _log_slope(T, rel, 3 * T0, min(T.max(), e_hi)),
        "resonant_stm": diel.stm_log_slopes(C)[0],
        "relaxation_stm": diel.stm_log_slopes(C)[1],
    }
    D0p = D0[D0 > 0]
    if C > 0 and D0p.size:
        d0min, emax = float(D0p.min()), float(max(E.max(), 2 * D0p.min()))
        out["stm_resonant"] = np.asarray(diel.deps_stm_resonant(T, C, d0min, emax))
        out["stm_relaxation"] = np.asarray(diel.deps_stm_relaxation(T, omega, C, d0min, emax, gamma))
        out["stm_cutoffs_K"] = (d0min, emax)
    i = int(np.argmin(out["total"]))
    out["T_min_total_K"] = float(T[i])
    return out


def fig_dielectric(d, path, plot):
    if "resonant" not in d:
        return None
    T = d["T_K"]
    curves = {
        "resonant (simulated)": (T, d["resonant"], "C0-"),
        "relaxation (simulated)": (T, d["relaxation"], "C1-"),
        "total (simulated)": (T, d["total"], "k-"),
    }
    if "stm_resonant" in d:
        curves["STM resonant, fitted P-bar"] = (T, d["stm_resonant"] - d["stm_resonant"][0], "C0--")
        curves["STM relaxation, fitted P-bar"] = (T, d["stm_relaxation"], "C1--")
    return plot(
        curves,
        path,
        "T [K]",
        "Delta eps'/eps'",
        f"dielectric constant at {d['omega_rad_s'] / 2 / np.pi:g} Hz (T0 = {d['T0_K']:.3g} K)",
    )


def dielectric_markdown(d, fmt) -> list[str]:
    L = ["### Dielectric constant", ""]
    if "resonant" not in d:
        return L + ["No DWP with a finite splitting: no dielectric prediction."]
    s, a = d["slopes"], d["assumptions"]
    return L + [
        f"Resonant + relaxation Delta eps'/eps'(T) of the simulated systems (seed Eqs. 32-34, etm from-systems "  # noqa: E501
        f"functions) at {d['omega_rad_s'] / 2 / np.pi:g} Hz. Assumed: p0 = {a['p0_debye']:g} D, eps_r = {a['eps_r']:g}, "  # noqa: E501
        f"deformation potential {a['gamma_def_eV']:g} eV, v_l = {a['v_l_m_s']:g} m/s, v_t = {a['v_t_m_s']:g} m/s "  # noqa: E501
        f"(gamma = {fmt(d['gamma_s_K3'])} s K^3).",
        "",
        "| | simulated | STM (fitted P-bar) |",
        "|---|---|---|",
        f"| d(Delta eps'/eps')/d ln T, resonant (T < T0/3) | {fmt(s['resonant_sim'])} | {fmt(s['resonant_stm'])} |",  # noqa: E501
        f"| d(Delta eps'/eps')/d ln T, relaxation (T > 3 T0) | {fmt(s['relaxation_sim'])} | {fmt(s['relaxation_stm'])} |",  # noqa: E501
        f"| minimum of the total (simulated) / T0 of Eq. 38 (STM) [K] | {fmt(d['T_min_total_K'])} | {fmt(d['T0_K'])} |",  # noqa: E501
    ]


# ----------------------------------------------------------------------------- echo
#: Two-pulse echo set-up of the predictions: etm's one set of echo defaults
#: (:data:`etm.echo.ECHO_DEFAULTS`: 1 GHz, 12 mK, pulses of 0.1 and 0.2 us, tau12 = 2 us) plus two
#: choices for discrete simulated systems: detection phase tan(omega dtau) = 1 (both quadratures of
#: seed Eq. 76; at exact resonance the C term vanishes and only S tan(omega dtau) remains) and a
#: dephasing time of 10 us (the simulated systems have no spectral-diffusion constant). The first
#: pulse is a pi/2 rotation for the average system (:func:`_pi_half_p0F0`).
ECHO_SETUP = {**ec.ECHO_DEFAULTS, "tan_omega_dtau": 1.0, "tau_phi_s": 1e-5}


def _echo_kw(setup: dict) -> dict:
    """The keywords of :func:`etm.echo.echo_integral_from_systems` from an echo set-up (but tau12)."""
    return {k: setup[k] for k in ("T_K", "freq_Hz", "tau1_s", "tau2_s", "tan_omega_dtau")}


def _pi_half_p0F0(setup: dict) -> float:
    """p0 F0 [D kV/m] of a pi/2 first pulse for a resonant system with Delta0 = E: Omega tau1 = pi/2."""
    return 0.5 * np.pi / (setup["tau1_s"] * ec.RABI_PER_D_KV_M / np.sqrt(3.0))


def _stm_sample(E, D0, n_grid=60):
    """Quadrature 'systems' of the STM P(Delta, Delta0) = 1/Delta0 over the sample's cutoffs.

    Returns (Delta, Delta0, weight) with weights that integrate to the number of systems per unit
    P-bar (so weight * P-bar * volume is a number of systems); cutoffs: Delta in [0, max E],
    Delta0 in [min Delta0 > 0, max E].
    """
    D0p = D0[D0 > 0]
    emax, d0min = float(E.max()), float(D0p.min())
    xs, wx = np.polynomial.legendre.leggauss(n_grid)
    Dl = 0.5 * emax * (xs + 1)
    wD = 0.5 * emax * wx
    ls = 0.5 * np.log(emax / d0min) * (xs + 1) + np.log(d0min)
    wl = 0.5 * np.log(emax / d0min) * wx
    Dg, Lg = np.meshgrid(Dl, ls, indexing="ij")
    return Dg.ravel(), np.exp(Lg.ravel()), np.outer(wD, wl).ravel()


def echo_prediction(dwps: dict, glasses, settings: dict) -> dict:
    """Two-pulse echo of the simulated DWPs against tau12 (the TWPs' echo against field:
    :func:`twp_field_predictions`).

    Discrete ensembles through :func:`etm.echo.two_level_echo_systems` and
    :func:`etm.echo.echo_integral_from_systems` (seed Eqs. 62-79) at the set-up
    :data:`ECHO_SETUP`; the STM reference is the same integral over the STM distribution with the
    P-bar fitted to C_p (:func:`_stm_sample`). Each curve is relative to its own value at the
    shortest tau12 (only ratios are observable; seed section 6). ``J_at_tau12`` is the DWPs'
    echo integral at the set-up's tau12 (the field-independent part of the echo against field).
    """
    a = {**ECHO_SETUP, **settings.get("echo", {})}
    E, D0, glass, w_K, gamma, p0, da = _dielectric_inputs(dwps, glasses, settings)
    tau12 = np.geomspace(1e-7, 1e-4, 40)
    out = {"assumptions": a, "tau12_s": tau12, "n_systems": int(E.size), "J_at_tau12": 0.0}
    ok = D0 > 0
    if ok.sum() == 0:
        return out
    Dl = np.sqrt(np.maximum(E[ok] ** 2 - D0[ok] ** 2, 0.0))
    p0F0 = _pi_half_p0F0(a)
    kw = _echo_kw(a)
    Es, rabi, rate = ec.two_level_echo_systems(
        Dl, D0[ok], T_K=a["T_K"], p0F0_D_kV_m=p0F0, gamma_s_K3=gamma, tau_phi_s=a["tau_phi_s"]
    )
    sim = np.asarray(ec.echo_integral_from_systems(Es, rabi, rate, np.ones(Es.size), tau12_s=tau12, **kw))
    Ds, D0s, ws = _stm_sample(E[ok], D0[ok])
    pbar = settings.get("Pbar_fit_J_m3", 0.0)
    u = settings["units"]
    volume_m3 = len(glasses) * settings["n_particles"] / u["number_density_m3"]
    n_per_weight = pbar * K_B * volume_m3  # systems per unit (K * dlnDelta0) weight
    Et, rt, rrt = ec.two_level_echo_systems(
        Ds, D0s, T_K=a["T_K"], p0F0_D_kV_m=p0F0, gamma_s_K3=gamma, tau_phi_s=a["tau_phi_s"]
    )
    stm = np.asarray(ec.echo_integral_from_systems(Et, rt, rrt, ws * n_per_weight, tau12_s=tau12, **kw))
    # only the decay with tau12 is observable without the unknown prefactor (seed section 6):
    # each curve is shown relative to its own value at the shortest tau12
    rel = lambda y: y / y[0] if y[0] != 0 else np.zeros_like(y)  # noqa: E731
    resonant = np.abs(Es * ec.OMEGA_PER_K - 2 * np.pi * a["freq_Hz"]) < 5 * rabi
    J0 = ec.echo_integral_from_systems(Es, rabi, rate, np.ones(Es.size), tau12_s=a["tau12_s"], **kw)
    out.update(
        sim=rel(sim),
        stm=rel(stm),
        sim_abs=sim,
        p0F0_D_kV_m=p0F0,
        n_resonant=int(resonant.sum()),
        J_at_tau12=float(np.asarray(J0)[0]),
    )
    return out


def fig_echo(d, path, plot):
    if "sim" not in d:
        return None
    curves = {
        "simulated DWPs": (d["tau12_s"], d["sim"], "C0-"),
        "STM, fitted P-bar": (d["tau12_s"], d["stm"], "k--"),
    }
    return plot(
        curves,
        path,
        "tau12 [s]",
        "echo amplitude (relative)",
        f"two-pulse echo at {d['assumptions']['freq_Hz'] / 1e9:g} GHz, T = {d['assumptions']['T_K'] * 1e3:g} mK",  # noqa: E501
    )


def echo_markdown(d, fmt) -> list[str]:
    L = ["### Polarization echo", ""]
    if "sim" not in d:
        return L + ["No DWP with Delta0 > 0: no echo prediction."]
    a = d["assumptions"]
    L += [
        f"Two-pulse echo (seed Eqs. 62-79, etm from-systems functions) at {a['freq_Hz'] / 1e9:g} GHz, "
        f"T = {a['T_K'] * 1e3:g} mK, pulses {a['tau1_s'] * 1e6:g}/{a['tau2_s'] * 1e6:g} us, dephasing time "
        f"{a['tau_phi_s'] * 1e6:g} us; {d['n_resonant']} of {d['n_systems']} simulated systems lie within 5 Rabi "  # noqa: E501
        "frequencies of resonance. Amplitudes relative to the simulated echo at the shortest tau12; the STM curve "  # noqa: E501
        "uses the P-bar fitted to C_p on the same scale."
    ]
    return L
