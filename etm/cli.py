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
import tempfile

import numpy as np

from etm.errors import InputError
from etm.grids import outer_product, parse_grid, require_nonnegative, require_positive

# --------------------------------------------------------------------------------------
# Output helpers


def _fmt(x) -> str:
    """Shortest round-trip text of a float (so the CSV carries full float64 precision)."""
    return repr(float(x))


def atomic_write_text(path: str, text: str) -> None:
    """Write ``text`` to ``path`` atomically (temp file in the same folder + os.replace)."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise InputError(f"output folder {folder!r} does not exist")
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def table_text(columns: dict[str, np.ndarray], fmt: str = "csv") -> str:
    """CSV (header row + rows) or JSON (list of row objects) text of a column table."""
    names = list(columns)
    arrays = [np.asarray(columns[n], dtype=np.float64).ravel() for n in names]
    n = arrays[0].size if arrays else 0
    if fmt == "json":
        rows = [{name: float(a[i]) for name, a in zip(names, arrays, strict=True)} for i in range(n)]
        return json.dumps(rows, indent=1) + "\n"
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(names)
    for i in range(n):
        w.writerow([_fmt(a[i]) for a in arrays])
    return buf.getvalue()


def emit(text: str, out: str | None) -> None:
    if out:
        atomic_write_text(out, text)
    else:
        sys.stdout.write(text)


def read_csv_columns(path: str) -> dict[str, np.ndarray]:
    """Read a CSV with a header row into float64 columns; InputError on any problem."""
    if not os.path.isfile(path):
        raise InputError(f"file not found: {path}")
    with open(path, newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.reader(fh) if r and not r[0].lstrip().startswith("#")]
    if len(rows) < 2:
        raise InputError(f"{path}: needs a header row and at least one data row")
    header = [h.strip() for h in rows[0]]
    data = {h: [] for h in header}
    for lineno, r in enumerate(rows[1:], start=2):
        if len(r) != len(header):
            raise InputError(f"{path}: row {lineno} has {len(r)} fields, header has {len(header)}")
        for h, v in zip(header, r, strict=True):
            try:
                data[h].append(float(v))
            except ValueError:
                raise InputError(f"{path}: row {lineno}, column {h!r}: {v!r} is not a number") from None
    return {h: np.asarray(v, dtype=np.float64) for h, v in data.items()}


# --------------------------------------------------------------------------------------
# Parameters: flags and presets

#: flag dest -> (flag, unit, help)
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

#: defaults of the optional parameters (used when neither a flag nor the preset gives them)
LOSS_DEFAULT_FREQUENCY_HZ = 1e3
ECHO_DEFAULTS = {
    "frequency": 1e9,
    "tau1": 1e-7,
    "tau2": 2e-7,
    "tau12": 2e-6,
    "T_K": 0.012,
    "Gamma": 0.0,
    "c_ats": 0.0,
    "tan_omega_dtau": 0.0,
    "ats_ratio": 0.5,
}
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
    if getattr(args, "material", None):
        from etm.presets import preset_values

        values.update(preset_values(args.material))
    for name in names:
        v = getattr(args, name, None)
        if v is not None:
            if not math.isfinite(v):
                raise InputError(f"{PARAM_FLAGS[name][0]} must be finite, got {v}")
            values[name] = v
    values["orientation_average"] = getattr(args, "orientation_average", True)
    return values


def require(values: dict, names, command: str) -> None:
    missing = [PARAM_FLAGS[n][0] for n in names if values.get(n) is None]
    if missing:
        raise InputError(f"{command}: missing {', '.join(missing)} (or give --material NAME)")


def ats_params(values: dict):
    """ATSParams from a values dict (validates D_min > 0, D0min < D0max, B* > 0)."""
    from etm.params import ATSParams

    return ATSParams(
        values["D_min"],
        values["D0min_qS"],
        values["D0max_qS"],
        B_star=values.get("B_star"),
        orientation_average=values.get("orientation_average", True),
    )


def physics_function(module: str, name: str):
    """A physics function by module and name, with a clear message if it is not there (yet)."""
    import importlib

    try:
        mod = importlib.import_module(f"etm.{module}")
    except ModuleNotFoundError:
        raise InputError(f"etm.{module} is not available in this installation") from None
    fn = getattr(mod, name, None)
    if fn is None:
        raise InputError(f"etm.{module}.{name} is not available in this installation")
    return fn


# --------------------------------------------------------------------------------------
# Column functions (shared with etm.fit and etm.plots): arrays in, dict of columns out.

J_FE2, J_FE3, G_FE = 2.0, 2.5, 2.0


def heat_capacity_columns(T_K, B_T, values: dict) -> dict:
    """C_ATS (Eq. 17/18), C_para = Fe2+ + Fe3+ (Eq. 16) and their sum [J/(g K)], elementwise."""
    require(values, ("D_min", "D0min_qS", "D0max_qS", "Pn"), "heat-capacity")
    p = ats_params(values)
    T = require_positive(np.asarray(T_K, np.float64), "T", "K")
    B = require_nonnegative(np.asarray(B_T, np.float64), "B", "T")
    c_ats = np.asarray(physics_function("heat_capacity", "c_ats")(T, B, p, values["Pn"]), np.float64)
    c_para_fn = physics_function("heat_capacity", "c_paramagnetic")
    c_para = np.zeros_like(c_ats)
    for key, J in (("n_fe2", J_FE2), ("n_fe3", J_FE3)):
        n = values.get(key) or 0.0
        if n:
            c_para = c_para + np.asarray(c_para_fn(T, B, n, J, G_FE), np.float64)
    return {
        "T_K": T,
        "B_T": B,
        "C_ATS_J_per_gK": c_ats,
        "C_para_J_per_gK": c_para,
        "C_total_J_per_gK": c_ats + c_para,
    }


def magnetization_columns(T_K, B_T, values: dict) -> dict:
    """M_ATS (Eqs. 93-94, = -dF/dB), M_para = Fe2+ + Fe3+ Brillouin (Eq. 90) and sum [A m^2/g]."""
    require(values, ("D_min", "D0min_qS", "D0max_qS", "Pn"), "magnetization")
    p = ats_params(values)
    T = require_positive(np.asarray(T_K, np.float64), "T", "K")
    B = require_nonnegative(np.asarray(B_T, np.float64), "B", "T")
    m_ats = np.asarray(physics_function("magnetization", "m_ats")(T, B, p, values["Pn"]), np.float64)
    m_fn = physics_function("magnetization", "m_brillouin")
    m_para = np.zeros_like(m_ats)
    for key, J in (("n_fe2", J_FE2), ("n_fe3", J_FE3)):
        n = values.get(key) or 0.0
        if n:
            m_para = m_para + np.asarray(m_fn(T, B, n, J, G_FE), np.float64)
    return {
        "T_K": T,
        "B_T": B,
        "M_ATS_Am2_per_g": m_ats,
        "M_para_Am2_per_g": m_para,
        "M_total_Am2_per_g": m_ats + m_para,
    }


def dielectric_columns(T_K, B_T, values: dict) -> dict:
    """Relative change Delta eps'/eps' of Eq. (51) (ATS part, relative to B = 0)."""
    require(values, ("D_min", "D0min_qS", "D0max_qS", "amplitude"), "dielectric")
    p = ats_params(values)
    T = require_positive(np.asarray(T_K, np.float64), "T", "K")
    B = require_nonnegative(np.asarray(B_T, np.float64), "B", "T")
    d = np.asarray(physics_function("dielectric", "deps_ats")(T, B, p, values["amplitude"]), np.float64)
    return {"T_K": T, "B_T": B, "deps_rel": d}


def loss_columns(T_K, B_T, values: dict) -> dict:
    """Delta tan delta of Eq. (61) (ATS relaxation part)."""
    require(values, ("D_min", "D0min_qS", "D0max_qS", "amplitude", "Gamma"), "loss")
    p = ats_params(values)
    T = require_positive(np.asarray(T_K, np.float64), "T", "K")
    B = require_nonnegative(np.asarray(B_T, np.float64), "B", "T")
    freq = values.get("frequency")
    freq = LOSS_DEFAULT_FREQUENCY_HZ if freq is None else freq
    if not freq > 0:
        raise InputError(f"--frequency must be > 0 Hz, got {freq}")
    d = np.asarray(
        physics_function("loss", "dtan_delta_ats")(
            T, B, p, values["amplitude"], values["Gamma"], 2 * np.pi * freq
        ),
        np.float64,
    )
    return {"T_K": T, "B_T": B, "dtan_delta": d}


def tunneling_columns(V0_K, hw_K) -> dict:
    V0 = require_nonnegative(np.asarray(V0_K, np.float64), "V0", "K")
    hw = require_positive(np.asarray(hw_K, np.float64), "hbar-omega", "K")
    d = np.asarray(physics_function("tunneling", "delta0_two_parabola")(V0, hw), np.float64)
    return {"V0_K": V0, "hbar_omega_K": hw, "Delta0_K": d}


def spectrum_columns(E1, E2, E3, D0, phi) -> dict:
    if not D0 > 0:
        raise InputError(f"--D0 must be > 0 (Eq. 11), got {D0}")
    phi = np.asarray(phi, np.float64)
    ev = np.asarray(physics_function("hamiltonian", "eigenvalues_3ls")(E1, E2, E3, D0, phi), np.float64)
    ev = ev.reshape(phi.shape + (3,))
    return {"phi": phi, "E0": ev[..., 0], "E1": ev[..., 1], "E2": ev[..., 2]}


def dos_columns(E_K, B_T, values: dict) -> dict:
    require(values, ("D_min", "D0min_qS", "D0max_qS", "Pn"), "dos")
    p = ats_params(values)
    E = require_positive(np.asarray(E_K, np.float64), "E", "K")
    B = require_nonnegative(np.asarray(B_T, np.float64), "B", "T")
    g = np.asarray(physics_function("dos", "g_ats")(E, B, p, values["Pn"]), np.float64)
    return {"E_K": E, "B_T": B, "g_ATS_per_K_per_g": g}


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
    if getattr(args, "plot", None):
        from etm.plots import plot_table

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


def echo_columns(B_T, values: dict) -> dict:
    """Echo amplitude relative to its high-field value, A(B)/A(inf), Eqs. (76-77) (etm.echo).

    values: D_min, D0min_qS, D0max_qS, p1F0 (required); T_K, frequency, tau1, tau2, tau12,
    Gamma, c_ats, tan_omega_dtau, ats_ratio (defaults in ECHO_DEFAULTS).
    """
    require(values, ("D_min", "D0min_qS", "D0max_qS", "p1F0"), "echo")
    p = ats_params(values)
    B = require_nonnegative(np.asarray(B_T, np.float64), "B", "T")
    v = {k: (values.get(k) if values.get(k) is not None else d) for k, d in ECHO_DEFAULTS.items()}
    if not v["T_K"] > 0:
        raise InputError(f"--T must be > 0 K, got {v['T_K']}")
    fn = physics_function("echo", "echo_amplitude")
    a = fn(
        B,
        p,
        ats_ratio=v["ats_ratio"],
        T_K=v["T_K"],
        freq_Hz=v["frequency"],
        tau1_s=v["tau1"],
        tau2_s=v["tau2"],
        tau12_s=v["tau12"],
        p1F0_D_kV_m=values["p1F0"],
        Gamma=v["Gamma"],
        c_ats=v["c_ats"],
        tan_omega_dtau=v["tan_omega_dtau"],
    )
    return {"B_T": B, "echo_rel": np.asarray(a, np.float64).reshape(B.shape)}


def cmd_materials(args) -> int:
    from etm.presets import describe_materials

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
    from etm.plots import write_figures

    only = [s.strip() for s in args.only.split(",")] if args.only else None
    paths = write_figures(args.out, only=only)
    for p in paths:
        print(p)
    return 0


def cmd_fit(args) -> int:
    if not os.path.isfile(args.data):
        raise InputError(f"file not found: {args.data}")
    from etm.fit import fit_csv, format_report

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
    from etm.demo import run_demo

    run_demo(args.out)
    return 0


COMMANDS = {"materials": cmd_materials, "plot": cmd_plot, "fit": cmd_fit, "demo": cmd_demo}


def main(argv=None) -> int:
    """Entry point of the ``etm`` console script; returns the exit code (0 ok, 2 bad input)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return COMMANDS.get(args.command, cmd_table)(args)
    except SystemExit as e:  # --help
        return int(e.code or 0)
    except InputError as e:
        print(f"error: {e}".splitlines()[0], file=sys.stderr)
        return 2
    except (OSError, ValueError) as e:
        print(f"error: {type(e).__name__}: {e}".splitlines()[0], file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
