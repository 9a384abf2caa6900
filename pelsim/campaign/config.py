"""Campaign definitions: the TOML schema, its validation and its hash.

A campaign file (``simulations/*.toml``) names the model and its size, the glasses
and their seeds, the preparation protocol, the search strategies and their budgets,
filters, the unit preset, the outputs and the runner. Every key is checked against
:data:`SCHEMA`; an unknown key, a wrong type or a value out of range raises
:class:`pelsim.errors.InputError` naming the key (``search.is_pairs.md_steps``).
Floats must be finite except where the default is infinite (the filters); counts that can
only be mistakes (10^5 glasses, 10^7 particles, 10^9 MD steps) are refused.

The configuration hash (sha256 of the canonical JSON of the *validated* config,
defaults filled in) identifies a campaign: the runner refuses to resume an output
directory that holds a campaign with a different hash, so no result is overwritten.
Keys under ``[runner]`` (worker count, scheduler) do not change results and are
left out of the hash.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pelsim.errors import InputError


@dataclass(frozen=True)
class Key:
    """One allowed key: its type, default (``REQUIRED`` if none) and bounds."""

    type: type | tuple
    default: Any
    min: float | None = None
    max: float | None = None
    choices: tuple | None = None
    doc: str = ""
    #: a key added after campaigns were run: at its default it is left out of the hash, so that
    #: those campaigns keep their identity (see :func:`canonical_json`)
    hash_default: bool = True


REQUIRED = object()


#: The schema: section -> key -> Key, nested sections are dicts of Keys.
SCHEMA: dict[str, Any] = {
    "campaign": {
        "name": Key(str, REQUIRED, doc="campaign name (free text, used in the report)"),
        "description": Key(str, "", doc="free text"),
        "stages_module": Key(
            str,
            "pelsim.campaign.stages",
            doc="python module providing the stage functions (advanced/testing)",
        ),
    },
    "model": {
        "name": Key(str, "ka3d", doc="parameter set for pelsim.models.load_model"),
        "N": Key(int, REQUIRED, min=2, max=10**7, doc="particles per glass"),
        "potential": Key(str, "smooth", choices=("smooth", "shifted")),
        "density": Key(float, 0.0, min=0.0, doc="number density (reduced); 0 = the model's default"),
    },
    "glasses": {
        "count": Key(int, REQUIRED, min=1, max=10**5, doc="independent glasses"),
        "seed": Key(int, 0, min=0, doc="base seed; glass i uses seed + i unless seeds is given"),
        "seeds": Key(list, [], doc="explicit per-glass seeds (length = count)"),
        "files": Key(
            list,
            [],
            doc="start from these extxyz configurations (relative to the campaign "
            "file) instead of preparing glasses; length = count",
        ),
    },
    "preparation": {
        "T_liquid": Key(float, 2.0, min=0.0, doc="equilibration temperature of the liquid (reduced)"),
        "equilibration_steps": Key(int, 2000, min=0, max=10**9),
        "T_glass": Key(float, 0.3, min=0.0, doc="temperature at the end of the cooling ramp"),
        "cooling_rate": Key(float, 1e-2, min=0.0, doc="dT/dt in reduced units; 0 = instantaneous quench"),
        "dt": Key(float, 0.005, min=1e-6, max=0.05, doc="MD time step (reduced)"),
        "method": Key(
            str,
            "md",
            choices=("md", "swap"),
            doc="md: equilibrate at T_liquid, cool to T_glass (species models); swap: hybrid MD / "
            "swap Monte Carlo at T_f (polydisperse models, [preparation.swap]), then the IS",
            hash_default=False,
        ),
        "swap": {
            "T_f": Key(
                list,
                [],
                doc="swap-MC temperatures (reduced); glass i is prepared at T_f[i % len(T_f)]",
                hash_default=False,
            ),
            "blocks": Key(
                int, 1000, min=1, max=10**9, doc="hybrid MD/swap blocks per glass", hash_default=False
            ),
            "md_steps": Key(int, 10, min=0, max=10**6, doc="NVT MD steps per block", hash_default=False),
            "swaps_per_particle": Key(
                float, 1.0, min=0.0, max=1e3, doc="swap attempts per block / N", hash_default=False
            ),
            "window": Key(
                float,
                0.0,
                min=0.0,
                doc="propose swaps only for |sigma_i - sigma_j| < window (0: no window)",
                hash_default=False,
            ),
        },
    },
    "search": {},  # generated from pelsim.landscape.routes.ROUTES below
    "filters": {
        "max_barrier": Key(float, math.inf, min=0.0, doc="drop DWPs with V0 above this (reduced)"),
        "max_asymmetry": Key(float, math.inf, min=0.0, doc="drop DWPs with |asymmetry| above this"),
    },
    "units": {
        "preset": Key(str, "argon", doc="pelsim.units preset (argon, ni80p20, khomenko2020, ...)"),
        "tls_threshold_K": Key(float, 1.0, min=0.0, doc="TLS: splitting below this [K]"),
    },
    "analysis": {
        "bootstrap": Key(int, 200, min=0, doc="bootstrap resamples over glasses"),
        "T_min_K": Key(float, 0.01, min=0.0),
        "T_max_K": Key(float, 2.0, min=0.0),
        "fields_T": Key(list, [0.0, 0.1, 0.3, 1.0], doc="fields for the TWP predictions [T]"),
        "frequency_Hz": Key(float, 1e3, min=0.0, doc="measuring frequency for eps'(T)"),
    },
    "outputs": {
        "report": Key(bool, True),
        "pair_tables": Key(
            bool, True, doc="each TLS-hunt task also writes its pair tables (tasks/gNNNN/tls_hunt.pairs.h5)"
        ),
    },
    "runner": {
        "workers": Key(int, 2, min=1, doc="local Dask workers"),
        "threads_per_worker": Key(int, 1, min=1),
        "processes": Key(bool, True, doc="process workers (True) or threads in the runner (False)"),
        "scheduler": Key(str, "", doc="address of an existing Dask scheduler; empty = LocalCluster"),
        "neb_batch": Key(
            int,
            1,
            min=1,
            doc="IS-pair NEB bands relaxed at once per device (neb_many); > 1 pays on GPUs",
        ),
        "neb_devices": Key(
            int,
            1,
            min=1,
            doc="JAX devices per worker for the IS-pair NEBs (GPUs); on a CPU raise workers instead",
        ),
    },
}


def _route_keys(cls, enabled: bool = False) -> dict:
    """The schema section of a search route, generated from its parameter dataclass
    (:mod:`pelsim.params`): same names, defaults, bounds and documentation as the library."""
    from pelsim.params import schema_fields

    keys = {"enabled": Key(bool, enabled, doc="run this search" + ("" if enabled else " (off by default)"))}
    for name, (typ, default, lo, hi, choices, doc) in schema_fields(cls).items():
        keys[name] = Key(typ, default, min=lo, max=hi, choices=choices, doc=doc)
    return keys


def _generated_routes() -> None:
    from pelsim.landscape.routes import ROUTES

    for name, (cls, enabled) in ROUTES.items():
        SCHEMA["search"][name] = _route_keys(cls, enabled)


_generated_routes()

#: sections whose keys do not change results (left out of the hash)
UNHASHED_SECTIONS = ("runner",)


def _infinite_default(key: Key) -> bool:
    return isinstance(key.default, float) and math.isinf(key.default)


def _check(value, key: Key, name: str):
    types = key.type if isinstance(key.type, tuple) else (key.type,)
    if float in types and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if key.type is not bool and isinstance(value, bool):
        raise InputError(f"config key '{name}' must be {key.type.__name__}, got a boolean")
    if not isinstance(value, types):
        raise InputError(
            f"config key '{name}' must be {'/'.join(t.__name__ for t in types)}, "
            f"got {type(value).__name__} {value!r}"
        )
    if isinstance(value, float) and math.isnan(value):
        raise InputError(f"config key '{name}' is NaN")
    # infinite only where the default is (the filters: inf = no filter)
    if isinstance(value, float) and math.isinf(value) and not _infinite_default(key):
        raise InputError(f"config key '{name}' must be finite, got {value}")
    if key.min is not None and value < key.min:
        raise InputError(f"config key '{name}' must be >= {key.min}, got {value}")
    if key.max is not None and value > key.max:
        raise InputError(f"config key '{name}' must be <= {key.max}, got {value}")
    if key.choices is not None and value not in key.choices:
        raise InputError(f"config key '{name}' must be one of {', '.join(key.choices)}, got {value!r}")
    return value


def _validate(raw: dict, schema: dict, prefix: str) -> dict:
    out = {}
    for k in raw:
        if k not in schema:
            where = f"[{prefix}]" if prefix else "the top level"
            raise InputError(f"unknown config key '{prefix + '.' if prefix else ''}{k}' in {where}")
    for k, spec in schema.items():
        name = f"{prefix}.{k}" if prefix else k
        if isinstance(spec, dict):
            sub = raw.get(k, {})
            if not isinstance(sub, dict):
                raise InputError(f"config key '{name}' must be a table [{name}]")
            out[k] = _validate(sub, spec, name)
        elif k in raw:
            out[k] = _check(raw[k], spec, name)
        elif spec.default is REQUIRED:
            raise InputError(f"missing required config key '{name}'")
        else:
            out[k] = copy.deepcopy(spec.default)
    return out


def validate(raw: dict) -> dict:
    """Validate a raw config dict against :data:`SCHEMA`, fill defaults, check cross-key rules."""
    cfg = _validate(raw, SCHEMA, "")
    g = cfg["glasses"]
    if g["seeds"]:
        if len(g["seeds"]) != g["count"]:
            raise InputError(
                f"config key 'glasses.seeds' has {len(g['seeds'])} entries but glasses.count = {g['count']}"
            )
        if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in g["seeds"]):
            raise InputError("config key 'glasses.seeds' must be a list of non-negative integers")
        if len(set(g["seeds"])) != len(g["seeds"]):
            raise InputError("config key 'glasses.seeds' has repeated seeds")
    if g["files"]:
        if len(g["files"]) != g["count"]:
            raise InputError(
                f"config key 'glasses.files' has {len(g['files'])} entries but glasses.count = {g['count']}"
            )
        if not all(isinstance(f, str) and f for f in g["files"]):
            raise InputError("config key 'glasses.files' must be a list of file names")
    sw = cfg["preparation"]["swap"]
    if not all(isinstance(t, (int, float)) and not isinstance(t, bool) and t > 0 for t in sw["T_f"]):
        raise InputError("config key 'preparation.swap.T_f' must be a list of positive temperatures")
    sw["T_f"] = [float(t) for t in sw["T_f"]]
    if cfg["preparation"]["method"] == "swap" and not sw["T_f"]:
        raise InputError("config key 'preparation.swap.T_f' must name at least one temperature (method swap)")
    pts = cfg["search"]["intra_basin"]["points"]
    if pts % 2 == 0:
        raise InputError(f"config key 'search.intra_basin.points' must be odd, got {pts}")
    a = cfg["analysis"]
    if not a["T_max_K"] > a["T_min_K"] > 0:
        raise InputError("config keys 'analysis.T_min_K' < 'analysis.T_max_K' must hold, both > 0")
    if not all(isinstance(b, (int, float)) and not isinstance(b, bool) and b >= 0 for b in a["fields_T"]):
        raise InputError("config key 'analysis.fields_T' must be a list of non-negative numbers")
    a["fields_T"] = [float(b) for b in a["fields_T"]]
    return cfg


def load(path: str | Path) -> dict:
    """Read and validate a campaign TOML file; every failure is one InputError line."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"campaign file not found: {path}")
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"malformed TOML in {path}: {exc}") from None
    except UnicodeDecodeError:
        raise InputError(f"campaign file {path} is not UTF-8 text") from None
    return validate(raw)


def glass_seeds(cfg: dict) -> list[int]:
    """The seed of each glass, in order."""
    g = cfg["glasses"]
    return list(g["seeds"]) if g["seeds"] else [g["seed"] + i for i in range(g["count"])]


def _jsonable(obj):
    if isinstance(obj, float) and math.isinf(obj):
        return "inf" if obj > 0 else "-inf"
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_jsonable(v) for v in obj]
    return obj


def _without_late_defaults(cfg: dict, schema: dict) -> dict:
    """``cfg`` without the keys declared ``hash_default=False`` that hold their default (and
    without sections left empty by that)."""
    out = {}
    for k, v in cfg.items():
        spec = schema.get(k)
        if isinstance(spec, dict):
            sub = _without_late_defaults(v, spec)
            if sub or not v:
                out[k] = sub
        elif isinstance(spec, Key) and not spec.hash_default and v == spec.default:
            continue
        else:
            out[k] = v
    return out


def canonical_json(cfg: dict) -> str:
    """Canonical JSON of the result-relevant part of a validated config. Keys added after
    campaigns were run (``Key.hash_default=False``, e.g. the swap preparation) enter only when
    they differ from their default: a campaign file that does not use them keeps its hash."""
    hashed = {k: v for k, v in cfg.items() if k not in UNHASHED_SECTIONS}
    hashed = _without_late_defaults(hashed, SCHEMA)
    return json.dumps(_jsonable(hashed), sort_keys=True, separators=(",", ":"))


def config_hash(cfg: dict) -> str:
    """sha256 hex digest of :func:`canonical_json` (identifies a campaign's results)."""
    return hashlib.sha256(canonical_json(cfg).encode()).hexdigest()


def to_json(cfg: dict) -> str:
    """Readable JSON of the full validated config (for the campaign log)."""
    return json.dumps(_jsonable(cfg), indent=2, sort_keys=True)
