"""Campaign TOML schema: defaults, unknown/malformed keys, cross-key rules, the hash."""

from __future__ import annotations

from pathlib import Path

import pytest

from pelsim.campaign import config
from pelsim.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
MINIMAL = {"campaign": {"name": "x"}, "model": {"N": 64}, "glasses": {"count": 2}}


def _with(**sections):
    raw = {k: dict(v) for k, v in MINIMAL.items()}
    for sec, kv in sections.items():
        raw.setdefault(sec, {}).update(kv)
    return raw


def test_defaults_and_seeds():
    cfg = config.validate(_with(glasses={"count": 3, "seed": 10}))
    assert cfg["model"]["potential"] == "smooth" and cfg["units"]["preset"] == "argon"
    assert cfg["search"]["is_pairs"]["enabled"] is True
    assert config.glass_seeds(cfg) == [10, 11, 12]
    cfg = config.validate(_with(glasses={"count": 2, "seeds": [5, 3]}))
    assert config.glass_seeds(cfg) == [5, 3]
    # an int where a float is expected is accepted and converted
    assert config.validate(_with(preparation={"T_glass": 1}))["preparation"]["T_glass"] == 1.0


@pytest.mark.parametrize(
    "raw, key",
    [
        (_with(model={"N": 64, "nn": 3}), "model.nn"),
        (_with(search={"is_pairs": {"md_step": 10}}), "search.is_pairs.md_step"),
        (_with(bogus={"a": 1}), "bogus"),
        (_with(model={"N": "64"}), "model.N"),
        (_with(model={"N": 1}), "model.N"),
        (_with(model={"potential": "cut"}), "model.potential"),
        (_with(preparation={"dt": 0.5}), "preparation.dt"),
        (_with(search={"is_pairs": {"enabled": 1}}), "search.is_pairs.enabled"),
        (_with(glasses={"count": 2, "seeds": [1]}), "glasses.seeds"),
        (_with(glasses={"count": 2, "seeds": [1, 1]}), "glasses.seeds"),
        (_with(glasses={"count": 2, "files": ["a.extxyz"]}), "glasses.files"),
        (_with(analysis={"T_min_K": 3.0, "T_max_K": 2.0}), "analysis.T_min_K"),
        (_with(search={"is_pairs": 3}), "search.is_pairs"),
        ({"model": {"N": 64}, "glasses": {"count": 1}}, "campaign.name"),
        (_with(model={"N": 2**63 - 1}), "model.N"),
        (_with(glasses={"count": 10**7}), "glasses.count"),
        (_with(preparation={"T_liquid": float("inf")}), "preparation.T_liquid"),
        (_with(search={"is_pairs": {"md_steps": 2**62}}), "search.is_pairs.md_steps"),
    ],
)
def test_bad_keys_name_the_key(raw, key):
    with pytest.raises(InputError) as e:
        config.validate(raw)
    assert key in str(e.value) and "\n" not in str(e.value)


def test_infinite_only_where_the_default_is():
    cfg = config.validate(_with(filters={"max_barrier": float("inf"), "max_asymmetry": 0.5}))
    assert cfg["filters"]["max_barrier"] == float("inf")
    with pytest.raises(InputError, match="'units.tls_threshold_K' must be finite"):
        config.validate(_with(units={"tls_threshold_K": float("inf")}))


def test_hash_ignores_runner_but_not_physics():
    a = config.validate(_with())
    b = config.validate(_with(runner={"workers": 7, "scheduler": "tcp://x:1"}))
    c = config.validate(_with(model={"N": 65}))
    assert config.config_hash(a) == config.config_hash(b) != config.config_hash(c)
    # defaults written out explicitly do not change the hash
    d = config.validate(_with(model={"N": 64, "potential": "smooth"}))
    assert config.config_hash(a) == config.config_hash(d)


def test_malformed_and_missing_files(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text("[campaign\nname = 'x'\n")
    with pytest.raises(InputError, match="malformed TOML"):
        config.load(p)
    with pytest.raises(InputError, match="not found"):
        config.load(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    "name",
    [
        "quickstart.toml",
        "production.toml",
        "figures.toml",
        "ultrastable_series.toml",
        "ultrastable_series_0.07.toml",
    ],
)
def test_shipped_campaigns_validate(name):
    from pelsim.campaign import stages

    cfg = config.load(ROOT / "simulations" / name)
    stages.check_inputs(cfg, ROOT / "simulations")  # sizes and inputs the stages need
    if name == "production.toml":
        assert cfg["model"]["N"] >= 1000 and cfg["glasses"]["count"] >= 20
    else:
        assert cfg["model"]["N"] <= 400
