"""Least-squares fits of the etm closed forms to measured data, with lmfit.

Any of the observables of the ``etm`` CLI -- heat capacity (Eqs. 16-18), magnetization
(Eqs. 90-94), dielectric constant (Eq. 51), dielectric loss (Eq. 61), echo amplitude
(Eqs. 76-77) -- can be fitted to a CSV whose columns are named like the CLI's output
columns (``T_K,B_T,C_total_J_per_gK`` ...).  Parameters are lmfit ``Parameters`` with
bounds and fixed/free flags; the report gives best values, standard errors (from the
covariance of the Levenberg-Marquardt fit, scaled by the reduced chi^2 when no sigma
column is given) and the correlations, as text or JSON.

Each model is a function whose signature names its parameters (``heat_capacity_model`` ...);
``lmfit.Model`` reads them from it, so no parameter list is kept by hand.
Internally every free parameter is fitted as a multiple of its starting value, so that
parameters of very different magnitude (P* n_ATS ~ 1e16 per g, D_min ~ 0.1 K) are all of
order one for the optimiser; values, errors and bounds are reported in the physical units.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import lmfit
import numpy as np

from etm.columns import (
    dielectric_columns,
    echo_columns,
    heat_capacity_columns,
    loss_columns,
    magnetization_columns,
)
from etm.errors import InputError
from etm.io import read_csv_columns

# ---------------------------------------------------------------------------- the models
# Each model is a function of its x columns and its parameters, returning the etm.columns table;
# lmfit.Model reads the parameter names (and their order in the report) from its signature.
# ``fixed`` carries the values that are not parameters (orientation_average, the echo's T_K).


def _values(scope: dict, x: tuple[str, ...]) -> dict:
    v = dict(scope)
    fixed = v.pop("fixed")
    for name in x:
        v.pop(name)
    return {**fixed, **v}


def heat_capacity_model(T_K, B_T, Pn, n_fe2, n_fe3, D_min, D0min_qS, D0max_qS, B_star, **fixed):
    """C_ATS + C_para (etm.columns.heat_capacity_columns)."""
    return heat_capacity_columns(T_K, B_T, _values(locals(), ("T_K", "B_T")))


def magnetization_model(T_K, B_T, Pn, n_fe2, n_fe3, D_min, D0min_qS, D0max_qS, B_star, M_offset, **fixed):
    """M_ATS + M_para (etm.columns.magnetization_columns) plus a constant offset of M_total."""
    cols = magnetization_columns(T_K, B_T, _values(locals(), ("T_K", "B_T")))
    if M_offset:
        cols = {**cols, "M_total_Am2_per_g": cols["M_total_Am2_per_g"] + M_offset}
    return cols


def dielectric_model(T_K, B_T, amplitude, D_min, D0min_qS, D0max_qS, B_star, **fixed):
    """Delta eps'/eps' of Eq. (51) (etm.columns.dielectric_columns)."""
    return dielectric_columns(T_K, B_T, _values(locals(), ("T_K", "B_T")))


def loss_model(T_K, B_T, amplitude, D_min, D0min_qS, D0max_qS, B_star, Gamma, frequency, **fixed):
    """Delta tan delta of Eq. (61) (etm.columns.loss_columns)."""
    return loss_columns(T_K, B_T, _values(locals(), ("T_K", "B_T")))


def echo_model(
    B_T,
    ats_ratio,
    D_min,
    D0min_qS,
    D0max_qS,
    B_star,
    p1F0,
    Gamma,
    c_ats,
    tan_omega_dtau,
    frequency,
    tau1,
    tau2,
    tau12,
    **fixed,
):
    """A(B)/A(inf) of Eqs. (76-77) (etm.columns.echo_columns); T_K is a fixed value."""
    return echo_columns(B_T, _values(locals(), ("B_T",)))


@dataclass(frozen=True)
class ModelSpec:
    """A fit model: its function (x columns first, then the parameters), y columns, default free set."""

    name: str
    fn: Callable[..., dict]
    x: tuple[str, ...]
    y: tuple[str, ...]  # allowed y columns; the first is the default
    default_vary: tuple[str, ...]

    @cached_property
    def params(self) -> tuple[str, ...]:
        """Every parameter the model takes, read from its function's signature by lmfit.Model."""
        return tuple(lmfit.Model(self.fn, independent_vars=list(self.x)).param_names)


_XY = ("T_K", "B_T")
_ATS = ("D_min", "D0min_qS", "D0max_qS")
MODELS = {
    "heat-capacity": ModelSpec(
        "heat-capacity",
        heat_capacity_model,
        _XY,
        ("C_total_J_per_gK", "C_ATS_J_per_gK", "C_para_J_per_gK"),
        ("Pn", "n_fe2", "n_fe3", *_ATS),
    ),
    "magnetization": ModelSpec(
        "magnetization",
        magnetization_model,
        _XY,
        ("M_total_Am2_per_g", "M_ATS_Am2_per_g", "M_para_Am2_per_g"),
        ("Pn", "n_fe2", "n_fe3", *_ATS),
    ),
    "dielectric": ModelSpec("dielectric", dielectric_model, _XY, ("deps_rel",), ("amplitude", *_ATS)),
    "loss": ModelSpec("loss", loss_model, _XY, ("dtan_delta",), ("amplitude", *_ATS, "Gamma")),
    "echo": ModelSpec("echo", echo_model, ("B_T",), ("echo_rel",), ("ats_ratio", *_ATS)),
}

#: lower bounds of the parameters (all are positive except these)
_LOWER = {"M_offset": -np.inf, "tan_omega_dtau": -np.inf, "ats_ratio": -np.inf}


def model_function(model: str, values: dict, x: dict) -> dict:
    """Evaluate ``model`` at the x columns with the parameter values (missing ones: None)."""
    spec = MODELS[model]
    params = spec.params
    fixed = {k: v for k, v in values.items() if k not in params and k not in spec.x}
    return spec.fn(**x, **{p: values.get(p) for p in params}, **fixed)


def _spec(model: str) -> ModelSpec:
    if model not in MODELS:
        raise InputError(f"unknown fit model {model!r}; choose from {', '.join(MODELS)}")
    return MODELS[model]


def fit_arrays(
    model: str,
    x: dict,
    y_data,
    values: dict,
    vary=None,
    bounds=None,
    y: str | None = None,
    sigma=None,
    max_nfev: int = 2000,
) -> dict:
    """Fit ``model`` to data; returns the report dict (see :func:`format_report`).

    x: dict of x columns (e.g. ``{"T_K": T, "B_T": B}``); y_data: measured values;
    values: starting values of all parameters (and fixed ones, flags like orientation_average);
    vary: parameter names to fit (default: the model's standard set among those with a value);
    bounds: name -> (lo, hi) in physical units; sigma: 1-sigma errors of y_data or None.
    """
    spec = _spec(model)
    y = y or spec.y[0]
    if y not in spec.y:
        raise InputError(f"{model}: y column must be one of {', '.join(spec.y)}, got {y!r}")
    y_data = np.asarray(y_data, np.float64)
    if y_data.size < 2 or not np.all(np.isfinite(y_data)):
        raise InputError(f"{model}: need at least 2 finite data points")
    if sigma is not None:
        sigma = np.broadcast_to(np.asarray(sigma, np.float64), y_data.shape)
        if not np.all(sigma > 0):
            raise InputError("sigma must be > 0 everywhere")
    bounds = dict(bounds or {})
    if vary is None:
        vary = [p for p in spec.default_vary if values.get(p)]
    unknown = [p for p in list(vary) + list(bounds) if p not in spec.params]
    if unknown:
        raise InputError(
            f"{model}: unknown parameter(s) {', '.join(unknown)}; the model has {', '.join(spec.params)}"
        )
    missing = [p for p in vary if values.get(p) is None]
    if missing:
        raise InputError(f"{model}: no starting value for {', '.join(missing)} (give the flag or --material)")
    if len(vary) >= y_data.size:
        raise InputError(f"{model}: {len(vary)} free parameters need more than {y_data.size} points")

    scale = {}
    pars = lmfit.Parameters()
    for p in vary:
        v0 = float(values[p])
        s = abs(v0) if v0 != 0 else 1.0
        scale[p] = s
        lo, hi = bounds.get(p, (_LOWER.get(p, 0.0), np.inf))
        if not lo < hi:
            raise InputError(f"bounds of {p}: lower {lo} must be below upper {hi}")
        if not lo <= v0 <= hi:
            raise InputError(f"starting value {v0:g} of {p} is outside its bounds [{lo:g}, {hi:g}]")
        pars.add(p, value=v0 / s, min=lo / s, max=hi / s, vary=True)

    n_eval = {"bad": 0}

    def current(params):
        v = dict(values)
        for p in vary:
            v[p] = params[p].value * scale[p]
        return v

    # a finite penalty for parameter sets outside the model's domain (e.g. D0min > D0max)
    penalty = 1e3 * (np.max(np.abs(y_data)) / (np.min(sigma) if sigma is not None else 1.0) + 1.0)

    def residual(params):
        try:
            model_y = model_function(model, current(params), x)[y]
        except InputError:
            n_eval["bad"] += 1
            return np.full(y_data.shape, penalty)
        r = np.asarray(model_y, np.float64) - y_data
        return r / sigma if sigma is not None else r

    minimizer = lmfit.Minimizer(residual, pars, scale_covar=sigma is None, max_nfev=max_nfev)
    result = minimizer.minimize(method="leastsq")
    best = current(result.params)
    report = {
        "model": model,
        "y": y,
        "n_points": int(y_data.size),
        "n_free": len(vary),
        "chi2": float(result.chisqr),
        "reduced_chi2": float(result.redchi),
        "weighted": sigma is not None,
        "success": bool(result.success) and result.errorbars,
        "message": str(result.message)
        + ("" if result.errorbars else " (no error bars: covariance not available)"),
        "nfev": int(result.nfev),
        "params": {},
        "correlations": {},
    }
    for p in list(spec.params):
        if p in vary:
            par = result.params[p]
            err = par.stderr * scale[p] if par.stderr is not None else None
            report["params"][p] = {
                "value": best[p],
                "stderr": err,
                "vary": True,
                "min": par.min * scale[p],
                "max": par.max * scale[p],
            }
        elif values.get(p) is not None:
            report["params"][p] = {"value": float(values[p]), "stderr": None, "vary": False}
    for i, a in enumerate(vary):
        corr = result.params[a].correl or {}
        for b in vary[i + 1 :]:
            if b in corr:
                report["correlations"][f"{a},{b}"] = float(corr[b])
    return report


def fit_csv(
    model: str,
    path: str,
    values: dict,
    vary=None,
    bounds=None,
    y: str | None = None,
    sigma: str | None = None,
) -> dict:
    """Fit ``model`` to the CSV at ``path`` (columns named like the CLI output); see :func:`fit_arrays`."""
    spec = _spec(model)
    cols = read_csv_columns(path)
    ycol = y or next((c for c in spec.y if c in cols), spec.y[0])
    needed = list(spec.x) + [ycol] + ([sigma] if sigma else [])
    missing = [c for c in needed if c not in cols]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)} (have {', '.join(cols)})")
    x = {c: cols[c] for c in spec.x}
    report = fit_arrays(
        model, x, cols[ycol], values, vary=vary, bounds=bounds, y=ycol, sigma=cols[sigma] if sigma else None
    )
    report["data"] = path
    return report


def format_report(report: dict, fmt: str = "text") -> str:
    """The fit report as JSON or as a human-readable text table."""
    if fmt == "json":
        return json.dumps(report, indent=1) + "\n"
    lines = [
        f"fit of {report['model']} ({report['y']}) to {report.get('data', 'data')}: "
        f"{report['n_points']} points, {report['n_free']} free parameters",
        f"chi2 = {report['chi2']:.6g}, reduced chi2 = {report['reduced_chi2']:.6g}"
        f" ({'weighted' if report['weighted'] else 'unweighted; errors scaled by sqrt(reduced chi2)'})",
        f"status: {'ok' if report['success'] else 'FAILED'} - {report['message']}"
        f" ({report['nfev']} evaluations)",
        "",
        f"{'parameter':<12} {'value':>14} {'std error':>12} {'rel.':>8}  free",
    ]
    for name, p in report["params"].items():
        err = p["stderr"]
        rel = f"{abs(err / p['value']):8.2%}" if err is not None and p["value"] else " " * 8
        e = f"{err:12.4g}" if err is not None else " " * 12
        lines.append(f"{name:<12} {p['value']:14.6g} {e} {rel}  {'yes' if p['vary'] else 'fixed'}")
    if report["correlations"]:
        lines += ["", "correlations:"]
        for k, v in sorted(report["correlations"].items(), key=lambda kv: -abs(kv[1])):
            lines.append(f"  {k:<24} {v:+.3f}")
    return "\n".join(lines) + "\n"


def within_sigma(report: dict, truth: dict, n_sigma: float = 3.0) -> dict:
    """For each free parameter: |fit - truth| / stderr (inf if no error bar); helper for tests."""
    out = {}
    for name, p in report["params"].items():
        if p["vary"] and name in truth:
            err = p["stderr"]
            out[name] = abs(p["value"] - truth[name]) / err if err else math.inf
    return out
