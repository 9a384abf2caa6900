"""Distributions of DWP/TWP parameters from a catalogue, with bootstrap errors over glasses.

Input is the ``dwps()`` / ``twps()`` dict of arrays of :class:`pelsim.landscape.catalogue.Catalogue`
(reduced LJ units, kelvin columns ``*_K`` under the catalogue's unit preset; schema in
docs/catalogue.md). Everything here is plain numpy on small arrays.

What is computed (seed paper section 8; Khomenko et al. PRL 124, 225901 (2020) for the TLS density):

* histograms (probability densities) of Delta, log10 Delta0, V0, d, m_eff, participation ratio;
  the joint density P(Delta, ln Delta0), the quantity whose STM form is P-bar / Delta0 (seed Eq. 2);
* the TLS density n0 = N_TLS / (N_glasses N E_thr) per particle per unit energy (TLS: splitting
  below E_thr) and P-bar = n0 * rho in J^-1 m^-3 under a unit preset; with the STM distribution
  P(Delta, Delta0) = P-bar/Delta0 the number of systems with splitting E < E_thr per volume is
  P-bar E_thr ln(...), so n0 * rho is the usual simulation estimate of P-bar (the logarithm is
  of order one and is dropped, as in Khomenko et al.);
* TWP statistics (counts, asymmetries, amplitudes, loop areas, level spacings);
* a comparison of IS-IS (``is_pair``, ``single_ended``, ``explore``, ``tls_hunt``) and
  ``intra_basin`` DWPs (medians and two-sample Kolmogorov-Smirnov tests from scipy).

Statistical errors: bootstrap over glasses (glasses are the independent samples; DWPs of
one glass are not). Each resample draws n_glasses glasses with replacement and recomputes
the statistic; the error is the standard deviation over resamples.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

#: DWP columns histogrammed, with their label and whether the histogram is over log10
DWP_QUANTITIES = {
    "Delta_K": ("Delta [K]", False),
    "Delta0_K": ("log10(Delta0 / K)", True),
    "V0": ("V0 [epsilon]", False),
    "d": ("d [sigma sqrt(m)]", False),
    "m_eff": ("m_eff [m_A]", False),
    "participation_ratio": ("participation ratio", False),
}
IS_METHODS = ("is_pair", "single_ended", "explore", "explore_closing", "tls_hunt")


def _as_str(a) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype.kind in ("S", "O"):
        return np.array([x.decode() if isinstance(x, bytes) else str(x) for x in a])
    return a.astype(str)


def bootstrap_indices(glass: np.ndarray, glasses: np.ndarray, n_boot: int, seed: int = 0):
    """Yield row-index arrays of ``n_boot`` resamples of whole glasses (with replacement)."""
    rng = np.random.default_rng(seed)
    rows = {g: np.flatnonzero(glass == g) for g in glasses}
    for _ in range(n_boot):
        pick = rng.choice(glasses, size=len(glasses), replace=True)
        yield np.concatenate([rows[g] for g in pick]) if len(pick) else np.zeros(0, int)


def resample_counts(n_glasses: int, n_boot: int, seed: int = 0) -> np.ndarray:
    """(n_boot, n_glasses) multiplicities of each glass in each bootstrap resample.

    For a statistic that is a sum over systems, the resampled value is counts @ per-glass sums,
    which avoids re-evaluating anything per resample.
    """
    rng = np.random.default_rng(seed)
    return (
        rng.multinomial(n_glasses, np.full(n_glasses, 1.0 / n_glasses), size=n_boot)
        if n_glasses
        else np.zeros((n_boot, 0))
    )


def histogram(
    values: np.ndarray, glass: np.ndarray, glasses: np.ndarray, bins, n_boot: int = 200, seed: int = 0
) -> dict:
    """Probability density of ``values`` on ``bins`` with a bootstrap-over-glasses error.

    Returns edges, centres, density (integrates to 1 over the bins when any value falls
    in them), error (std over resamples), counts.
    """
    values = np.asarray(values, float)
    ok = np.isfinite(values)
    values, glass = values[ok], np.asarray(glass)[ok]
    counts, edges = np.histogram(values, bins=bins)
    widths = np.diff(edges)
    dens = counts / (counts.sum() * widths) if counts.sum() else np.zeros_like(widths)
    boots = []
    for idx in bootstrap_indices(glass, glasses, n_boot, seed):
        c, _ = np.histogram(values[idx], bins=edges)
        boots.append(c / (c.sum() * widths) if c.sum() else np.zeros_like(widths))
    err = np.std(boots, axis=0) if boots else np.zeros_like(widths)
    return {
        "edges": edges,
        "centres": 0.5 * (edges[1:] + edges[:-1]),
        "density": dens,
        "error": err,
        "counts": counts,
    }


def _bins(x: np.ndarray, n: int = 20):
    x = x[np.isfinite(x)]
    if x.size == 0:
        return np.linspace(0.0, 1.0, n + 1)
    lo, hi = float(x.min()), float(x.max())
    if hi <= lo:
        lo, hi = lo - 0.5 * (abs(lo) + 1e-12), hi + 0.5 * (abs(hi) + 1e-12)
    return np.linspace(lo, hi, n + 1)


def bootstrap_stat(fn, glass: np.ndarray, glasses: np.ndarray, n_boot: int, seed: int = 0) -> float:
    """Std of ``fn(row_indices)`` over glass resamples (NaN-safe; 0 with < 2 glasses)."""
    if len(glasses) < 2 or n_boot == 0:
        return 0.0
    vals = [fn(idx) for idx in bootstrap_indices(glass, glasses, n_boot, seed)]
    vals = np.asarray(vals, float)
    vals = vals[np.isfinite(vals)]
    return float(np.std(vals)) if vals.size else float("nan")


def tls_density(
    dwps: dict,
    n_particles: int,
    glasses: np.ndarray,
    threshold_reduced: float,
    number_density: float,
    energy_unit_J: float,
    length_unit_m: float,
    n_boot: int = 200,
    seed: int = 0,
) -> dict:
    """TLS density n0 per particle per unit energy and P-bar in J^-1 m^-3, bootstrap errors.

    Args:
      dwps: catalogue DWP columns (needs ``is_tls``, ``glass``).
      n_particles: particles per glass N.
      glasses: the glass indices of the campaign (including glasses with no DWP).
      threshold_reduced: TLS threshold on the splitting in reduced energy (epsilon).
      number_density: particles per sigma^3 (reduced).
      energy_unit_J, length_unit_m: epsilon in J and sigma in m of the unit preset.
    """
    glass = np.asarray(dwps.get("glass", np.zeros(0, int)))
    is_tls = np.asarray(dwps.get("is_tls", np.zeros(0, bool)), bool)
    n_g = max(len(glasses), 1)
    norm = n_g * n_particles * threshold_reduced

    def n0_of(idx):
        # a resample has n_g glasses too, so the normalisation is unchanged
        return is_tls[idx].sum() / norm

    n_tls = int(is_tls.sum())
    n0 = n_tls / norm  # per particle per epsilon
    n0_err = bootstrap_stat(n0_of, glass, np.asarray(glasses), n_boot, seed)
    rho_m3 = number_density / length_unit_m**3
    to_pbar = rho_m3 / energy_unit_J  # (per particle per epsilon) -> J^-1 m^-3
    return {
        "n_tls": n_tls,
        "n_glasses": int(n_g),
        "threshold_reduced": threshold_reduced,
        "n0_per_particle_per_epsilon": n0,
        "n0_err": n0_err,
        "Pbar_J_m3": n0 * to_pbar,
        "Pbar_err_J_m3": n0_err * to_pbar,
    }


def twp_statistics(twps: dict, glasses: np.ndarray, kelvin_per_epsilon: float) -> dict:
    """Counts per glass, asymmetries D = sqrt(E1^2+E2^2+E3^2) (about their mean, seed Eq. 10),
    amplitudes, loop areas and level spacings of the TWPs (energies converted to K)."""
    n = len(np.asarray(twps.get("id", [])))
    out = {"n_twps": n, "per_glass": n / max(len(glasses), 1)}
    if n == 0:
        return out
    E = np.stack([twps["E1"], twps["E2"], twps["E3"]], axis=1) * kelvin_per_epsilon
    Ec = E - E.mean(axis=1, keepdims=True)
    D = np.sqrt((Ec**2).sum(axis=1))
    D0 = np.asarray(twps["D0"]) * kelvin_per_epsilon
    spec = np.asarray(twps["spectrum"]) * kelvin_per_epsilon
    out.update(
        {
            "D_K": D,
            "D0_mean_K": D0.mean(axis=1),
            "loop_area": np.asarray(twps["loop_area"]),
            "loop_area_particle_max": np.asarray(twps.get("loop_area_particle_max", np.full(n, np.nan))),
            "gap01_K": spec[:, 1] - spec[:, 0],
            "gap12_K": spec[:, 2] - spec[:, 1],
            "median_D_K": float(np.median(D)),
            "median_D0_K": float(np.median(D0)),
        }
    )
    return out


def compare_methods(dwps: dict) -> dict:
    """IS-IS (is_pair + single_ended) against intra-basin DWPs: counts, medians, KS tests."""
    method = _as_str(dwps.get("method", np.zeros(0, "S1")))
    groups = {"is_is": np.isin(method, IS_METHODS), "intra_basin": method == "intra_basin"}
    out = {}
    for q in ("V0", "d", "Delta0_K", "participation_ratio", "m_eff"):
        if q not in dwps:
            continue
        x = np.asarray(dwps[q], float)
        if q == "Delta0_K":
            x = np.log10(np.where(x > 0, x, np.nan))
        row = {}
        for name, m in groups.items():
            v = x[m & np.isfinite(x)]
            row[name] = {"n": int(v.size), "median": float(np.median(v)) if v.size else float("nan")}
        a, b = x[groups["is_is"] & np.isfinite(x)], x[groups["intra_basin"] & np.isfinite(x)]
        if a.size >= 2 and b.size >= 2:
            ks = stats.ks_2samp(a, b)
            row["ks_statistic"], row["ks_pvalue"] = float(ks.statistic), float(ks.pvalue)
        out["log10_Delta0_K" if q == "Delta0_K" else q] = row
    is_tls = np.asarray(dwps.get("is_tls", np.zeros(len(method), bool)), bool)
    out["tls_fraction"] = {
        name: float(is_tls[m].mean()) if m.any() else float("nan") for name, m in groups.items()
    }
    out["counts"] = {name: int(m.sum()) for name, m in groups.items()}
    return out


def dwp_distributions(
    dwps: dict, glasses: np.ndarray, n_boot: int = 200, seed: int = 0, n_bins: int = 20
) -> dict:
    """One-dimensional densities of :data:`DWP_QUANTITIES` and the joint P(Delta, ln Delta0)."""
    glass = np.asarray(dwps.get("glass", np.zeros(0, int)))
    out = {}
    for q, (label, logx) in DWP_QUANTITIES.items():
        if q not in dwps:
            continue
        x = np.asarray(dwps[q], float)
        if logx:
            x = np.log10(np.where(x > 0, x, np.nan))
        h = histogram(x, glass, glasses, _bins(x, n_bins), n_boot, seed)
        h["label"] = label
        out[q] = h
    if "Delta_K" in dwps and "Delta0_K" in dwps:
        D = np.asarray(dwps["Delta_K"], float)
        lnD0 = np.log(np.where(np.asarray(dwps["Delta0_K"], float) > 0, dwps["Delta0_K"], np.nan))
        ok = np.isfinite(D) & np.isfinite(lnD0)
        H, ex, ey = np.histogram2d(D[ok], lnD0[ok], bins=(_bins(D[ok], 12), _bins(lnD0[ok], 12)))
        area = np.outer(np.diff(ex), np.diff(ey))
        out["joint_Delta_lnDelta0"] = {
            "Delta_edges_K": ex,
            "lnDelta0_edges": ey,
            "density": H / (max(H.sum(), 1) * area),
            "counts": H,
        }
    return out


def summarize(
    dwps: dict,
    twps: dict,
    glasses,
    n_particles: int,
    number_density: float,
    units: dict,
    n_boot: int = 200,
    seed: int = 0,
) -> dict:
    """Everything above for one campaign catalogue.

    ``units`` holds ``energy_J`` (epsilon in J), ``length_m`` (sigma in m), ``kelvin_per_epsilon``
    and ``tls_threshold_K``.
    """
    glasses = np.asarray(sorted(set(int(g) for g in glasses)))
    thr_red = units["tls_threshold_K"] / units["kelvin_per_epsilon"]
    n = len(np.asarray(dwps.get("id", [])))
    res = {
        "n_dwps": n,
        "n_glasses": int(len(glasses)),
        "dwps_per_glass": n / max(len(glasses), 1),
        "histograms": dwp_distributions(dwps, glasses, n_boot, seed),
        "tls": tls_density(
            dwps,
            n_particles,
            glasses,
            thr_red,
            number_density,
            units["energy_J"],
            units["length_m"],
            n_boot,
            seed,
        ),
        "twps": twp_statistics(twps, glasses, units["kelvin_per_epsilon"]),
        "methods": compare_methods(dwps),
    }
    if n:
        res["median"] = {
            q: float(np.nanmedian(np.asarray(dwps[q], float)))
            for q in ("V0", "d", "m_eff", "participation_ratio", "Delta0_K", "Delta_K")
            if q in dwps
        }
    return res


def to_jsonable(obj):
    """Nested dicts of numpy values -> JSON-ready lists and floats (NaN/inf -> None)."""
    if isinstance(obj, dict):
        return {k: to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj
