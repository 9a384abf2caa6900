"""Figures of the seed paper's theory curves, as PNG files (``etm plot --out DIR``).

Theory figures (no fitted data needed):
  fig04  the 3LS spectrum of Eq. (6) vs the A-B phase phi (exact eigenvalues, Eq. 8)
  fig05  g_ATS(E) for several phi (Eq. 13)
  fig06  g_ATS(phi) for several E (Eq. 13)
  fig26  iso-lines of Delta0 over V0 and hbar*Omega (two-parabola formula, Eq. 4)
Curves from the presets, in the style of the paper's fit figures:
  fig07  C_p(B) - C_p(8 T) for BAS and Duran (Tables 1-4; Eqs. 16-18)
  fig08-10  Delta eps'/eps' vs B (Tables 5, 6; Eq. 51)
  fig11  Delta tan delta vs B (Table 7; Eq. 61)
  fig16, fig17  echo amplitude vs B (Table 8; Eqs. 76-77)
  fig20  integrated echo amplitude vs tau_12 at B = 0 (Eq. 87)
  fig21-25  magnetization and heat-capacity contributions (Tables 10, 11, 14; Eqs. 16, 90-94)

A figure that fails is skipped with a warning (``write_figures`` returns what it wrote
and what it skipped).  Files are
written atomically (temp file + os.replace).
"""

from __future__ import annotations

import os
import sys

import numpy as np

from etm.columns import (
    dielectric_columns,
    echo_columns,
    heat_capacity_columns,
    loss_columns,
    magnetization_columns,
)
from etm.dos import g_ats_from_u
from etm.echo import ats_iea_tau12, echo_vs_tau12
from etm.errors import InputError
from etm.hamiltonian import eigenvalues_3ls
from etm.heat_capacity import c_paramagnetic
from etm.io import atomic_path
from etm.magnetization import m_brillouin
from etm.params import G_FE, J_FE2, J_FE3
from etm.presets import get_preset, preset_values
from etm.tunneling import delta0_two_parabola


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: str) -> str:
    """Save a matplotlib figure as PNG atomically (etm.io.atomic_path); returns the path."""
    try:
        with atomic_path(path, ".png") as tmp:
            fig.savefig(tmp, dpi=110, format="png")
    finally:
        _plt().close(fig)
    return path


def plot_table(columns: dict, x: str, y: list[str], group: str | None, path: str) -> str:
    """Plot columns ``y`` against ``x``, one curve per value of ``group`` (CLI ``--plot``)."""
    plt = _plt()
    if not path.lower().endswith(".png"):
        raise InputError(f"--plot: {path!r} must end in .png")
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    X = np.asarray(columns[x])
    groups = [None] if group is None else list(dict.fromkeys(np.asarray(columns[group]).tolist()))
    styles = ["-", "--", ":", "-."]
    for k, name in enumerate(y):
        for gval in groups:
            sel = np.ones(X.shape, bool) if gval is None else np.asarray(columns[group]) == gval
            label = name if gval is None else f"{name}, {group}={gval:g}"
            ax.plot(X[sel], np.asarray(columns[name])[sel], styles[k % len(styles)], label=label)
    ax.set_xlabel(x)
    ax.set_ylabel(", ".join(y) if len(y) < 3 else "value")
    if len(y) * len(groups) <= 12:
        ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path)


# --------------------------------------------------------------------------------------
# Theory figures


def fig04_spectrum():
    """Eq. (6) spectrum in units of D0 vs phi, for a near-degenerate asymmetry (Fig. 4)."""

    plt = _plt()
    phi = np.linspace(-2 * np.pi, 2 * np.pi, 721)
    fig, ax = plt.subplots(figsize=(8.6, 4.6))
    for (E1, E2, E3), ls in (((0.0, 0.0, 0.0), "-"), ((0.3, -0.1, -0.2), "--")):
        ev = np.asarray(eigenvalues_3ls(E1, E2, E3, 1.0, phi))
        for k, c in enumerate(("C0", "C1", "C2")):
            ax.plot(phi, ev[:, k], ls, color=c, lw=1.4, label=rf"$\mathcal{{E}}_{k}$" if ls == "-" else None)
    ax.plot([], [], "k-", label=r"$E_1=E_2=E_3=0$")
    ax.plot([], [], "k--", label=r"$(E_1,E_2,E_3)=(0.3,-0.1,-0.2)$")
    ax.set_xlabel(r"A-B phase $\varphi$ [rad]")
    ax.set_ylabel(r"energy $\mathcal{E}_k$ [$D_0$]")
    ax.set_title("Fig. 4: 3LS spectrum, Eq. (6), $D_0 = 1$")
    ax.set_xticks(np.arange(-2, 3) * np.pi, [r"$-2\pi$", r"$-\pi$", "0", r"$\pi$", r"$2\pi$"])
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


#: illustrative cutoffs for Figs. 5, 6 (reduced units: energies in K, D0 in K)
_DOS_DEMO = dict(D_min=0.05, D0min=10.0, D0max=60.0)


def _g_reduced(E, phi):
    """g_ATS / (n_ATS P*) [1/K] of Eq. (13) at A-B phase phi for the _DOS_DEMO cutoffs."""

    d = _DOS_DEMO
    return (
        2
        * np.pi
        * np.asarray(g_ats_from_u(E, d["D0min"] * phi, d["D0max"] * phi, d["D_min"], d["D0max"] / d["D0min"]))
    )


def fig05_dos_vs_E():
    plt = _plt()
    E = np.geomspace(0.01, 3.0, 1500)
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    for phi in (0.0, 0.002, 0.005, 0.01, 0.02):
        ax.plot(E, _g_reduced(E, phi), label=rf"$\varphi$ = {phi:g}")
    d = _DOS_DEMO
    ax.set_xscale("log")
    ax.set_xlabel("gap energy $E$ [K]")
    ax.set_ylabel(r"$g_{ATS}/(n_{ATS}P^*)$ [1/K]")
    ax.set_title(
        rf"Fig. 5: ATS DOS vs $E$ ($D_{{min}}$={d['D_min']} K, $D_{{0min}}$={d['D0min']:g} K, "
        rf"$D_{{0max}}$={d['D0max']:g} K)",
        fontsize=9,
    )
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def fig06_dos_vs_phi():
    plt = _plt()
    phi = np.linspace(0.0, 0.03, 1500)
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    for E in (0.1, 0.2, 0.4, 0.8):
        ax.plot(phi, _g_reduced(E, phi), label=f"E = {E:g} K")
    ax.set_xlabel(r"A-B phase $\varphi$ [rad]")
    ax.set_ylabel(r"$g_{ATS}/(n_{ATS}P^*)$ [1/K]")
    ax.set_title(r"Fig. 6: ATS DOS vs $\varphi$ (cutoffs as Fig. 5)")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def fig26_delta0_map():
    """Iso-lines of Delta0 (Eq. 4) over V0 and hbar Omega; bold red: 1e-6 K and 1e-3 K."""

    plt = _plt()
    V0 = np.linspace(0.0, 25.0, 400)
    hw = np.linspace(0.02, 10.0, 500)
    VV, HH = np.meshgrid(V0, hw, indexing="xy")
    with np.errstate(all="ignore"):
        D = np.asarray(delta0_two_parabola(VV, HH), float)
        logD = np.where(D > 0, np.log10(np.where(D > 0, D, 1.0)), np.nan)
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    levels = np.arange(-8, 1)
    cs = ax.contour(VV, HH, logD, levels=levels, colors="k", linewidths=0.7, linestyles="solid")
    ax.clabel(cs, fmt=lambda v: rf"$10^{{{int(v)}}}$", fontsize=7)
    ax.contour(VV, HH, logD, levels=[-6, -3], colors="r", linewidths=2.2, linestyles="solid")
    ax.plot(
        V0, V0 / (9 * np.pi / 8), ":", color="gray", label=r"Eq. (4) bracket = 0 ($V_0 = 9\pi\hbar\Omega/8$)"
    )
    ax.set_ylim(hw[0], hw[-1])
    ax.legend(fontsize=8, loc="lower right")
    ax.set_xlabel(r"barrier height $V_0$ [K]")
    ax.set_ylabel(r"single-well energy $\hbar\Omega$ [K]")
    ax.set_title(r"Fig. 26: iso-lines of $\Delta_0$ [K], Eq. (4); red: $10^{-6}$ and $10^{-3}$ K")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------
# Preset figures


def _values(name, **extra):

    v = preset_values(name)
    v["orientation_average"] = True
    v.update(extra)
    return v


def fig07_heat_capacity():
    """C_p(T, B) - C_p(T, 8 T) of the ATS + Fe terms for BAS (a) and Duran (b), Tables 1-4."""

    plt = _plt()
    B = np.linspace(0.0, 3.0, 301)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.4))
    for ax, names, title in (
        (axes[0], ("BAS-cp-0.60K", "BAS-cp-0.90K", "BAS-cp-1.36K"), "(a) BAS, Tables 1-2"),
        (axes[1], ("Duran-cp-1.11K", "Duran-cp-1.23K", "Duran-cp-1.36K"), "(b) Duran, Tables 3-4"),
    ):
        for name in names:
            v = _values(name)
            T = v_T = float(name.split("-")[-1].rstrip("K"))
            c = heat_capacity_columns(np.full_like(B, T), B, v)["C_total_J_per_gK"]
            c_inf = heat_capacity_columns(np.array([v_T]), np.array([8.0]), v)["C_total_J_per_gK"][0]
            ax.plot(B, 1e6 * (c - c_inf), label=f"T = {T:g} K")
        ax.set_xlabel("B [T]")
        ax.set_ylabel(r"$C_p(B) - C_p(8\,\mathrm{T})$ [$\mu$J/(g K)]")
        ax.set_title(title)
        ax.legend()
        ax.grid(alpha=0.3)
    fig.suptitle("Fig. 7 style: magnetic heat capacity (ATS + Fe$^{2+}$ + Fe$^{3+}$)")
    fig.tight_layout()
    return fig


def _field_curves(ax, names, column_fn, ycol, B, scale=1.0, ylabel="", label_fn=None):
    for name in names:
        v = _values(name)

        T = get_preset(name).temperature
        cols = column_fn(np.full_like(B, T), B, v)
        ax.plot(B, scale * cols[ycol], label=label_fn(name) if label_fn else name)
    ax.set_xlabel("B [T]")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)


def fig08_dielectric():

    plt = _plt()
    B = np.linspace(0.0, 0.4, 401)
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    _field_curves(
        ax,
        ("BK7-eps-15mK", "Duran-eps-15mK", "BAS-eps-50mK"),
        dielectric_columns,
        "deps_rel",
        B,
        1e6,
        r"$\Delta\epsilon'/\epsilon'$ [$10^{-6}$]",
    )
    ax.set_title("Fig. 8 style: ATS dielectric constant vs B (Table 5)")
    fig.tight_layout()
    return fig


def fig09_dielectric_BAS():

    plt = _plt()
    B = np.linspace(0.0, 0.4, 401)
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    _field_curves(
        ax,
        ("BAS-eps-50mK", "BAS-eps-94mK", "BAS-eps-120mK"),
        dielectric_columns,
        "deps_rel",
        B,
        1e6,
        r"$\Delta\epsilon'/\epsilon'$ [$10^{-6}$]",
    )
    ax.set_title("Fig. 9 style: BAS dielectric constant vs B and T (Table 5)")
    fig.tight_layout()
    return fig


def fig10_dielectric_SiOCH():

    plt = _plt()
    B = np.linspace(0.0, 1.0, 401)
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    _field_curves(
        ax,
        ("SiOCH-eps-50mK", "SiOCH-eps-70mK", "SiOCH-eps-100mK"),
        dielectric_columns,
        "deps_rel",
        B,
        1e6,
        r"$\Delta\epsilon'/\epsilon'$ [$10^{-6}$]",
    )
    ax.set_title(r"Fig. 10 style: SiO$_{2+x}$C$_y$H$_z$ dielectric constant (Table 6)")
    fig.tight_layout()
    return fig


def fig11_loss():

    plt = _plt()
    B = np.linspace(0.0, 0.4, 301)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.4))
    _field_curves(
        axes[0],
        ("BAS-loss-77mK", "BAS-loss-88mK", "BAS-loss-96mK"),
        loss_columns,
        "dtan_delta",
        B,
        1e6,
        r"$\Delta\tan\delta$ [$10^{-6}$]",
    )
    axes[0].set_title("(a) BAS (Table 7)")
    _field_curves(
        axes[1], ("BK7-loss-15mK",), loss_columns, "dtan_delta", B, 1e6, r"$\Delta\tan\delta$ [$10^{-6}$]"
    )
    axes[1].set_title("(b) BK7 (Table 7)")
    fig.suptitle(r"Fig. 11 style: ATS dielectric loss vs B ($\omega/2\pi$ = 1 kHz)")
    fig.tight_layout()
    return fig


def _echo_fig(names, title, B_max):

    plt = _plt()
    B = np.linspace(0.0, B_max, 121)
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    for name in names:
        cols = echo_columns(B, _values(name))
        ax.plot(B, cols["echo_rel"], label=name)
    ax.set_xlabel("B [T]")
    ax.set_ylabel(r"$A(B)/A(\infty)$ (ATS share at B = 0 assumed 0.5)")
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def fig16_echo_BAS():
    return _echo_fig(("BAS1-echo", "BAS2-echo"), "Fig. 16 style: BAS echo amplitude vs B (Table 8)", 0.6)


def fig17_echo_BK7():
    return _echo_fig(
        ("BK7-echo-1.5us", "BK7-echo-6us"), "Fig. 17 style: BK7 echo amplitude vs B (Table 8)", 0.6
    )


def fig20_iea_tau12():
    """Corrected Eq. (87): IEA(tau_12) at B = 0 with the parameters of the text (Fig. 20).

    tau_phi(3) = 1 us (and 0.3 us, panel b), tau_phi(2) = 10 us, delta_omega = 2 pi x 0.6 MHz;
    the amplitudes C_2LS = 1, C_ATS = 0.5 are illustrative (the paper does not give them).
    """

    fn, ats = echo_vs_tau12, ats_iea_tau12
    plt = _plt()
    tau12 = np.linspace(0.05e-6, 12e-6, 800)
    dw = 2 * np.pi * 0.6e6
    c2, ca = 1.0, 0.5
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.4))
    ax = axes[0]
    ax.plot(tau12 * 1e6, c2 * np.exp(-2 * tau12 / 10e-6), label="2LS term")
    ax.plot(tau12 * 1e6, -ca * np.asarray(ats(tau12, 1e-6, dw)), label="- ATS term")
    total = fn(tau12, C_2ls=c2, tau_phi2_s=10e-6, C_ats=ca, tau_phi3_s=1e-6, delta_omega_rad_s=dw)
    ax.plot(tau12 * 1e6, np.asarray(total), "k", lw=2, label="sum")
    ax.set_title(
        r"(a) $\tau_{\phi(3)}$ = 1 $\mu$s, $\tau_{\phi(2)}$ = 10 $\mu$s, $\Delta\omega/2\pi$ = 0.6 MHz",
        fontsize=9,
    )
    ax = axes[1]
    for tphi3, style in ((1e-6, "k-"), (0.3e-6, "b-")):
        total = fn(tau12, C_2ls=c2, tau_phi2_s=10e-6, C_ats=ca, tau_phi3_s=tphi3, delta_omega_rad_s=dw)
        ax.plot(tau12 * 1e6, np.asarray(total), style, label=rf"$\tau_{{\phi(3)}}$ = {tphi3 * 1e6:g} $\mu$s")
    ax.set_title("(b) oscillations vanish for shorter $\\tau_{\\phi(3)}$", fontsize=9)
    for ax in axes:
        ax.set_xlabel(r"$\tau_{12}$ [$\mu$s]")
        ax.set_ylabel("integrated echo amplitude [arb.]")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle("Fig. 20 style: integrated echo amplitude vs waiting time at B = 0, Eq. (87) corrected")
    fig.tight_layout()
    return fig


def _b_max(values, wanted):
    """Largest field <= wanted inside the validity of the Eq. (20) gap (B < B* sqrt(45/2))."""
    bs = values.get("B_star")
    return wanted if bs is None else min(wanted, 0.98 * bs * np.sqrt(45.0 / 2.0))


#: temperatures [K] of the magnetization curves of Figs. 21, 22, 24, 25
M_TEMPERATURES = (2.0, 4.2, 10.0)


def _magnetization_fig(name, title):

    plt = _plt()
    v = _values(name)
    B = np.linspace(0.0, _b_max(v, 5.0), 201)
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    for T in M_TEMPERATURES:
        cols = magnetization_columns(np.full_like(B, T), B, v)
        ax.plot(B, 1e3 * (cols["M_total_Am2_per_g"] + v.get("M_offset", 0.0)), label=f"T = {T:g} K")
    ax.set_xlabel("B [T]")
    ax.set_ylabel(r"$M$ [$10^{-3}$ A m$^2$/g] (incl. offset)")
    ax.set_title(
        title + "\n(parameters at the table's reference temperature; no Eq. 96-97 drift)", fontsize=9
    )
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def fig21_magnetization_BAS():
    return _magnetization_fig("BAS-M", "Fig. 21 style: BAS magnetization, ATS + Fe (Table 10)")


def fig22_magnetization_Duran():
    return _magnetization_fig("Duran-M", "Fig. 22 style: Duran magnetization, ATS + Fe (Table 11)")


#: nominal Fe3+ concentration of Duran, Eq. (100): 126 ppm = 1.23e18 per g
DURAN_NOMINAL_FE3_PER_G = 1.23e18


def fig23_heat_capacity_terms_Duran():

    plt = _plt()
    c_para = c_paramagnetic
    name, T = "Duran-cp-1.36K", 1.36
    v = _values(name)
    B = np.linspace(0.0, 3.0, 301)
    Tg = np.full_like(B, T)
    cols = heat_capacity_columns(Tg, B, v)
    fig, ax = plt.subplots(figsize=(9.0, 4.6))
    s = 1e6
    ax.plot(B, s * np.asarray(c_para(Tg, B, v["n_fe2"], J_FE2, G_FE)), label=r"$C_{Fe^{2+}}$")
    ax.plot(B, s * np.asarray(c_para(Tg, B, v["n_fe3"], J_FE3, G_FE)), label=r"$C_{Fe^{3+}}$")
    ax.plot(B, s * cols["C_para_J_per_gK"], label=r"$C_{param}$")
    ax.plot(B, s * cols["C_ATS_J_per_gK"], label=r"$C_{ATS}$")
    ax.plot(B, s * cols["C_total_J_per_gK"], lw=2, color="g", label="total")
    ax.plot(
        B,
        s * np.asarray(c_para(Tg, B, DURAN_NOMINAL_FE3_PER_G, J_FE3, G_FE)),
        "k--",
        label=r"Langevin only, nominal $\bar n_{Fe^{3+}}$ = 126 ppm",
    )
    ax.set_xlabel("B [T]")
    ax.set_ylabel(r"$C$ [$\mu$J/(g K)]")
    ax.set_title(f"Fig. 23 style: heat-capacity terms of Duran, T = {T:g} K (Tables 3-4)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def fig24_magnetization_terms_Duran():

    plt = _plt()
    m_b = m_brillouin
    v = _values("Duran-M")
    T = 4.2
    B = np.linspace(0.0, _b_max(v, 5.0), 201)
    Tg = np.full_like(B, T)
    cols = magnetization_columns(Tg, B, v)
    s = 1e3
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    ax.plot(B, s * np.asarray(m_b(Tg, B, v["n_fe2"], J_FE2, G_FE)), label=r"$M_{Fe^{2+}}$")
    ax.plot(B, s * np.asarray(m_b(Tg, B, v["n_fe3"], J_FE3, G_FE)), label=r"$M_{Fe^{3+}}$")
    ax.plot(B, s * cols["M_para_Am2_per_g"], label=r"$M_{param}$")
    ax.plot(B, s * cols["M_ATS_Am2_per_g"], label=r"$M_{ATS}$")
    ax.plot(B, s * cols["M_total_Am2_per_g"], lw=2, label="total")
    ax.set_xlabel("B [T]")
    ax.set_ylabel(r"$M$ [$10^{-3}$ A m$^2$/g]")
    ax.set_title(f"Fig. 24 style: magnetization terms of Duran, T = {T:g} K (Table 11)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def fig25_magnetization_BK7():
    return _magnetization_fig("BK7-M", "Fig. 25 style: BK7 magnetization, ATS + Fe (Table 14)")


#: figure id -> (file name, function, description)
FIGURES = {
    "fig04": (
        "fig04_spectrum_3ls.png",
        fig04_spectrum,
        "3LS spectrum of Eq. (6) vs the A-B phase (exact Eq. 8), D0 = 1",
    ),
    "fig05": (
        "fig05_dos_vs_E.png",
        fig05_dos_vs_E,
        "ATS density of states g_ATS(E) for several phi (Eq. 13)",
    ),
    "fig06": (
        "fig06_dos_vs_phi.png",
        fig06_dos_vs_phi,
        "ATS density of states g_ATS(phi) for several E (Eq. 13)",
    ),
    "fig07": (
        "fig07_heat_capacity_BAS_Duran.png",
        fig07_heat_capacity,
        "C_p(B) - C_p(8 T), ATS + Fe terms, BAS and Duran (Tables 1-4)",
    ),
    "fig08": (
        "fig08_dielectric_BK7_Duran_BAS.png",
        fig08_dielectric,
        "Delta eps'/eps' vs B for BK7, Duran, BAS (Table 5, Eq. 51)",
    ),
    "fig09": (
        "fig09_dielectric_BAS_T.png",
        fig09_dielectric_BAS,
        "Delta eps'/eps' of BAS at 50, 94, 120 mK (Table 5)",
    ),
    "fig10": (
        "fig10_dielectric_SiOCH.png",
        fig10_dielectric_SiOCH,
        "Delta eps'/eps' of SiO2+xCyHz at 50, 70, 100 mK (Table 6)",
    ),
    "fig11": ("fig11_loss_BAS_BK7.png", fig11_loss, "Delta tan delta vs B, BAS and BK7 (Table 7, Eq. 61)"),
    "fig16": (
        "fig16_echo_BAS.png",
        fig16_echo_BAS,
        "echo amplitude vs B, BAS samples 1, 2 (Table 8, Eq. 76)",
    ),
    "fig17": ("fig17_echo_BK7.png", fig17_echo_BK7, "echo amplitude vs B, BK7 (Table 8, Eq. 76)"),
    "fig20": (
        "fig20_iea_vs_tau12.png",
        fig20_iea_tau12,
        "integrated echo amplitude vs tau_12 at B = 0 (Eq. 87)",
    ),
    "fig21": ("fig21_magnetization_BAS.png", fig21_magnetization_BAS, "M(B) of BAS, ATS + Fe (Table 10)"),
    "fig22": (
        "fig22_magnetization_Duran.png",
        fig22_magnetization_Duran,
        "M(B) of Duran, ATS + Fe (Table 11)",
    ),
    "fig23": (
        "fig23_heat_capacity_terms_Duran.png",
        fig23_heat_capacity_terms_Duran,
        "heat-capacity terms of Duran and the Langevin-only nominal-Fe curve (Tables 3-4)",
    ),
    "fig24": (
        "fig24_magnetization_terms_Duran.png",
        fig24_magnetization_terms_Duran,
        "magnetization terms of Duran at 4.2 K (Table 11)",
    ),
    "fig25": ("fig25_magnetization_BK7.png", fig25_magnetization_BK7, "M(B) of BK7, ATS + Fe (Table 14)"),
    "fig26": (
        "fig26_delta0_isolines.png",
        fig26_delta0_map,
        "iso-lines of Delta0 over V0 and hbar Omega (Eq. 4)",
    ),
}


def write_figures(out_dir: str, only=None, skipped: list | None = None) -> list[str]:
    """Write the figures (all, or the ids in ``only``) as PNGs to ``out_dir``; returns the paths.

    A figure whose physics is not available is skipped with a warning on stderr; its id and
    the reason are appended to ``skipped`` if given.
    """
    ids = list(FIGURES) if only is None else list(only)
    unknown = [i for i in ids if i not in FIGURES]
    if unknown:
        raise InputError(f"unknown figure id(s) {', '.join(unknown)}; known: {', '.join(FIGURES)}")
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for fid in ids:
        fname, fn, _ = FIGURES[fid]
        try:
            fig = fn()
        except Exception as e:  # one broken figure must not stop the others (reported as skipped)
            msg = (
                f"{fid} skipped: {type(e).__name__}: {e}"
                if not isinstance(e, InputError)
                else f"{fid} skipped: {e}"
            )
            print(f"warning: {msg}", file=sys.stderr)
            if skipped is not None:
                skipped.append((fid, str(e)))
            continue
        paths.append(save_figure(fig, os.path.join(out_dir, fname)))
    return paths
