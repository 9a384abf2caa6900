"""The campaign report: catalogue -> distributions -> etm predictions -> Markdown + PNGs.

:func:`analyse` reads a merged catalogue, computes the distributions
(:mod:`analysis.distributions`) and the etm predictions (:mod:`analysis.bridge`), and writes
them to ``analysis/`` (``distributions.json``, ``predictions.json``, ``predictions.npz``).
:func:`write_report` turns those into ``report/report.md`` with one PNG per figure, readable
without Python (any Markdown viewer; the figures are plain files beside it).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from analysis import bridge
from analysis import distributions as dist
from etm.io import atomic_path, atomic_write_text
from etm.units import AMU, ANGSTROM, K_B
from pelsim.landscape.catalogue import Catalogue
from pelsim.units import get_preset


def _savefig(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    plt.close(fig)


def units_for(preset: str, number_density: float, tls_threshold_K: float) -> dict:
    """Unit values of a :mod:`pelsim.units` preset as the dict the analysis uses."""
    u = get_preset(preset)
    sigma_m = u.sigma_A * ANGSTROM
    return {
        "preset": u.name,
        "energy_J": u.epsilon_K * K_B,
        "length_m": sigma_m,
        "particle_mass_kg": u.mass_u * AMU,
        "kelvin_per_epsilon": u.epsilon_K,
        "hbar": u.hbar,
        "number_density": number_density,
        "number_density_m3": number_density / sigma_m**3,
        "tls_threshold_K": tls_threshold_K,
    }


def analyse(catalogue_path: str | Path, out_dir: str | Path, settings: dict) -> dict:
    """Distributions and predictions of one catalogue, written to ``out_dir`` (JSON + NPZ).

    settings: n_glasses (int, all glasses of the campaign, including those without DWPs),
    n_particles, number_density, units (see :func:`units_for`), bootstrap, T_min_K, T_max_K,
    fields_T, frequency_Hz, seed.
    """
    out_dir = Path(out_dir)
    cat = Catalogue.open(str(catalogue_path), "r")
    try:
        dwps = cat.dwps()
        twps = cat.twps()
    finally:
        cat.close()
    return analyse_arrays(dwps, twps, out_dir, settings)


def analyse_arrays(dwps: dict, twps: dict, out_dir: str | Path, settings: dict) -> dict:
    """:func:`analyse` on DWP/TWP column dicts (the catalogue's ``dwps()``/``twps()``)."""
    out_dir = Path(out_dir)
    glasses = np.arange(settings["n_glasses"])
    units = settings["units"]
    nb, seed = settings.get("bootstrap", 200), settings.get("seed", 0)
    summary = dist.summarize(
        dwps, twps, glasses, settings["n_particles"], units["number_density"], units, n_boot=nb, seed=seed
    )
    T = np.geomspace(settings["T_min_K"], settings["T_max_K"], 60)
    pred = {
        "heat_capacity": bridge.heat_capacity_prediction(
            dwps, glasses, settings["n_particles"], units, T, nb, seed
        )
    }
    pred["heat_capacity"]["Pbar_n0_J_m3"] = summary["tls"]["Pbar_J_m3"]
    settings = {**settings, "Pbar_fit_J_m3": pred["heat_capacity"]["fit"]["Pbar_fit_J_m3"]}
    pred["dielectric"] = bridge.dielectric_prediction(dwps, glasses, settings, T)
    pred["echo"] = bridge.echo_prediction(dwps, glasses, settings)
    pred["twp"] = bridge.twp_field_predictions(twps, glasses, settings, T, pred["echo"]["J_at_tau12"])
    atomic_write_text(out_dir / "distributions.json", json.dumps(dist.to_jsonable(summary), indent=1))
    atomic_write_text(out_dir / "predictions.json", json.dumps(dist.to_jsonable(pred), indent=1))
    return {
        "summary": summary,
        "predictions": pred,
        "units": units,
        "settings": settings,
        "dwps": dwps,
        "twps": twps,
    }


# ------------------------------------------------------------------------------ figures
def _fig_histograms(res, path):
    import matplotlib.pyplot as plt

    hs = res["summary"]["histograms"]
    keys = [k for k in dist.DWP_QUANTITIES if k in hs]
    if not keys:
        return None
    fig, axes = plt.subplots(2, 3, figsize=(12, 6.5))
    for ax, k in zip(axes.flat, keys, strict=False):
        h = hs[k]
        ax.bar(h["centres"], h["density"], width=np.diff(h["edges"]), alpha=0.6, edgecolor="k")
        ax.errorbar(h["centres"], h["density"], yerr=h["error"], fmt="none", ecolor="k", capsize=2)
        ax.set_xlabel(h["label"])
        ax.set_ylabel("probability density")
    for ax in list(axes.flat)[len(keys) :]:
        ax.axis("off")
    fig.suptitle(
        f"DWP parameters ({res['summary']['n_dwps']} DWPs, {res['summary']['n_glasses']} glasses; "
        "error bars: bootstrap over glasses)"
    )
    _savefig(fig, path)
    return path


def _fig_joint(res, path):
    import matplotlib.pyplot as plt

    j = res["summary"]["histograms"].get("joint_Delta_lnDelta0")
    if j is None or j["counts"].sum() == 0:
        return None
    fig, ax = plt.subplots(figsize=(6, 4.5))
    m = ax.pcolormesh(j["Delta_edges_K"], j["lnDelta0_edges"], j["density"].T, cmap="viridis")
    fig.colorbar(m, ax=ax, label="P(Delta, ln Delta0)")
    d = res["dwps"]
    x, y = np.asarray(d["Delta_K"], float), np.asarray(d["Delta0_K"], float)
    ok = np.isfinite(x) & np.isfinite(y) & (y > 0)  # Delta0 = 0 (unresolved) or NaN (no localised state)
    hidden = int((~ok).sum())
    ax.plot(x[ok], np.log(y[ok]), "w.", ms=3, label=f"DWPs ({hidden} without finite Delta0 not shown)")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_xlabel("Delta [K]")
    ax.set_ylabel("ln(Delta0 / K)")
    ax.set_title("joint distribution (STM: flat in Delta and ln Delta0)")
    _savefig(fig, path)
    return path


def _fig_heat_capacity(res, path):
    import matplotlib.pyplot as plt

    hc = res["predictions"]["heat_capacity"]
    T, C, err = hc["T_K"], hc["C_J_gK"], hc["C_err"]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2))
    a1.loglog(T, np.where(C > 0, C, np.nan), "C0-", label="simulated DWPs (etm Schottky sum)")
    a1.fill_between(T, np.clip(C - err, 1e-300, None), C + err, color="C0", alpha=0.3)
    a1.loglog(
        T, hc["C_stm_J_gK"], "k--", label=f"STM, fitted P-bar = {hc['fit']['Pbar_fit_J_m3']:.3g} J^-1 m^-3"
    )
    a1.set_xlabel("T [K]")
    a1.set_ylabel("C_p [J / (g K)]")
    a1.legend(fontsize=8)
    a2.semilogx(T, C / T, "C0-")
    a2.fill_between(T, (C - err) / T, (C + err) / T, color="C0", alpha=0.3)
    a2.axhline(hc["fit"]["gamma_J_gK2"], color="k", ls="--", label="gamma (linear fit)")
    a2.set_xlabel("T [K]")
    a2.set_ylabel("C_p / T [J / (g K^2)]")
    a2.legend(fontsize=8)
    fig.suptitle(f"heat capacity: alpha = {hc['fit']['alpha']:.3f} in C ~ T^(1+alpha)")
    _savefig(fig, path)
    return path


def _fig_twp(res, path):
    import matplotlib.pyplot as plt

    tw = res["predictions"]["twp"]
    if not tw.get("n_twps"):
        return None
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for k in tw["field_index"]:
        C = tw["C_J_gK"][:, k]
        ax.loglog(tw["T_K"], np.where(C > 0, C, np.nan), label=f"B = {tw['B_T'][k]:g} T")
    ax.set_xlabel("T [K]")
    ax.set_ylabel("C_p (TWPs) [J / (g K)]")
    ax.set_title(f"{tw['n_twps']} TWPs, 3-level model (seed Eq. 6), |q/e| = {tw['charge_e']:g}")
    ax.legend(fontsize=8)
    _savefig(fig, path)
    return path


def _fig_twp_field(res, path):
    """M(B), Delta eps'(B) - Delta eps'(0) and the echo amplitude against B of the TWPs."""
    import matplotlib.pyplot as plt

    tw = res["predictions"]["twp"]
    if not tw.get("n_twps"):
        return None
    B, T = tw["B_T"], tw["T_K"]
    iT = sorted({0, len(T) // 3, 2 * len(T) // 3, len(T) - 1})
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for k in iT:
        axes[0].plot(B, tw["M_Am2_g"][k], label=f"T = {T[k]:.3g} K")
        axes[1].plot(B, tw["deps_rel"][k], label=f"T = {T[k]:.3g} K")
    axes[0].set_ylabel("M (TWPs) [A m^2 / g]")
    axes[1].set_ylabel("Delta eps'/eps'(B) - (B = 0), resonant")
    e = tw["echo_setup"]
    axes[2].plot(B, tw["echo_rel"], "k-", label="DWPs + TWPs")
    axes[2].plot(B, tw["echo_twp_rel"], "C1--", label="TWPs only")
    axes[2].set_ylabel(f"echo amplitude / (B = 0), {e['T_K'] * 1e3:g} mK, tau12 = {e['tau12_s'] * 1e6:g} us")
    for ax in axes:
        ax.set_xlabel("B [T]")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    if not tw["field_resolved"]:
        for ax in axes[1:]:
            ax.text(
                0.5,
                0.04,
                "A-B effect below float64 resolution:\nthese changes are round-off",
                transform=ax.transAxes,
                ha="center",
                fontsize=9,
                color="C3",
            )
    fig.suptitle(
        f"{tw['n_twps']} TWPs in a field: exact 3-level spectra (seed Eqs. 6-7), |q/e| = {tw['charge_e']:g}, "
        "orientation averaged"
    )
    _savefig(fig, path)
    return path


def _fig_generic(curves: dict, path, xlabel, ylabel, title, logx=True):
    """Plot {label: (x, y)} curves; used for dielectric and echo predictions."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.2))
    for label, (x, y, style) in curves.items():
        (ax.semilogx if logx else ax.plot)(x, y, style, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    _savefig(fig, path)
    return path


# ------------------------------------------------------------------------------ markdown
def _fmt(x, spec=".3g"):
    try:
        return "n/a" if x is None or not np.isfinite(x) else format(x, spec)
    except TypeError:
        return str(x)


def _pbar_fit_cell(fit: dict) -> str:
    if fit.get("supported", True):
        return _fmt(fit["Pbar_fit_J_m3"])
    return f"{_fmt(fit['Pbar_fit_J_m3'])} (not supported, see below)"


def _tls_hunt_section(h: dict) -> list[str]:
    """The TLS hunt's selection-aware statistics (pelsim.landscape.hunt.hunt_statistics)."""
    L = [
        "## TLS hunt (selection-aware)",
        "",
        "Every pair of the minima found by low-T MD was described by static features; the pairs within "
        "the physics bounds (the pool) were screened by a cheap NEB + 1D splitting, ranked by the "
        "active-learning classifier/regressor, plus a uniform control sample that measures the recall.",
        "",
        "| quantity | value |",
        "|---|---|",
        f"| glasses | {h['glasses']} |",
        f"| pool (pairs within the bounds) | {h['pool']} |",
        f"| screened pairs | {h['screened']} ({h['ranked']} ranked + {h['control']} control + "
        f"{h.get('expanded_screened', 0)} with minima from band interiors) |",
        f"| screened double wells | {h['screened_dw']} |",
        f"| TLS found by the screen | {_fmt(h['tls_found'], '.0f')} |",
        f"| control sample: pairs, TLS | {h['control']}, {h['control_tls']} (+ pairs with band minima: "
        f"{h.get('expanded_control', 0)}, {h.get('expanded_control_tls', 0)}) |",
        f"| recall of the ranked screen | {_fmt(h['recall'])} +- {_fmt(h['recall_err'])} "
        f"(95 % exact: {_fmt(h.get('recall_low', math.nan))}-{_fmt(h.get('recall_high', math.nan))}) |",
        f"| n0 from TLS found (lower bound) [per particle per eps] | {_fmt(h['n0_found'])} +- {_fmt(h['n0_found_err'])} |",  # noqa: E501
        f"| n0 estimated from the control [per particle per eps] | {_fmt(h['n0_estimated'])} +- {_fmt(h['n0_estimated_err'])} |",  # noqa: E501
        f"| pairs with minima from band interiors: screened, DW, TLS | {h.get('expanded_screened', 0)}, "
        f"{h.get('expanded_dw', 0)}, {h.get('expanded_tls', 0)} |",
        f"| refined (full connection) | {h['refined']} |",
        f"| screened TLS rejected by their refinement | {h.get('screen_tls_rejected_by_refinement', 0)} |",
        "",
    ]
    if h.get("caveat"):
        L += [f"**Caveat:** {h['caveat']}.", ""]
    return L


def _tls_by_T_f_section(by: dict, dep: dict | None) -> list[str]:
    """The hunt's statistics per preparation temperature T_f and the depletion against the least
    stable glasses (pelsim.landscape.hunt.depletion_by_T_f)."""
    L = [
        "## TLS by preparation temperature T_f",
        "",
        "| T_f | glasses | pool | screened | DWs | TLS found | TLS / DW | n0 found [per particle per eps] |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for key in sorted(by, key=float):
        h = by[key]
        frac = h["tls_found"] / h["screened_dw"] if h["screened_dw"] else math.nan
        L.append(
            f"| {key} | {h['glasses']} | {h['pool']} | {h['screened']} | {h['screened_dw']} | "
            f"{_fmt(h['tls_found'], '.0f')} | {_fmt(frac)} | "
            f"{_fmt(h['n0_found'])} +- {_fmt(h['n0_found_err'])} |"
        )
    L.append("")
    vs = (dep or {}).get("vs_reference") or {}
    if vs:
        conf = 100 * dep["confidence"]
        L += [
            f"Against the least stable glasses (T_f = {dep['reference_T_f']:g}): ratio of the rates, its "
            f"exact {conf:.0f} % interval (conditional binomial) and the one-sided p-value of depletion "
            "(ratio < 1).",
            "",
            "| T_f | TLS per glass: ratio [interval], p | TLS per DW: ratio [interval], p |",
            "|---|---|---|",
        ]

        def cell(r):
            if r is None:
                return "no DWs"
            f = lambda x: "inf" if x == math.inf else _fmt(x)  # noqa: E731
            return f"{f(r['ratio'])} [{f(r['ratio_low'])}, {f(r['ratio_high'])}], {_fmt(r['p_lower'])}"

        for key, v in vs.items():
            L.append(f"| {key} | {cell(v['tls_per_glass'])} | {cell(v['tls_per_dw'])} |")
        L.append("")
    return L


def _stability_section(dep: dict) -> list[str]:
    """What the hunt found per glass, stable half against less stable half by the glasses' own IS
    energies (pelsim.landscape.hunt.depletion_by_stability)."""
    conf = 100 * dep["confidence"]
    L = [
        "## TLS against each glass's stability (its IS energy)",
        "",
        f"Glasses split at the median e_IS = {dep['median_e_IS']:.5f} eps per particle: "
        f"{dep['glasses_stable']} stable (mean e_IS {dep['e_IS_stable_mean']:.5f}) against "
        f"{dep['glasses_unstable']} less stable ({dep['e_IS_unstable_mean']:.5f}). Ratio of the per-glass "
        f"rates (stable / less stable) with its exact {conf:.0f} % interval and one-sided p-value of "
        "depletion (Poisson: too narrow for DWs and minima, which cluster in glasses); the one-sided "
        "Mann-Whitney p-value of the per-glass counts; the Spearman correlation of the per-glass count "
        "with e_IS over all glasses and its one-sided p-value.",
        "",
        "| per glass | stable | less stable | ratio [interval], p | Mann-Whitney p | Spearman rho, p |",
        "|---|---|---|---|---|---|",
    ]
    f = lambda x: "inf" if x == math.inf else _fmt(x)  # noqa: E731
    for key, label in (("tls", "TLS found"), ("screened_dw", "screened DWs"), ("minima", "distinct minima")):
        r = dep[key]
        L.append(
            f"| {label} | {r['k']} ({_fmt(r['mean_stable'])} per glass) | {r['k_ref']} "
            f"({_fmt(r['mean_unstable'])}) | {f(r['ratio'])} [{f(r['ratio_low'])}, {f(r['ratio_high'])}], "
            f"{_fmt(r['p_lower'])} | {_fmt(r['mannwhitney_p_lower'])} | {_fmt(r['spearman_rho'])}, "
            f"{_fmt(r['spearman_p_positive'])} |"
        )
    t = dep.get("tls_per_dw")
    if t:
        L.append(
            f"| TLS per screened DW | {_fmt(t['k'] / t['exposure'])} | "
            f"{_fmt(t['k_ref'] / t['exposure_ref'])} | {f(t['ratio'])} [{f(t['ratio_low'])}, "
            f"{f(t['ratio_high'])}], {_fmt(t['p_lower'])} | | |"
        )
    L.append("")
    return L


def write_report(res: dict, report_dir: str | Path, meta: dict) -> Path:
    """Markdown report with PNG figures in ``report_dir``; returns the path of report.md."""
    import matplotlib

    matplotlib.use("Agg")
    rd = Path(report_dir)
    rd.mkdir(parents=True, exist_ok=True)
    s, p, u = res["summary"], res["predictions"], res["units"]
    figs = {
        "histograms": _fig_histograms(res, rd / "dwp_histograms.png"),
        "joint": _fig_joint(res, rd / "joint_Delta_lnDelta0.png"),
        "cp": _fig_heat_capacity(res, rd / "heat_capacity.png"),
        "twp": _fig_twp(res, rd / "twp_heat_capacity.png"),
        "twp_field": _fig_twp_field(res, rd / "twp_field.png"),
        "dielectric": bridge.fig_dielectric(p["dielectric"], rd / "dielectric.png", _fig_generic),
        "echo": bridge.fig_echo(p["echo"], rd / "echo.png", _fig_generic),
    }
    tls = s["tls"]
    hc = p["heat_capacity"]
    L = [f"# Campaign report: {meta.get('name', '')}", ""]
    if meta.get("description"):
        L += [meta["description"], ""]
    L += [
        "Pipeline: glass -> inherent structures -> DWP/TWP catalogue -> distributions -> etm predictions.",
        f"Model `{meta.get('model')}`, N = {meta.get('N')} particles, {s['n_glasses']} glasses, "
        f"potential `{meta.get('potential')}`; unit preset `{u['preset']}` "
        f"(epsilon/k_B = {_fmt(u['kelvin_per_epsilon'], '.4g')} K, sigma = {_fmt(u['length_m'] * 1e10, '.4g')} A). "  # noqa: E501
        f"Config hash `{meta.get('config_hash', '')[:12]}`; task time (sum over tasks) {_fmt(meta.get('seconds'), '.0f')} s.",  # noqa: E501
        "",
        "## Counts",
        "",
        "| quantity | value |",
        "|---|---|",
        f"| DWPs | {s['n_dwps']} ({_fmt(s['dwps_per_glass'])} per glass) |",
        f"| TLS (splitting < {u['tls_threshold_K']:g} K) | {tls['n_tls']} |",
        f"| TWPs | {s['twps']['n_twps']} |",
        f"| n0 [per particle per epsilon] | {_fmt(tls['n0_per_particle_per_epsilon'])} +- {_fmt(tls['n0_err'])} |",  # noqa: E501
        f"| P-bar from n0 [J^-1 m^-3] | {_fmt(tls['Pbar_J_m3'])} +- {_fmt(tls['Pbar_err_J_m3'])} |",
        f"| P-bar fitted to C_p [J^-1 m^-3] | {_pbar_fit_cell(hc['fit'])} |",
        "",
    ]
    if tls["n_tls"] < 3:
        L += [
            f"**Not a result:** n0 and P-bar from n0 rest on {tls['n_tls']} TLS; they are not measured to "
            "better than an order of magnitude (a count of 0-2 sets only a bound).",
            "",
        ]
    if not hc["fit"].get("supported", True):
        L += [
            "**Not a result:** the P-bar fitted to C_p is not supported by these statistics: "
            f"{hc['fit']['why_not']}. The fit is shown in the figure only to make that visible.",
            "",
        ]
    if res.get("tls_hunt"):
        L += _tls_hunt_section(res["tls_hunt"])
    if res.get("tls_hunt_by_T_f"):
        L += _tls_by_T_f_section(res["tls_hunt_by_T_f"], res.get("tls_depletion"))
    if res.get("tls_by_stability"):
        L += _stability_section(res["tls_by_stability"])
    if s.get("median"):
        L += ["Medians: " + ", ".join(f"{k} = {_fmt(v)}" for k, v in s["median"].items()), ""]
    L += [
        "## Distributions",
        "",
        "Probability densities of the DWP parameters (reduced LJ units unless marked K; "
        "error bars: bootstrap over glasses).",
        "",
    ]
    if figs["histograms"]:
        L += ["![DWP histograms](dwp_histograms.png)", ""]
    if figs["joint"]:
        L += [
            "Joint density P(Delta, ln Delta0): the STM assumes it flat (P-bar / Delta0, seed Eq. 2).",
            "",
            "![joint](joint_Delta_lnDelta0.png)",
            "",
        ]
    m = s["methods"]
    L += [
        "### IS-IS against intra-basin DWPs",
        "",
        f"counts: IS-IS {m['counts']['is_is']}, intra-basin {m['counts']['intra_basin']}; "
        f"TLS fraction: IS-IS {_fmt(m['tls_fraction']['is_is'])}, intra-basin {_fmt(m['tls_fraction']['intra_basin'])}",  # noqa: E501
        "",
        "| quantity | median IS-IS | median intra-basin | KS statistic | KS p-value |",
        "|---|---|---|---|---|",
    ]
    for q, row in m.items():
        if q in ("counts", "tls_fraction"):
            continue
        L.append(
            f"| {q} | {_fmt(row['is_is']['median'])} | {_fmt(row['intra_basin']['median'])} | "
            f"{_fmt(row.get('ks_statistic'))} | {_fmt(row.get('ks_pvalue'))} |"
        )
    tw = s["twps"]
    L += ["", "### TWPs", "", f"{tw['n_twps']} TWPs ({_fmt(tw['per_glass'])} per glass)."]
    if tw["n_twps"]:
        L += [
            f"median asymmetry D = {_fmt(tw['median_D_K'])} K, median amplitude D0 = {_fmt(tw['median_D0_K'])} K."  # noqa: E501
        ]
    L += [
        "",
        "## Predictions from the simulated (Delta, Delta0) (etm)",
        "",
        "### Heat capacity",
        "",
        f"C_p(T) = k_B sum_i C0(E_i, T) / mass over all DWPs (seed Eqs. 14-15). Linear coefficient "
        f"gamma = {_fmt(hc['fit']['gamma_J_gK2'])} J/(g K^2); C ~ T^(1+alpha) with alpha = "
        f"{_fmt(hc['fit']['alpha'])}; max |C/(gamma T) - 1| = {_fmt(hc['fit']['max_rel_deviation'])}. "
        f"The dashed line is the STM with the P-bar fitted to it.",
        "",
    ]
    if figs["cp"]:
        L += ["![heat capacity](heat_capacity.png)", ""]
    for name, markdown in (("dielectric", bridge.dielectric_markdown), ("echo", bridge.echo_markdown)):
        L += markdown(p[name], _fmt) + [""]
        if figs[name]:
            L += [f"![{name}]({name}.png)", ""]
    L += ["### TWPs in a magnetic field", ""]
    if p["twp"].get("n_twps"):
        L += bridge.twp_markdown(p["twp"], _fmt) + [""]
        L += ["![TWP heat capacity](twp_heat_capacity.png)", "", "![TWP field](twp_field.png)", ""]
    else:
        L += ["No TWPs were found, so there is no field-dependent prediction.", ""]
    L += [
        "## Files",
        "",
        "- `../catalogue.h5`: the merged DWP/TWP catalogue (schema: docs/catalogue.md)",
        "- `../analysis/distributions.json`, `../analysis/predictions.json`: every number above",
        "- `../log.jsonl`: versions, config, config hash and timings of every run",
        "",
    ]
    path = rd / "report.md"
    atomic_write_text(path, "\n".join(L))
    return path
