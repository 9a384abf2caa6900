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
* the two-pulse echo amplitude against tau12 and field (seed Eqs. 76-88) through ``etm.echo``;
* TWPs: the 3-level Hamiltonian of seed Eq. 6 with the Aharonov-Bohm phase of Eq. 7
  (``etm.hamiltonian.eigenvalues_3ls``), its field-dependent heat capacity C_p(T, B) from
  the 3-level partition function, and eps'(B), echo through the lowest two levels.

Normalisation: observables are per gram of simulated glass (n_glasses * N particles of
mass m each, etm's convention), P-bar in J^-1 m^-3 (volume n_glasses * N / rho sigma^3).
Statistical errors: bootstrap over glasses (analysis.distributions.bootstrap_indices).
"""

from __future__ import annotations

import numpy as np

from analysis.distributions import resample_counts
from etm.heat_capacity import schottky, stm_linear_coefficient
from etm.units import FLUX_PHASE_PER_T_K_A2, K_B


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


def heat_capacity_levels(T_K, levels_K) -> np.ndarray:
    """C/k_B of one multi-level system with levels (..., L) [K] at T (...) from its partition function.

    C/k_B = (<E^2> - <E>^2) / T^2; for two levels this is the Schottky form of seed Eq. 15.
    """
    T = np.asarray(T_K, float)[..., None]
    E = np.asarray(levels_K, float)
    E = E - E.min(axis=-1, keepdims=True)
    w = np.exp(-E / T)
    Z = w.sum(axis=-1)
    m1 = (w * E).sum(axis=-1) / Z
    m2 = (w * E**2).sum(axis=-1) / Z
    return (m2 - m1**2) / np.asarray(T_K, float) ** 2


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
def twp_levels(twps: dict, fields_T, units: dict, charge_e: float = 1.0) -> np.ndarray:
    """Spectra (n_twp, n_B, 3) [K] of the 3-level Hamiltonian (seed Eq. 6) in fields B [T].

    Well energies E1..E3 and the mean of the three amplitudes D0 come from the catalogue
    (reduced -> K); the Aharonov-Bohm phase is phi = 2 pi (e/h) B |q/e| S (seed Eq. 7) with S
    the largest per-particle oriented loop area (sigma^2 -> Angstrom^2) and charge |q/e| = charge_e
    (the simulated particles are neutral: the charge is an assumption stated in the report).
    """
    from etm.hamiltonian import eigenvalues_3ls

    kpe = units["kelvin_per_epsilon"]
    B = np.asarray(fields_T, float)
    E = np.stack([twps["E1"], twps["E2"], twps["E3"]], axis=1) * kpe
    D0 = np.abs(np.asarray(twps["D0"], float)).mean(axis=1) * kpe
    area_A2 = (
        np.abs(np.asarray(twps.get("loop_area_particle_max", np.zeros(len(D0))), float))
        * (units["length_m"] * 1e10) ** 2
    )
    phi = FLUX_PHASE_PER_T_K_A2 * B[None, :] * (charge_e * area_A2)[:, None]
    D0 = np.where(D0 > 0, D0, 1e-300)
    return np.asarray(eigenvalues_3ls(E[:, 0, None], E[:, 1, None], E[:, 2, None], D0[:, None], phi))


def twp_heat_capacity(
    twps: dict, glasses, n_particles: int, units: dict, T_K, fields_T, charge_e: float = 1.0
) -> dict:
    """C_p(T, B) [J/(g K)] of the TWPs, from the exact 3-level spectra in each field."""
    n = len(np.asarray(twps.get("id", [])))
    T = np.asarray(T_K, float)
    B = np.asarray(fields_T, float)
    if n == 0:
        return {"n_twps": 0}
    mass_g = sample_mass_g(len(glasses), n_particles, units["particle_mass_kg"])
    lev = twp_levels(twps, B, units, charge_e)  # (n, nB, 3)
    C = K_B * heat_capacity_levels(T[:, None, None], lev[None, :, :, :]).sum(axis=1) / mass_g  # (nT, nB)
    return {"n_twps": n, "T_K": T, "B_T": B, "C_J_gK": C, "levels_K": lev, "charge_e": charge_e}


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


def _dielectric_inputs(dwps, glasses, settings):
    from etm.units import EPS0

    u = settings["units"]
    a = {**DIELECTRIC_DEFAULTS, **settings.get("dielectric", {})}
    E = np.asarray(dwps.get("splitting_K", np.zeros(0)), float)
    D0 = np.asarray(dwps.get("Delta0_K", np.zeros(0)), float)
    glass = np.asarray(dwps.get("glass", np.zeros(0, int)))
    ok = np.isfinite(E) & np.isfinite(D0) & (E > 0)
    E, D0, glass = E[ok], np.minimum(np.abs(D0[ok]), E[ok]), glass[ok]
    volume_m3 = len(glasses) * settings["n_particles"] / u["number_density_m3"]
    p0 = a["p0_debye"] * DEBYE_C_M
    w_K = p0**2 / (EPS0 * a["eps_r"] * volume_m3) / K_B  # per system [K]
    rho_kg_m3 = u["number_density_m3"] * u["particle_mass_kg"]
    from etm.dielectric import stm_gamma_from_elastic

    ev = 1.602176634e-19
    gamma = stm_gamma_from_elastic(
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
    from etm import dielectric as diel
    from etm.units import EPS0

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


def _fig_dielectric(d, path, plot):
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
#: Two-pulse echo set-up (typical of the experiments of seed section 6): 1 GHz, 10 mK,
#: pulses of 0.1 and 0.2 us with a pi/2 rotation for the average system, dephasing time 10 us,
#: detection phase tan(omega dtau) = 1 (both quadratures of seed Eq. 76; at exact resonance
#: the C term vanishes and only S tan(omega dtau) remains).
ECHO_DEFAULTS = {
    "freq_Hz": 1e9,
    "T_K": 0.01,
    "tau1_s": 1e-7,
    "tau2_s": 2e-7,
    "tau_phi_s": 1e-5,
    "tau12_s": 5e-6,
    "tan_omega_dtau": 1.0,
}


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


def echo_prediction(dwps: dict, twps: dict, glasses, settings: dict) -> dict:
    """Two-pulse echo of the simulated DWPs against tau12 (and of DWPs + TWPs against field).

    Discrete ensembles through :func:`etm.echo.two_level_echo_systems` /
    :func:`etm.echo.ats_echo_systems` and :func:`etm.echo.echo_integral_from_systems` (seed
    Eqs. 62-79); the STM reference is the same integral over the STM distribution with the
    P-bar fitted to C_p (:func:`_stm_sample`). Each curve is relative to its own value at the
    shortest tau12 (only ratios are observable; seed section 6).
    """
    from etm import echo as ec

    a = {**ECHO_DEFAULTS, **settings.get("echo", {})}
    E, D0, glass, w_K, gamma, p0, da = _dielectric_inputs(dwps, glasses, settings)
    tau12 = np.geomspace(1e-7, 1e-4, 40)
    out = {"assumptions": a, "tau12_s": tau12, "n_systems": int(E.size)}
    ok = D0 > 0
    if ok.sum() == 0:
        return out
    Dl = np.sqrt(np.maximum(E[ok] ** 2 - D0[ok] ** 2, 0.0))
    # p0 F0 for a pi/2 first pulse of a resonant system with Delta0 = E: Omega tau1 = pi/2
    p0F0 = 0.5 * np.pi / (a["tau1_s"] * ec.RABI_PER_D_KV_M / np.sqrt(3.0))
    kw = dict(
        T_K=a["T_K"],
        freq_Hz=a["freq_Hz"],
        tau1_s=a["tau1_s"],
        tau2_s=a["tau2_s"],
        tan_omega_dtau=a["tan_omega_dtau"],
    )
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
    out.update(sim=rel(sim), stm=rel(stm), sim_abs=sim, p0F0_D_kV_m=p0F0, n_resonant=int(resonant.sum()))
    # field dependence: 2LSs are field independent; TWPs enter through the ATS systems (Eq. 72)
    n_tw = len(np.asarray(twps.get("id", [])))
    if n_tw:
        from etm.params import ATSParams

        kpe = u["kelvin_per_epsilon"]
        Ew = np.stack([twps["E1"], twps["E2"], twps["E3"]], axis=1) * kpe
        Dw = np.sqrt(((Ew - Ew.mean(axis=1, keepdims=True)) ** 2).sum(axis=1))
        S_A2 = (
            np.abs(np.asarray(twps.get("loop_area_particle_max", np.zeros(n_tw)), float))
            * (u["length_m"] * 1e10) ** 2
        )
        q = np.abs(np.asarray(twps["D0"], float)).mean(axis=1) * kpe * S_A2 * settings.get("charge_e", 1.0)
        keep = (Dw > 0) & (q > 0)
        if keep.any():
            params = ATSParams(
                D_min=float(Dw[keep].min()),
                D0min_qS=float(q[keep].min()),
                D0max_qS=float(q[keep].max()) * 1.0001,
            )
            fields = np.asarray(settings.get("fields_T", [0.0, 1.0]), float)
            amp = []
            for B in fields:
                Ea, ra, rra = ec.ats_echo_systems(
                    float(B),
                    Dw[keep],
                    q[keep],
                    params,
                    T_K=a["T_K"],
                    p1F0_D_kV_m=p0F0,
                    Gamma=0.0,
                    c_ats=1.0 / a["tau_phi_s"] / a["T_K"],
                )
                ja = np.asarray(
                    ec.echo_integral_from_systems(
                        Ea, ra, ra * 0 + rra, np.ones(Ea.size), tau12_s=a["tau12_s"], **kw
                    )
                )[0]
                j2 = np.asarray(
                    ec.echo_integral_from_systems(
                        Es, rabi, rate, np.ones(Es.size), tau12_s=a["tau12_s"], **kw
                    )
                )[0]
                amp.append(j2 + ja)
            amp = np.asarray(amp)
            out.update(fields_T=fields, vs_field=amp / (amp[0] if amp[0] != 0 else 1.0))
    return out


def _fig_echo(d, path, plot):
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
    if "vs_field" in d:
        L += [
            "",
            "Echo amplitude against field (DWPs + TWPs as ATSs, relative to B = 0): "
            + ", ".join(
                f"{b:g} T: {fmt(v, '.4g')}" for b, v in zip(d["fields_T"], d["vs_field"], strict=True)
            ),
        ]
    return L
