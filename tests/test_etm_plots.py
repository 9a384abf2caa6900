"""Figures (etm.plots, ``etm plot``) and the demo (``etm demo``): files are written and the
plotted curves carry the right physics (checked on the figure's own line data)."""

import os

import numpy as np
import pytest

from etm import demo, plots
from etm.cli import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _is_png(path, min_bytes=5000):
    with open(path, "rb") as fh:
        head = fh.read(8)
    return head == PNG_MAGIC and os.path.getsize(path) > min_bytes


def test_theory_figures_are_written(tmp_path):
    skipped = []
    paths = plots.write_figures(str(tmp_path), only=["fig04", "fig05", "fig06", "fig26"], skipped=skipped)
    assert skipped == []
    assert [os.path.basename(p) for p in paths] == [
        "fig04_spectrum_3ls.png",
        "fig05_dos_vs_E.png",
        "fig06_dos_vs_phi.png",
        "fig26_delta0_isolines.png",
    ]
    assert all(_is_png(p) for p in paths)
    assert not [f for f in os.listdir(tmp_path) if ".tmp-" in f]  # atomic writes leave no temp files


def test_fig04_levels_are_the_3ls_spectrum():
    """Degenerate wells: E_k = 2 D0 cos((phi + 2 pi k)/3) (Eq. 8 with E_i = 0), sum of levels = 0."""
    fig = plots.fig04_spectrum()
    lines = [ln for ln in fig.axes[0].get_lines() if ln.get_linestyle() == "-" and len(ln.get_xdata()) > 2]
    phi = np.asarray(lines[0].get_xdata())
    levels = np.array([ln.get_ydata() for ln in lines[:3]])
    exact = np.sort(2 * np.cos((phi[None, :] + 2 * np.pi * np.arange(3)[:, None]) / 3), axis=0)
    np.testing.assert_allclose(levels, exact, atol=1e-12)
    plots._plt().close(fig)


def test_fig05_zero_field_dos_is_2pi_ln_ratio_over_E():
    fig = plots.fig05_dos_vs_E()
    line = fig.axes[0].get_lines()[0]  # phi = 0
    E, g = np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
    d = plots._DOS_DEMO
    above = E > d["D_min"]
    np.testing.assert_allclose(g[above], 2 * np.pi * np.log(d["D0max"] / d["D0min"]) / E[above], rtol=1e-12)
    assert np.all(g[~above] == 0)
    # states are conserved: a field shifts them up but the number below a high E_max is unchanged
    E_all = np.geomspace(1e-3, 50.0, 200001)
    n0 = np.trapezoid(plots._g_reduced(E_all, 0.0), E_all)
    n1 = np.trapezoid(plots._g_reduced(E_all, 0.01), E_all)
    assert n1 == pytest.approx(n0, rel=2e-3)
    plots._plt().close(fig)


def test_cli_plot_flag_and_unknown_figure(tmp_path, capsys):
    png = tmp_path / "d0.png"
    code = main(["tunneling", "--V0", "0:10:21", "--hbar-omega", "2,5", "--plot", str(png)])
    assert code == 0 and _is_png(png, 2000)
    code = main(["plot", "--out", str(tmp_path), "--only", "fig99"])
    assert code == 2 and "fig99" in capsys.readouterr().err


def test_demo_writes_index_of_its_files(tmp_path, monkeypatch):
    figs = {k: plots.FIGURES[k] for k in ("fig04", "fig26")}
    monkeypatch.setattr(plots, "FIGURES", figs)
    jobs = [
        demo.CSV_JOBS[0],
        demo.CSV_JOBS[-1],
        ("broken.csv", ["heat-capacity", "--material", "NoSuchGlass", "--T", "1", "--B", "0"], "broken"),
    ]
    monkeypatch.setattr(demo, "CSV_JOBS", jobs)
    res = demo.run_demo(str(tmp_path / "out"), main)
    out = tmp_path / "out"
    readme = (out / "README.md").read_text()
    for p in res["written"]:
        assert os.path.getsize(p) > 0 and f"`{os.path.basename(p)}`" in readme
    assert {os.path.basename(p) for p in res["written"]} == {
        "fig04_spectrum_3ls.png",
        "fig26_delta0_isolines.png",
        "materials.csv",
        "tunneling_delta0.csv",
    }
    assert [s[0] for s in res["skipped"]] == ["broken.csv"] and "NoSuchGlass" in readme
    assert (out / "tunneling_delta0.csv").read_text().startswith("V0_K,hbar_omega_K,Delta0_K\n")
