"""Material presets: the parameter tables of the seed paper as data.

Every parameter table of Jug, Bonfanti & Kob (2015) -- Tables 1-8, 10, 11 and 14 --
is stored as a TOML file in ``etm/presets/`` (one file per table).  Each record keeps
the table number, the glass, the observable the parameters were fitted to, the
temperature, and each parameter with its value and unit *as printed*.  Where a
table prints D0|q/e|S in "K^2" (Tables 5-7) the record also notes the printed unit;
the text (Eq. 7, Tables 2, 4, 8, 10, 11, 14) uses K Angstrom^2, which is etm's unit.

A *preset* is one record, addressed by its id (``BAS-cp-0.90K``, ``BK7-eps-15mK``,
``Duran-M``...).  The heat-capacity presets of Tables 2 and 4 also carry the
concentrations of Tables 1 and 3 (fitted jointly over the three temperatures).
:func:`preset_values` returns the values in etm's units (K, K A^2, T, 1/g) under the
names of the CLI flags (``D_min``, ``D0min_qS``, ``D0max_qS``, ``Pn``, ``n_fe2``,
``n_fe3``, ``B_star``, ``amplitude``, ``Gamma``...).  Table 8 prints Gamma and c in
(us K^5)^-1 and (us K)^-1; the values are converted to 1/(s K^5) and 1/(s K).
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from etm.errors import InputError
from etm.params import ATSParams

#: Conversion of printed units to etm's units (multiplicative factor).
_TO_ETM_UNITS = {
    "K": 1.0,
    "mK": 1e-3,
    "K A^2": 1.0,
    "g^-1": 1.0,
    "T": 1.0,
    "1": 1.0,
    "(s K^5)^-1": 1.0,
    "(us K^5)^-1": 1e6,  # -> 1/(s K^5)
    "(us K)^-1": 1e6,  # -> 1/(s K)
    "s": 1.0,
    "Hz": 1.0,
    "D kV m^-1": 1.0,
    "A m^2 g^-1": 1.0,
}


@dataclass(frozen=True)
class Preset:
    """One record of a seed-paper parameter table.

    Attributes:
      name: preset id, e.g. ``"BAS-cp-0.90K"``.
      table: table number(s) of the seed paper the values come from.
      glass: glass name (BAS = AlBaSiO, Duran, BK7, SiOCH = SiO_{2+x}C_yH_z).
      observable: what the parameters were fitted to.
      temperature: temperature of the fit in K (float), or a text when the fit
        covered several temperatures.
      printed: parameter name -> dict(value=..., unit=..., and notes) exactly as printed.
      values: parameter name -> value in etm units (K, K A^2, T, 1/g, s, Hz, 1/(s K^5)),
        including the experimental ``conditions`` of the record.
      conditions: experimental conditions stored with a record (Table 8: frequency,
        pulse lengths, tau12, T), as dict(value=..., unit=...); not part of the printed table.
      extra: other record fields.
    """

    name: str
    table: tuple[int, ...]
    glass: str
    observable: str
    temperature: float | str
    printed: dict
    values: dict
    conditions: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)

    def ats_params(self, **overrides) -> ATSParams:
        """The :class:`~etm.params.ATSParams` of this preset (``overrides`` win)."""
        kw = {k: self.values.get(k) for k in ("D_min", "D0min_qS", "D0max_qS", "B_star")}
        kw.update(overrides)
        missing = [k for k in ("D_min", "D0min_qS", "D0max_qS") if kw.get(k) is None]
        if missing:
            raise InputError(f"preset {self.name!r} has no {', '.join(missing)}; give them as flags")
        return ATSParams(**kw)


def _value_in_etm_units(name: str, entry: dict) -> float:
    unit = entry["unit"]
    if unit not in _TO_ETM_UNITS:  # a data-file error, not user input
        raise ValueError(f"unknown unit {unit!r} of {name}")
    if "value_K" in entry:
        return float(entry["value_K"])
    return float(entry["value"]) * _TO_ETM_UNITS[unit]


@lru_cache(maxsize=1)
def raw_tables() -> dict[int, dict]:
    """All preset files, parsed: table number -> TOML content (records as printed)."""
    out = {}
    for entry in sorted(resources.files("etm").joinpath("presets").iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".toml"):
            data = tomllib.loads(entry.read_text(encoding="utf-8"))
            out[int(data["table"])] = data
    return out


@lru_cache(maxsize=1)
def _presets() -> dict[str, Preset]:
    tables = raw_tables()
    presets: dict[str, Preset] = {}
    for number, data in tables.items():
        for rec in data["record"]:
            printed = dict(rec["params"])
            table_ids = (number,)
            conc = data.get("concentrations_from_table")
            if conc is not None:
                (conc_rec,) = tables[conc]["record"]
                printed = {**conc_rec["params"], **printed}
                table_ids = (number, conc)
            conditions = dict(rec.get("conditions", {}))
            values = {k: _value_in_etm_units(k, v) for k, v in {**conditions, **printed}.items()}
            extra = {
                k: v
                for k, v in rec.items()
                if k not in ("id", "glass", "temperature_K", "params", "printed_glass", "conditions")
            }
            presets[rec["id"]] = Preset(
                name=rec["id"],
                table=table_ids,
                glass=rec.get("glass", data.get("glass", "")),
                observable=data["observable"],
                temperature=rec["temperature_K"],
                printed=printed,
                values=values,
                conditions=conditions,
                extra=extra,
            )
    return presets


def material_names() -> list[str]:
    """Names of all presets, in table order."""
    return list(_presets())


def get_preset(name: str) -> Preset:
    """The preset called ``name``; :class:`InputError` (with close matches) if unknown."""
    presets = _presets()
    if name not in presets:
        close = difflib.get_close_matches(name, presets, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise InputError(f"unknown material {name!r}{hint}; 'etm materials' lists the names")
    return presets[name]


def preset_values(name: str) -> dict[str, float]:
    """Parameter values of preset ``name`` in etm units, keyed by CLI flag name."""
    return dict(get_preset(name).values)


def describe_materials() -> list[dict]:
    """One row per preset for ``etm materials``: name, table, glass, observable, T, parameters."""
    rows = []
    for p in _presets().values():
        rows.append(
            {
                "name": p.name,
                "table": "+".join(str(t) for t in p.table),
                "glass": p.glass,
                "observable": p.observable,
                "temperature_K": p.temperature,
                "parameters": " ".join(f"{k}={v:.6g}" for k, v in p.values.items()),
            }
        )
    return rows
