"""Polydisperse soft spheres in the landscape tools: the landscape energy dispatch, the quench and
the exploration MD, the catalogue's per-glass diameters, and the TLS hunt end to end (CLI), checked
against the independent numpy energy of tests/test_polydisperse.py and against ``pelsim energy``."""

import json

import numpy as np
import pytest

from pelsim.errors import InputError
from pelsim.landscape.catalogue import Catalogue
from pelsim.landscape.search import landscape_energy, pair_list_energy
from pelsim.models import load_model
from pelsim.prepare import quench, random_configuration, sample
from tests.test_polydisperse import numpy_energy_forces

MODEL = load_model("polydisperse-ss")


def _max_force(F) -> float:
    return float(np.max(np.linalg.norm(F, axis=1)))


def test_landscape_energy_dispatches_to_the_polydisperse_kernels():
    """search.landscape_energy / pair_list_energy of a polydisperse configuration: the per-pair
    sigma_ij energy (numpy reference to 1e-10), all pairs below the pair-list size and a fixed list
    (exact within skin/2) above; the shifted variant does not exist for this model."""
    conf = random_configuration("polydisperse-ss", 150, seed=4)
    E_ref, F_ref = numpy_energy_forces(conf.positions, conf.diameters, conf.box)
    energy, valid = landscape_energy(conf)
    assert valid is None  # N = 150: all pairs
    assert float(energy(conf.positions)) == pytest.approx(E_ref, abs=1e-10 * abs(E_ref))
    # a pair list at a displaced reference, evaluated within skin / 2 of it: still exact
    rng = np.random.default_rng(0)
    R_ref = conf.positions + rng.uniform(-0.1, 0.1, conf.positions.shape)
    energy, valid = pair_list_energy(conf, "smooth", R_ref, 0.5)
    assert bool(valid(conf.positions))
    assert float(energy(conf.positions)) == pytest.approx(E_ref, abs=1e-10 * abs(E_ref))
    # a different diameter assignment is a different energy: the dispatch uses conf.diameters
    swapped = conf.copy()
    swapped.diameters = conf.diameters[::-1].copy()
    assert abs(float(landscape_energy(swapped)[0](conf.positions)) - E_ref) > 1.0
    with pytest.raises(InputError, match="smooth by construction"):
        landscape_energy(conf, "shifted")


def test_quench_and_exploration_md_keep_the_diameters():
    """prepare.quench reaches a minimum of the numpy energy (max|F| <= 1e-10); prepare.sample runs
    NVT at fixed diameters (no swaps) near the target temperature."""
    conf = random_configuration("polydisperse-ss", 150, seed=5)
    IS, res = quench(conf)
    assert res.converged
    np.testing.assert_array_equal(IS.diameters, conf.diameters)
    E, F = numpy_energy_forces(IS.positions, IS.diameters, IS.box)
    assert _max_force(F) <= 1.5e-10
    assert E == pytest.approx(res.energy, abs=1e-9)
    snaps = sample(IS, 0.05, 3, 200, seed=1, progress=False)
    assert len(snaps) == 3
    for s in snaps:
        np.testing.assert_array_equal(s.diameters, conf.diameters)
    # the thermostat heats the IS: the sampled energies lie above it by ~ (3/2) N k T (harmonic)
    rise = np.mean([numpy_energy_forces(s.positions, s.diameters, s.box)[0] for s in snaps]) - E
    assert 0.3 * 1.5 * 150 * 0.05 < rise < 2.0 * 1.5 * 150 * 0.05


def test_catalogue_keeps_each_glass_s_diameters(tmp_path):
    """Per-glass diameters survive save/open and merge; a glass index holds one system; the
    configurations built from the catalogue carry them (and without them a polydisperse catalogue
    refuses to build one)."""
    n = 20
    d0 = MODEL.diameters(n, seed=0)
    d1 = MODEL.diameters(n, seed=1)
    box = np.full(3, 3.0)
    cat = Catalogue(None, model="polydisperse-ss", N=n, dim=3, box=box)
    R = np.random.default_rng(0).uniform(0, 3, (n, 3))
    with pytest.raises(InputError, match="stores no diameters"):
        cat.configuration(R, 0)
    cat.set_diameters(0, d0)
    cat.set_diameters(1, d1)
    cat.set_diameters(0, d0)  # the same again is fine
    with pytest.raises(InputError, match="other particle diameters"):
        cat.set_diameters(0, d1)
    with pytest.raises(InputError, match="positive finite"):
        cat.set_diameters(2, -d1)
    cat.add_minimum(R, 1.0, 0.0, 1)
    cat.save(tmp_path / "c.h5")
    back = Catalogue.open(tmp_path / "c.h5")
    np.testing.assert_array_equal(back.diameters[0], d0)
    np.testing.assert_array_equal(back.diameters[1], d1)
    conf = back.configuration(back.minima["positions"][0], 1)
    np.testing.assert_array_equal(conf.diameters, d1)
    assert conf.model == "polydisperse-ss"
    merged = Catalogue(None, model="polydisperse-ss", N=n, dim=3, box=box)
    merged.merge(back)
    np.testing.assert_array_equal(merged.diameters[1], d1)
    clash = Catalogue(None, model="polydisperse-ss", N=n, dim=3, box=box)
    clash.set_diameters(1, d0)
    with pytest.raises(InputError, match="other particle diameters"):
        clash.merge(back)


@pytest.mark.slow
def test_hunt_cli_on_a_polydisperse_glass(tmp_path, full, capsys):
    """``pelsim hunt GLASS --model polydisperse-ss`` end to end on an N = 200 glass (instantaneous
    quench of a random start): every catalogued DWP's two minima and saddle are stationary under
    the independent numpy energy (max|F| < 1e-8) with the catalogued energies (1e-9 eps), the saddle
    lies above both minima, the exported configurations give the same energies through
    ``pelsim energy --model polydisperse-ss``, and the reopened catalogue rebuilds each glass."""
    from pelsim.cli import main
    from pelsim.io import write_extxyz

    conf = random_configuration("polydisperse-ss", 200, seed=3)
    IS, _ = quench(conf)
    glass = tmp_path / "glass.extxyz"
    write_extxyz(glass, IS)
    out = tmp_path / "cat.h5"
    args = [
        "hunt", str(glass), "--model", "polydisperse-ss", "--out", str(out), "--json",
        "--T", "0.04", "--quenches", "40" if full else "20", "--quench-every", "100",
        "--iterations", "2", "--per-iteration", "6", "--max-refine", "3", "--interior-minima", "2",
        "--seed", "1",
    ]  # fmt: skip
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["model"] == "polydisperse-ss" and summary["N"] == 200
    cat = Catalogue.open(out)
    np.testing.assert_array_equal(cat.diameters[0], IS.diameters)
    assert len(cat.dwp_rows) >= 1, summary  # measured 2026-12-03: 2 DWPs (20 or 40 quenches)
    M, S = cat.minima, cat.saddles
    d = cat.diameters[0]
    for r in cat.dwp_rows:
        ends = []
        for pos, e_cat in (
            (M["positions"][r["min_a"]], M["energy"][r["min_a"]]),
            (M["positions"][r["min_b"]], M["energy"][r["min_b"]]),
            (S["positions"][r["saddle"]], S["energy"][r["saddle"]]),
        ):
            E, F = numpy_energy_forces(np.asarray(pos), d, cat.box)
            assert _max_force(F) < 1e-8
            assert E == pytest.approx(e_cat, abs=1e-9)
            ends.append(E)
        assert ends[2] > max(ends[0], ends[1])
        assert r["barrier"] == pytest.approx(ends[2] - ends[0], abs=1e-9)
    # the exported configurations carry the diameters: pelsim energy reproduces the catalogue
    assert main(["catalogue", str(out), "--export", str(tmp_path / "exp")]) == 0
    capsys.readouterr()
    r = cat.dwp_rows[0]
    for name, e_cat in (("min_a", M["energy"][r["min_a"]]), ("saddle", S["energy"][r["saddle"]])):
        f = tmp_path / "exp" / str(r["id"]) / f"{name}.extxyz"
        assert main(["energy", str(f), "--model", "polydisperse-ss", "--json"]) == 0
        e = json.loads(capsys.readouterr().out)
        assert e["energy_per_particle"] * 200 == pytest.approx(e_cat, abs=1e-9)
        assert e["max_force"] < 1e-8


def test_khomenko2020_preset_is_the_papers_tls_threshold():
    """The khomenko2020 preset maps 1 K onto the papers' 0.00151 eps (E_qs threshold of the
    published code), and its hbar* = hbar / (sigma sqrt(m eps)) agrees with scipy's CODATA
    constants; with the same sigma and m as argon, hbar* scales as eps^-1/2."""
    from scipy import constants as C

    from pelsim.units import KHOMENKO_TLS_THRESHOLD_EPS, PRESETS, get_preset

    p = get_preset("khomenko2020")
    assert p.energy_reduced(1.0) == pytest.approx(0.00151, rel=1e-14)
    assert KHOMENKO_TLS_THRESHOLD_EPS == 0.00151
    assert p.energy_K(0.00150) < 1.0 < p.energy_K(0.00152)  # the TLS side of the threshold
    assert p.energy_K(p.energy_reduced(0.37)) == pytest.approx(0.37, rel=1e-14)
    hbar = C.hbar / (p.sigma_A * C.angstrom * np.sqrt(p.mass_u * C.atomic_mass * p.epsilon_K * C.k))
    assert p.hbar == pytest.approx(hbar, rel=1e-8)
    assert p.hbar == pytest.approx(0.012576, abs=1e-6)
    assert p.hbar / PRESETS["argon"].hbar == pytest.approx(np.sqrt(119.8 / p.epsilon_K), rel=1e-12)


def _cfg(text):
    import tomllib

    from pelsim.campaign import config

    return config.validate(tomllib.loads(text))


def test_swap_preparation_keys_checked_and_hash_unchanged_for_old_campaigns():
    """[preparation] method / [preparation.swap]: the ultrastable campaign validates; the swap keys
    at their defaults leave a campaign's hash as it was (so older campaigns resume), a used one
    changes it; swap needs a polydisperse model and T_f, and a polydisperse model cannot be
    prepared by the KA MD route."""
    from pathlib import Path

    from pelsim.campaign import config, stages

    root = Path(__file__).resolve().parents[1]
    cfg = config.load(root / "simulations" / "ultrastable.toml")
    stages.check_inputs(cfg, root / "simulations")
    assert [stages.glass_T_f(cfg, g) for g in range(4)] == [0.12, 0.092, 0.12, 0.092]
    base = '[campaign]\nname = "x"\n[model]\nN = 300\n[glasses]\ncount = 1\n'
    h0 = config.config_hash(_cfg(base))
    explicit = base + '[preparation]\nmethod = "md"\n[preparation.swap]\nT_f = []\nblocks = 1000\n'
    assert config.config_hash(_cfg(explicit)) == h0
    assert config.config_hash(_cfg(base + "[preparation.swap]\nblocks = 999\n")) != h0
    with pytest.raises(InputError, match="needs a polydisperse model"):
        stages.check_inputs(_cfg(base + _SWAP), root)
    with pytest.raises(InputError, match="at least one temperature"):
        _cfg(base + '[preparation]\nmethod = "swap"\n')
    with pytest.raises(InputError, match="positive temperatures"):
        _cfg(base + "[preparation.swap]\nT_f = [0.1, -1]\n")
    poly = base.replace("N = 300", 'name = "polydisperse-ss"\nN = 300')
    with pytest.raises(InputError, match="prepared by swap Monte Carlo"):
        stages.check_inputs(_cfg(poly), root)  # the MD route's default equilibration and cooling
    with pytest.raises(InputError, match="smooth by construction"):
        stages.check_inputs(_cfg(poly.replace("N = 300", 'N = 300\npotential = "shifted"') + _SWAP), root)


_SWAP = '[preparation]\nmethod = "swap"\n[preparation.swap]\nT_f = [0.2]\n'

SWAP_CAMPAIGN = """
[campaign]
name = "swap-test"
[model]
name = "polydisperse-ss"
N = 120
[glasses]
count = 2
seed = 7
[preparation]
method = "swap"
dt = 0.01
[preparation.swap]
T_f = [0.3, 0.12]
blocks = {blocks}
md_steps = 10
[search.is_pairs]
enabled = false
[search.single_ended]
enabled = false
[search.intra_basin]
enabled = false
[search.tls_hunt]
enabled = true
T = 0.04
quenches = {quenches}
quench_every = 100
iterations = 2
per_iteration = 4
interior_minima = 2
max_refine = 2
[units]
preset = "khomenko2020"
[analysis]
bootstrap = 20
[runner]
workers = 1
processes = false
"""


@pytest.mark.slow
def test_swap_prepared_campaign_end_to_end(tmp_path, full):
    """A polydisperse campaign through the runner: swap-MC preparation at two T_f (the prepared
    glass keeps a permutation of its diameters, its IS is a minimum of the numpy energy with
    them), the TLS hunt, the merged catalogue's diameters per glass (its minima recomputed with
    them), and the TLS statistics split by T_f."""
    from pelsim.campaign.runner import run
    from pelsim.campaign.stages import load_prepared

    cfg = tmp_path / "swap.toml"
    cfg.write_text(SWAP_CAMPAIGN.format(blocks=400 if full else 100, quenches=40 if full else 15))
    out = tmp_path / "out"
    run(cfg, out, progress=False)
    d0 = MODEL.diameters(120, seed=0)
    for g in (0, 1):
        _glass, IS = load_prepared(next((out / "tasks" / f"g{g:04d}").glob("prepare.npz")))
        assert sorted(IS.diameters) == pytest.approx(sorted(d0))  # swaps permute, never create
        E, F = numpy_energy_forces(IS.positions, IS.diameters, IS.box)
        assert _max_force(F) <= 1.5e-10
        done = json.loads(next((out / "tasks" / f"g{g:04d}").glob("prepare.done.json")).read_text())
        assert done["summary"]["T_f"] == [0.3, 0.12][g]
        assert done["summary"]["is_energy_per_particle"] == pytest.approx(E / 120, abs=1e-12)
    cat = Catalogue.open(out / "catalogue.h5")
    assert sorted(cat.diameters) == [0, 1]
    for R, e, g in zip(cat.minima["positions"], cat.minima["energy"], cat.minima["glass"], strict=True):
        E, F = numpy_energy_forces(np.asarray(R), cat.diameters[int(g)], cat.box)
        assert E == pytest.approx(e, abs=1e-9)
        assert _max_force(F) < 1e-8
    stats = json.loads((out / "analysis" / "tls_hunt.json").read_text())
    by = stats["statistics_by_T_f"]
    assert sorted(by) == ["0.12", "0.3"]
    assert by["0.3"]["glasses"] == by["0.12"]["glasses"] == 1
    assert by["0.3"]["pool"] + by["0.12"]["pool"] == stats["statistics"]["pool"]
    dep = stats["depletion_by_T_f"]  # the stable glass against the least stable one, from these counts
    assert dep["reference_T_f"] == 0.3
    g = dep["vs_reference"]["0.12"]["tls_per_glass"]
    assert (g["k"], g["k_ref"]) == (by["0.12"]["tls_found"], by["0.3"]["tls_found"])
    report = (out / "report" / "report.md").read_text()
    assert "## TLS by preparation temperature T_f" in report
