"""The interim main job, ``etm demo --out DIR``: the paper's theory figures and main curves.

Writes to DIR
  * every figure of :mod:`etm.plots` (Figs. 4-6, 26 from the theory; Figs. 7-11, 16, 17,
    20-25 in the style of the paper, from the presets of Tables 1-8, 10, 11, 14);
  * CSVs of the main curves, produced by the ``etm`` CLI itself (same columns and units): the
    caller hands in the CLI's entry point (``etm.cli.main``), so this module does not import
    the CLI that imports it;
  * ``README.md``, an index of the files with what each one shows.
Runs in well under two minutes on two CPU cores.  Anything that cannot be produced
(e.g. a physics module missing from the installation) is listed in the index as skipped.
"""

from __future__ import annotations

import contextlib
import io
import os
import time
from collections.abc import Callable

from etm import plots
from etm.errors import InputError
from etm.io import atomic_write_text

#: (file name, CLI arguments, description) of the demo CSVs
CSV_JOBS = [
    (
        "materials.csv",
        ["materials", "--format", "csv"],
        "all presets: table, glass, observable, temperature, parameters (etm units)",
    ),
    (
        "spectrum_3ls.csv",
        [
            "spectrum",
            "--E1",
            "0.1",
            "--E2",
            "-0.04",
            "--E3",
            "-0.06",
            "--D0",
            "1",
            "--phi=-6.283185307179586:6.283185307179586:241",
        ],
        "eigenvalues of Eq. (6) (D0 = 1) vs the A-B phase phi (Fig. 4)",
    ),
    (
        "dos_BAS-cp-0.90K.csv",
        ["dos", "--material", "BAS-cp-0.90K", "--E", "0.3:3:91", "--B", "0,0.1,0.3,1"],
        "g_ATS(E, B) of the BAS preset (Eq. 13), E outer, B inner",
    ),
    (
        "heat_capacity_BAS-cp-0.90K.csv",
        ["heat-capacity", "--material", "BAS-cp-0.90K", "--T", "0.6,0.9,1.36", "--B", "0:3:61"],
        "C_ATS, C_para, C_total of BAS (Tables 1-2), T outer, B inner",
    ),
    (
        "heat_capacity_Duran-cp-1.36K.csv",
        ["heat-capacity", "--material", "Duran-cp-1.36K", "--T", "1.11,1.23,1.36", "--B", "0:3:61"],
        "C_ATS, C_para, C_total of Duran (Tables 3-4)",
    ),
    (
        "magnetization_Duran-M.csv",
        ["magnetization", "--material", "Duran-M", "--T", "2,4.2,10", "--B", "0:5:51"],
        "M_ATS, M_para, M_total of Duran (Table 11; parameters at the reference temperature)",
    ),
    (
        "dielectric_BAS-eps-50mK.csv",
        ["dielectric", "--material", "BAS-eps-50mK", "--T", "0.05", "--B", "0:0.4:81"],
        "Delta eps'/eps' of BAS at 50 mK (Table 5, Eq. 51)",
    ),
    (
        "loss_BAS-loss-77mK.csv",
        ["loss", "--material", "BAS-loss-77mK", "--T", "0.077", "--B", "0:0.4:81"],
        "Delta tan delta of BAS at 77 mK, 1 kHz (Table 7, Eq. 61)",
    ),
    (
        "echo_BK7-echo-1.5us.csv",
        ["echo", "--material", "BK7-echo-1.5us", "--B", "0:0.6:121"],
        "relative echo amplitude of BK7 (Table 8, Eqs. 76-77)",
    ),
    (
        "tunneling_delta0.csv",
        ["tunneling", "--V0", "0:20:21", "--hbar-omega", "1,2,5,10"],
        "Delta0 of the two-parabola DWP (Eq. 4), V0 outer, hbar Omega inner",
    ),
]


def run_demo(out_dir: str, cli_main: Callable[[list[str]], int]) -> dict:
    """Write figures, CSVs and README.md to ``out_dir``; returns {'written': [...], 'skipped': [...]}.

    cli_main: the ``etm`` entry point (``etm.cli.main``: argv list -> exit code) that writes
    each CSV of :data:`CSV_JOBS`.
    """
    if not out_dir:
        raise InputError("demo: --out must name a folder")
    os.makedirs(out_dir, exist_ok=True)
    t0 = time.perf_counter()
    skipped: list[tuple[str, str]] = []
    fig_paths = plots.write_figures(out_dir, skipped=skipped)
    csv_rows = []
    for fname, argv, text in CSV_JOBS:
        path = os.path.join(out_dir, fname)
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            code = cli_main(argv + ["--out", path])
        if code == 0:
            csv_rows.append((fname, "etm " + " ".join(argv), text))
        else:
            skipped.append((fname, err.getvalue().strip() or f"exit code {code}"))
    elapsed = time.perf_counter() - t0

    fig_text = {fname: text for fname, _, text in plots.FIGURES.values()}
    lines = [
        "# etm demo: theory figures and main curves of the extended tunneling model",
        "",
        "Made by `etm demo` (seed paper: Jug, Bonfanti & Kob 2015, Sections 3-7). Units: energies in K",
        "(k_B = 1), fields in T, concentrations per gram, C in J/(g K), M in A m^2/g.",
        "Preset curves use the parameters of the paper's Tables 1-8, 10, 11, 14 (`etm materials`).",
        f"Run time: {elapsed:.1f} s.",
        "",
        "## Figures",
        "",
        "| file | what |",
        "|---|---|",
    ]
    for p in fig_paths:
        name = os.path.basename(p)
        lines.append(f"| `{name}` | {fig_text.get(name) or name} |")
    lines += ["", "## Curves (CSV, written by the etm CLI)", "", "| file | command | what |", "|---|---|---|"]
    for fname, cmd, text in csv_rows:
        lines.append(f"| `{fname}` | `{cmd}` | {text} |")
    if skipped:
        lines += ["", "## Skipped", ""]
        for what, why in skipped:
            lines.append(f"- `{what}`: {why}")
    lines.append("")
    atomic_write_text(os.path.join(out_dir, "README.md"), "\n".join(lines))
    print(
        f"etm demo: {len(fig_paths)} figures, {len(csv_rows)} CSVs, {len(skipped)} skipped "
        f"in {elapsed:.1f} s -> {out_dir}/README.md"
    )
    return {"written": fig_paths + [os.path.join(out_dir, f) for f, _, _ in csv_rows], "skipped": skipped}
