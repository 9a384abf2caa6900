"""Regenerate the figures of docs/landscape.md ("A real KA catalogue") from a campaign output.

    .venv/bin/python docs/make_figures.py results/figures_run --out docs/figures

The argument is a campaign output directory (its ``catalogue.h5`` and ``campaign.json``;
made by ``pelsim campaign run simulations/figures.toml``) or a catalogue file. Writes:

- ``ka_dwp_histograms.png``: asymmetry Delta, barrier V0, distance d, hbar*Omega,
  log10 Delta0 and log10 of the splitting, in kelvin through the catalogue's unit preset
  (argon); all DWPs of the catalogue, the [filters] of the campaign are not applied;
- ``ka_disconnectivity.png``: the disconnectivity graph of the glass with the most DWPs;
- ``ka_twp.png`` (when the catalogue holds a TWP; ``--twp-only`` writes only this one, e.g.
  ``docs/make_figures.py docs/data/ka_twp_catalogue.h5 --out docs/figures --twp-only``): the
  three minima and three saddles of the TWP with the lowest highest barrier, and its 3-level
  spectrum vs magnetic field (:func:`analysis.bridge.twp_levels`: the exact spectrum of seed
  Eq. 6 with the three amplitudes of the TWP, Eq. 7 phase, charge |q/e| = 1 assumed).

Prints one JSON object with the counts the caption quotes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def _load(path: Path):
    """(catalogue, validated config, number of glasses searched) of a campaign dir or a catalogue.

    A campaign still running (no ``catalogue.h5`` yet) is drawn from its finished search
    tasks, merged in the campaign's (glass, stage) order (:func:`pelsim.campaign.stages.merge`).
    """
    from pelsim.landscape.catalogue import Catalogue

    if not path.is_dir():
        return Catalogue.open(path, "r"), {}, None
    cfg = json.loads((path / "campaign.json").read_text())["config"]
    done = sorted(path.glob("tasks/g*/*.h5"))
    done = [p for p in done if p.with_name(p.stem + ".done.json").is_file()]
    n_glasses = len({p.parent.name for p in done})
    if (path / "catalogue.h5").is_file():
        return Catalogue.open(path / "catalogue.h5", "r"), cfg, cfg["glasses"]["count"]
    import tempfile

    from pelsim.campaign.stages import merge

    partial = Path(tempfile.mkdtemp()) / "partial_catalogue.h5"
    merge(cfg, done, partial)
    return Catalogue.open(partial, "r"), cfg, n_glasses


def dwp_histograms(cat, out: Path) -> None:
    import matplotlib.pyplot as plt

    d = cat.dwps()
    kpe = float(cat.attrs["epsilon_K"])
    with np.errstate(divide="ignore"):
        panels = [
            (np.abs(d["asymmetry"]) * kpe, r"$|\Delta|$ = $|E_b - E_a|$ (K)"),
            (d["V0"] * kpe, r"barrier $V_0$ (K)"),
            (d["d"], r"distance $d$ ($\sigma\,\sqrt{m}$)"),
            (0.5 * (d["hbar_omega_a"] + d["hbar_omega_b"]) * kpe, r"$\hbar\Omega$ (K, mean of both wells)"),
            (np.log10(d["Delta0_K"]), r"$\log_{10}\,\Delta_0$ / K"),
            (np.log10(d["splitting_K"]), r"$\log_{10}$ splitting / K"),
        ]
    fig, axes = plt.subplots(2, 3, figsize=(10, 5.6))
    for ax, (x, label) in zip(axes.ravel(), panels, strict=True):
        x = np.asarray(x, float)
        ok = np.isfinite(x)
        spread = np.ptp(x[ok]) / (1 + np.abs(x[ok]).max()) if ok.any() else 0.0
        nb = min(20, max(5, ok.sum() // 3)) if spread > 1e-9 else 1
        ax.hist(x[ok], bins=nb, color="C0", edgecolor="k", lw=0.5)
        ax.set_xlabel(label)
        if ok.sum() < x.size:
            ax.set_title(f"{x.size - ok.sum()} non-finite left out", fontsize=8)
    for ax in axes[:, 0]:
        ax.set_ylabel("DWPs")
    s = cat.summary()
    fig.suptitle(f"KA {cat.attrs['dim']}D, N = {cat.attrs['N']}: {s['dwps']} DWPs, {s['minima']} minima "
                 f"({cat.attrs['unit_preset']} units)")
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)


def disconnectivity(cat, out: Path) -> int:
    import matplotlib.pyplot as plt

    from pelsim.landscape.disconnectivity import draw

    glass = np.asarray([r["glass"] for r in cat.dwp_rows])
    g = int(np.bincount(glass).argmax())
    fig, ax = plt.subplots(figsize=(6, 4.5))
    draw(cat, ax, n_levels=30, glass=g)
    ax.set_title(f"disconnectivity graph, glass {g} ({int(np.sum(glass == g))} DWPs)")
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return g


def pick_twp(cat) -> int:
    """The TWP whose highest barrier (saddle above the lowest of its minima) is lowest."""
    t = cat.twps()
    Es = np.asarray(cat.saddles["energy"])[t["saddles"]]
    Em = np.asarray(cat.minima["energy"])[t["minima"]].min(axis=1)
    return int(np.argmin(Es.max(axis=1) - Em))


def twp_figure(cat, k: int, out: Path, fields_T=None) -> dict:
    import matplotlib.pyplot as plt

    from analysis.bridge import twp_levels
    from analysis.report import units_for
    from pelsim.models import load_model

    t = cat.twps()
    kpe = float(cat.attrs["epsilon_K"])
    mins = list(t["minima"][k])
    Em = np.asarray(cat.minima["energy"])[mins]
    E0 = Em.min()
    rows = [cat.dwp_rows[i] for i in t["dwps"][k]]
    sad = {frozenset((r["min_a"], r["min_b"])): cat.saddles["energy"][r["saddle"]] for r in rows}
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    # energy diagram around the loop 1 -> 2 -> 3 -> 1: minima at x = 0, 2, 4, 6 (= 1 again)
    loop = mins + [mins[0]]
    xs, ys = [], []
    for j in range(3):
        a, b = loop[j], loop[j + 1]
        xs += [2 * j, 2 * j + 1]
        ys += [cat.minima["energy"][a] - E0, sad[frozenset((a, b))] - E0]
    xs.append(6)
    ys.append(cat.minima["energy"][loop[0]] - E0)
    ax1.plot(xs, ys, color="0.6", lw=1, zorder=1)
    for x, y in zip(xs, ys, strict=True):
        is_min = x % 2 == 0
        ax1.hlines(y, x - 0.3, x + 0.3, color="C0" if is_min else "C3", lw=3)
        ax1.annotate(f"{y * kpe:.0f} K", (x, y), textcoords="offset points", xytext=(0, 5), ha="center",
                     fontsize=8)
    ax1.set_xticks(range(7), ["1", "s12", "2", "s23", "3", "s31", "1"])
    ax1.set_ylabel(r"energy above the lowest minimum ($\varepsilon_{AA}$)")
    ax1.set_title(f"TWP {k} (glass {t['glass'][k]}, method {t['method'][k]}): minima and saddles")
    model = load_model(cat.attrs["model"])
    units = units_for(cat.attrs["unit_preset"], model.density, float(cat.attrs["tls_threshold_K"]))
    B = np.linspace(0.0, 10.0, 101) if fields_T is None else np.asarray(fields_T, float)
    one = {key: np.asarray(v)[k:k + 1] for key, v in t.items()}
    how = "exact, etm.levels"
    lev = np.asarray(twp_levels(one, B, units)[0])  # (n_B, 3) [K], Eq. 6 with the three amplitudes
    for j in range(3):
        ax2.plot(B, lev[:, j] - lev[0, 0], label=f"level {j}")
    ax2.set_xlabel("B (T)")
    ax2.set_ylabel(r"$E_j(B) - E_0(0)$ (K)")
    D0K = np.abs(t["D0"][k]).mean() * kpe
    ax2.set_title(rf"3-level spectrum ({how}): $\bar D_0$ = {D0K:.2g} K, "
                  rf"S = {t['loop_area_particle_max'][k]:.3f} $\sigma^2$", fontsize=9)
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return {"twp": k, "minima": [int(m) for m in mins], "glass": int(t["glass"][k]),
            "method": str(t["method"][k]), "E_K": [float(e) for e in (Em - E0) * kpe],
            "saddles_K": [float((sad[frozenset((loop[j], loop[j + 1]))] - E0) * kpe) for j in range(3)],
            "D0_K": [float(x * kpe) for x in t["D0"][k]], "levels_B0_K": [float(x) for x in lev[0]],
            "loop_area_particle_max": float(t["loop_area_particle_max"][k])}


def main(argv=None) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import pelsim  # noqa: F401  (x64)

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("source", help="campaign output directory or catalogue .h5")
    p.add_argument("--out", default="docs/figures", help="directory for the PNG files")
    p.add_argument("--twp-only", action="store_true",
                   help="write only ka_twp.png (e.g. from docs/data/ka_twp_catalogue.h5)")
    a = p.parse_args(argv)
    cat, cfg, n_glasses = _load(Path(a.source))
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    s = cat.summary()
    info = {"source": str(a.source), "campaign": cfg.get("campaign", {}).get("name", ""),
            "glasses": n_glasses, "glasses_planned": cfg.get("glasses", {}).get("count"), **s}
    d = cat.dwps()
    info["dwps_by_method"] = {m: int(np.sum(d["method"] == m)) for m in sorted(set(d["method"]))}
    if s["dwps"] == 0 or (a.twp_only and not s["twps"]):
        print(json.dumps(info))
        return 1
    if not a.twp_only:
        dwp_histograms(cat, out / "ka_dwp_histograms.png")
        info["disconnectivity_glass"] = disconnectivity(cat, out / "ka_disconnectivity.png")
    if s["twps"]:
        info["twp_drawn"] = twp_figure(cat, pick_twp(cat), out / "ka_twp.png")
        info["twps_by_method"] = {m: int(np.sum(cat.twps()["method"] == m))
                                  for m in sorted(set(cat.twps()["method"]))}
    print(json.dumps(info))
    return 0


if __name__ == "__main__":
    sys.exit(main())
