"""The ``etm`` command: tunneling-model observables, presets, fits and figures.

Commands (columns in this order; units in the names; see docs/etm.md):

  spectrum       phi,E0,E1,E2                 eigenvalues of Eq. (6) via Eq. (8)
  dos            E_K,B_T,g_ATS_per_K_per_g    Eqs. (12-13)
  heat-capacity  T_K,B_T,C_ATS_J_per_gK,C_para_J_per_gK,C_total_J_per_gK   Eqs. (16-18)
  magnetization  T_K,B_T,M_ATS_Am2_per_g,M_para_Am2_per_g,M_total_Am2_per_g  Eqs. (90-94)
  dielectric     T_K,B_T,deps_rel             Eqs. (47-51)
  loss           T_K,B_T,dtan_delta           Eqs. (52-61)
  echo           B_T,echo_rel                 Eqs. (76-77)
  tunneling      V0_K,hbar_omega_K,Delta0_K   Eq. (4)
  materials      the presets (seed Tables 1-8, 10, 11, 14)
  plot           the paper's figures as PNGs
  fit            lmfit fit of a closed form to a CSV
  demo           figures + CSVs + README index (the interim main job)

Grids (``--T``, ``--B``, ``--E``, ``--phi``, ``--V0``, ``--hbar-omega``) take a value,
a comma list or start:stop:num.  Two grids give the full Cartesian product, the first
(T, E or V0) as the outer and the second (B or hbar_omega) as the inner index.
Energies in K (k_B = 1), fields in T, concentrations per gram.  Bad input prints one
line ``error: ...`` on stderr and exits with code 2.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import sys

import numpy as np

from etm.columns import (
    PARAM_FLAGS,
    dielectric_columns,
    dos_columns,
    echo_columns,
    heat_capacity_columns,
    loss_columns,
    magnetization_columns,
    spectrum_columns,
    tunneling_columns,
)
from etm.demo import run_demo
from etm.errors import InputError, ToolkitError
from etm.fit import fit_csv, format_report
from etm.grids import outer_product, parse_grid, require_nonnegative, require_positive
from etm.io import atomic_write_text, table_text
from etm.plots import plot_table, write_figures
from etm.presets import describe_materials, preset_values

# --------------------------------------------------------------------------------------
# Output and parameter flags (the columns themselves: etm.columns)


def emit(text: str, out: str | None) -> None:
    """Write ``text`` to the file ``out`` (atomically, etm.io) or to stdout."""
    if out:
        atomic_write_text(out, text)
    else:
        sys.stdout.write(text)


ECHO_FLAGS = (
    "D_min",
    "D0min_qS",
    "D0max_qS",
    "B_star",
    "Gamma",
    "c_ats",
    "p1F0",
    "tan_omega_dtau",
    "frequency",
    "tau1",
    "tau2",
    "tau12",
    "ats_ratio",
)

#: every parameter flag of ``etm fit``
FIT_FLAGS = (
    "D_min",
    "D0min_qS",
    "D0max_qS",
    "B_star",
    "Pn",
    "n_fe2",
    "n_fe3",
    "amplitude",
    "Gamma",
    "frequency",
    "tau1",
    "tau2",
    "tau12",
    "p1F0",
    "c_ats",
    "tan_omega_dtau",
    "ats_ratio",
)


def add_param_flags(p: argparse.ArgumentParser, names) -> None:
    g = p.add_argument_group("model parameters (override --material)")
    g.add_argument("--material", help="preset name ('etm materials' lists them); explicit flags override")
    for name in names:
        flag, unit, text = PARAM_FLAGS[name]
        g.add_argument(flag, dest=name, type=float, default=None, help=f"{text} [{unit}]")
    g.add_argument(
        "--no-orientation-average",
        dest="orientation_average",
        action="store_false",
        help="use phi^2 itself instead of the orientational average phi^2/3",
    )


def collect_values(args, names) -> dict:
    """Parameter values: preset (if --material) overridden by explicit flags."""
    values: dict = {}
    if args.material:
        values.update(preset_values(args.material))
    for name in names:
        v = vars(args)[name]
        if v is not None:
            if not math.isfinite(v):
                raise InputError(f"{PARAM_FLAGS[name][0]} must be finite, got {v}")
            values[name] = v
    values["orientation_average"] = args.orientation_average
    return values


# --------------------------------------------------------------------------------------
# Argument parsing


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line on stderr and exit code 2."""

    def error(self, message):
        raise InputError(f"{self.prog}: {message}")


def _grid(text, flag):
    return parse_grid(text, flag)


def _add_output(p, plot=True):
    p.add_argument("--out", help="write the table to FILE instead of stdout")
    p.add_argument("--format", choices=("csv", "json"), default="csv", help="output format (default csv)")
    if plot:
        p.add_argument("--plot", metavar="FILE.png", help="also draw the curve(s) to FILE.png")


def build_parser() -> argparse.ArgumentParser:
    ap = _Parser(
        prog="etm",
        description=__doc__.split("\n\n")[0],
        epilog="Units: K (k_B = 1), T, per gram. See docs/etm.md.",
    )
    sub = ap.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    s = sub.add_parser("spectrum", help="3LS eigenvalues of Eq. (6) vs the A-B phase phi")
    for f in ("--E1", "--E2", "--E3"):
        s.add_argument(f, type=float, required=True, help="well asymmetry (any energy unit)")
    s.add_argument("--D0", type=float, required=True, help="tunneling amplitude > 0 (same unit)")
    s.add_argument("--phi", required=True, help="A-B phase grid [rad]")
    _add_output(s)

    s = sub.add_parser("dos", help="ATS density of states g_ATS(E, B), Eqs. (12-13)")
    s.add_argument("--E", required=True, help="gap energy grid [K] (outer)")
    s.add_argument("--B", required=True, help="field grid [T] (inner)")
    add_param_flags(s, ("D_min", "D0min_qS", "D0max_qS", "B_star", "Pn"))
    _add_output(s)

    s = sub.add_parser("heat-capacity", help="C_ATS + C_para(Fe2+, Fe3+) on a (T, B) grid")
    s.add_argument("--T", required=True, help="temperature grid [K] (outer)")
    s.add_argument("--B", required=True, help="field grid [T] (inner)")
    add_param_flags(s, ("D_min", "D0min_qS", "D0max_qS", "B_star", "Pn", "n_fe2", "n_fe3"))
    _add_output(s)

    s = sub.add_parser("magnetization", help="M_ATS + M_para(Fe2+, Fe3+) on a (T, B) grid")
    s.add_argument("--T", required=True, help="temperature grid [K] (outer)")
    s.add_argument("--B", required=True, help="field grid [T] (inner)")
    add_param_flags(s, ("D_min", "D0min_qS", "D0max_qS", "B_star", "Pn", "n_fe2", "n_fe3"))
    _add_output(s)

    s = sub.add_parser("dielectric", help="ATS Delta eps'/eps' (T, B), Eq. (51)")
    s.add_argument("--T", required=True, help="temperature grid [K] (outer)")
    s.add_argument("--B", required=True, help="field grid [T] (inner)")
    add_param_flags(s, ("D_min", "D0min_qS", "D0max_qS", "B_star", "amplitude"))
    _add_output(s)

    s = sub.add_parser("loss", help="ATS Delta tan(delta) (T, B), Eq. (61)")
    s.add_argument("--T", required=True, help="temperature grid [K] (outer)")
    s.add_argument("--B", required=True, help="field grid [T] (inner)")
    add_param_flags(s, ("D_min", "D0min_qS", "D0max_qS", "B_star", "amplitude", "Gamma", "frequency"))
    _add_output(s)

    s = sub.add_parser("echo", help="relative polarization-echo amplitude vs B, Eqs. (76-77)")
    s.add_argument("--B", required=True, help="field grid [T]")
    s.add_argument(
        "--T", type=float, default=None, help="temperature [K] (default: the preset's, else 0.012)"
    )
    add_param_flags(s, ECHO_FLAGS)
    _add_output(s)

    s = sub.add_parser("tunneling", help="Delta0 of a symmetric two-parabola DWP, Eq. (4)")
    s.add_argument("--V0", required=True, help="barrier height grid [K] (outer)")
    s.add_argument("--hbar-omega", dest="hbar_omega", required=True, help="hbar*Omega grid [K] (inner)")
    _add_output(s)

    s = sub.add_parser("materials", help="list the presets (seed Tables 1-8, 10, 11, 14)")
    s.add_argument("--format", choices=("text", "csv", "json"), default="text")
    s.add_argument("--out", help="write to FILE instead of stdout")

    s = sub.add_parser("plot", help="write the paper's theory figures (PNG) to a folder")
    s.add_argument("--out", required=True, help="output folder (created if missing)")
    s.add_argument("--only", help="comma list of figure ids (e.g. fig04,fig26); default all")

    s = sub.add_parser("fit", help="fit a closed form to a CSV with lmfit")
    s.add_argument(
        "model",
        choices=("heat-capacity", "magnetization", "dielectric", "loss", "echo"),
        help="which closed form",
    )
    s.add_argument("--data", required=True, help="CSV with the CLI's column names (x columns + y column)")
    s.add_argument("--y", help="y column (default: the model's total column)")
    s.add_argument("--sigma", help="column with 1-sigma errors of y (default: unweighted, errors scaled)")
    s.add_argument("--vary", help="comma list of parameters to fit (default: the model's standard set)")
    s.add_argument(
        "--bounds",
        action="append",
        default=[],
        metavar="NAME=LO:HI",
        help="bounds of a parameter (repeatable)",
    )
    add_param_flags(s, FIT_FLAGS)
    s.add_argument("--T", type=float, default=None, help="echo model: temperature [K]")
    s.add_argument("--format", choices=("text", "json"), default="text")
    s.add_argument("--out", help="write the report to FILE instead of stdout")

    s = sub.add_parser("demo", help="interim main job: all figures, CSVs of the main curves, README index")
    s.add_argument("--out", required=True, help="output folder (created if missing)")
    return ap


# --------------------------------------------------------------------------------------
# Commands


def _tb_grid(args):
    T = parse_grid(args.T, "--T")
    B = parse_grid(args.B, "--B")
    require_positive(T, "--T", "K")
    require_nonnegative(B, "--B", "T")
    return outer_product(T, B)


def _maybe_plot(args, columns: dict, x: str, y: list[str], group: str | None):
    if args.plot:
        plot_table(columns, x=x, y=y, group=group, path=args.plot)


def cmd_table(args) -> int:
    c = args.command
    if c == "spectrum":
        phi = parse_grid(args.phi, "--phi")
        cols = spectrum_columns(args.E1, args.E2, args.E3, args.D0, phi)
        emit(table_text(cols, args.format), args.out)
        _maybe_plot(args, cols, "phi", ["E0", "E1", "E2"], None)
        return 0
    if c == "tunneling":
        V0 = parse_grid(args.V0, "--V0")
        hw = parse_grid(args.hbar_omega, "--hbar-omega")
        require_nonnegative(V0, "--V0", "K")
        require_positive(hw, "--hbar-omega", "K")
        cols = tunneling_columns(*outer_product(V0, hw))
        emit(table_text(cols, args.format), args.out)
        _maybe_plot(args, cols, "V0_K", ["Delta0_K"], "hbar_omega_K")
        return 0
    if c == "dos":
        E = parse_grid(args.E, "--E")
        B = parse_grid(args.B, "--B")
        require_positive(E, "--E", "K")
        require_nonnegative(B, "--B", "T")
        values = collect_values(args, ("D_min", "D0min_qS", "D0max_qS", "B_star", "Pn"))
        cols = dos_columns(*outer_product(E, B), values)
        emit(table_text(cols, args.format), args.out)
        _maybe_plot(args, cols, "E_K", ["g_ATS_per_K_per_g"], "B_T")
        return 0
    if c == "echo":
        B = parse_grid(args.B, "--B")
        require_nonnegative(B, "--B", "T")
        values = collect_values(args, ECHO_FLAGS)
        if args.T is not None:
            values["T_K"] = args.T
        cols = echo_columns(B, values)
        emit(table_text(cols, args.format), args.out)
        _maybe_plot(args, cols, "B_T", ["echo_rel"], None)
        return 0
    names = {
        "heat-capacity": (
            ("D_min", "D0min_qS", "D0max_qS", "B_star", "Pn", "n_fe2", "n_fe3"),
            heat_capacity_columns,
            ["C_ATS_J_per_gK", "C_para_J_per_gK", "C_total_J_per_gK"],
        ),
        "magnetization": (
            ("D_min", "D0min_qS", "D0max_qS", "B_star", "Pn", "n_fe2", "n_fe3"),
            magnetization_columns,
            ["M_ATS_Am2_per_g", "M_para_Am2_per_g", "M_total_Am2_per_g"],
        ),
        "dielectric": (
            ("D_min", "D0min_qS", "D0max_qS", "B_star", "amplitude"),
            dielectric_columns,
            ["deps_rel"],
        ),
        "loss": (
            ("D_min", "D0min_qS", "D0max_qS", "B_star", "amplitude", "Gamma", "frequency"),
            loss_columns,
            ["dtan_delta"],
        ),
    }
    flags, fn, ycols = names[c]
    values = collect_values(args, flags)
    T, B = _tb_grid(args)
    cols = fn(T, B, values)
    emit(table_text(cols, args.format), args.out)
    _maybe_plot(args, cols, "B_T", ycols, "T_K")
    return 0


def cmd_materials(args) -> int:
    rows = describe_materials()
    if args.format == "json":
        text = json.dumps(rows, indent=1) + "\n"
    elif args.format == "csv":
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        text = buf.getvalue()
    else:
        width = max(len(r["name"]) for r in rows)
        lines = [f"{'name':<{width}}  table  observable             T [K]"]
        for r in rows:
            T = r["temperature_K"]
            T = f"{T:g}" if isinstance(T, float) else T
            lines.append(f"{r['name']:<{width}}  {r['table']:<5}  {r['observable']:<21}  {T}")
        text = "\n".join(lines) + "\n"
    emit(text, args.out)
    return 0


def cmd_plot(args) -> int:
    only = [s.strip() for s in args.only.split(",")] if args.only else None
    paths = write_figures(args.out, only=only)
    for p in paths:
        print(p)
    return 0


def cmd_fit(args) -> int:
    if not os.path.isfile(args.data):
        raise InputError(f"file not found: {args.data}")
    values = collect_values(args, FIT_FLAGS)
    if args.T is not None:
        values["T_K"] = args.T
    vary = [s.strip() for s in args.vary.split(",") if s.strip()] if args.vary else None
    bounds = {}
    for spec in args.bounds:
        try:
            name, rng = spec.split("=", 1)
            lo, hi = rng.split(":", 1)
            bounds[name.strip()] = (float(lo) if lo.strip() else -np.inf, float(hi) if hi.strip() else np.inf)
        except ValueError:
            raise InputError(f"--bounds {spec!r} is not NAME=LO:HI") from None
    report = fit_csv(args.model, args.data, values, vary=vary, bounds=bounds, y=args.y, sigma=args.sigma)
    emit(format_report(report, args.format), args.out)
    return 0


def cmd_demo(args) -> int:
    run_demo(args.out, main)
    return 0


COMMANDS = {"materials": cmd_materials, "plot": cmd_plot, "fit": cmd_fit, "demo": cmd_demo}


def main(argv=None) -> int:
    """Entry point of the ``etm`` console script; returns the exit code.

    0 ok; 2 bad input (:class:`InputError`, argparse); 1 a failed or rejected calculation
    (:class:`CalculationError`); 3 the machine refused (:class:`EnvironmentFailure`).
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return COMMANDS.get(args.command, cmd_table)(args)
    except SystemExit as e:  # --help
        return int(e.code or 0)
    except ToolkitError as e:
        print(f"error: {e}".splitlines()[0], file=sys.stderr)
        return e.exit_code
    except (OSError, ValueError) as e:
        print(f"error: {type(e).__name__}: {e}".splitlines()[0], file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
