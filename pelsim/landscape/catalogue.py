"""The DWP/TWP catalogue: minima, saddles, DWPs and TWPs in HDF5, with a networkx graph.

Schema: docs/catalogue.md (version 1). Records are held in memory and written
atomically (temporary file + ``os.replace``) by :meth:`Catalogue.save` / on
closing; a truncated or corrupt file raises :class:`InputError` naming it.
DWPs are the edges of the minima graph and TWPs its triangles. The DWP rows
carry the tunneling parameters of seed Eqs. 3-4 (computed by
:mod:`pelsim.tunneling` from the stored path profile); the TWP rows the 3-level
Hamiltonian of seed Eq. 5 (:mod:`pelsim.landscape.twp`). Each DWP keeps the exact inputs of
its tunneling parameters (profile s, V, dV/ds, end curvatures) and the configurations of the
profile's points (the path), which ``pelsim catalogue --export`` writes as profile.csv and
path.extxyz. Paths read from a file stay there until asked for (:meth:`Catalogue.dwp_path`): one
path of 15 images at N = 1000 is 0.36 MB of float64, too much to hold for every DWP of a catalogue.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from pathlib import Path

import numpy as np

from pelsim.errors import InputError, RejectedStep
from pelsim.landscape.identity import DISTANCE_TOL, ENERGY_TOL, find_minimum
from pelsim.landscape.twp import dwp_geometry, twp_parameters
from pelsim.tunneling import dwp_parameters
from pelsim.units import DEFAULT_PRESET, get_preset

SCHEMA_VERSION = 1
DWP_FLOAT_FIELDS = (
    "barrier",
    "asymmetry",
    "V0",
    "d",
    "m_eff",
    "hbar_omega_a",
    "hbar_omega_b",
    "splitting",
    "Delta",
    "Delta0",
    "Delta0_wkb",
    "Delta0_parabola",
    "splitting_K",
    "Delta_K",
    "Delta0_K",
    "participation_ratio",
    "splitting_lowest",
    "Delta0_floor",
)
DWP_INT_FIELDS = ("id", "glass", "seed", "min_a", "min_b", "saddle", "n_moving", "n_found")
_DWP_DEFAULTS = {"splitting_lowest": np.nan, "Delta0_floor": np.nan, "n_found": 1}
TWP_FLOAT_FIELDS = ("E1", "E2", "E3", "loop_area", "loop_area_particle_max", "loop_area_config")
_STR = None  # set lazily to h5py.string_dtype()

#: grid (sigma) on which the path displacements from the path's first image are stored: 2^-36
#: (1.5e-11 sigma) moves a frame's energy by ~|grad E| 2^-36 / sqrt(12) ~ 1e-11 eps for
#: |grad E| ~ 1 eps/sigma, far below the 1e-9 eps to which the frames must reproduce V; the
#: rounded float64 values have zero low-order mantissa bits, which HDF5's shuffle + gzip filters
#: then compress (KA 3D, N = 270, 15 images: 0.53 of the float64 size, against 0.77 unrounded).
#: Hand-rounded rather than HDF5's scale-offset filter so that the file holds plain float64
#: values that any HDF5 reader decodes with the standard filters.
PATH_QUANTUM = 2.0**-36
_PATH_FILTERS = {"compression": "gzip", "compression_opts": 4, "shuffle": True}


class _StoredPath:
    """The path of one DWP left in an HDF5 file (group ``dwps/profiles/<id>``) until needed."""

    def __init__(self, file: Path, group: str):
        self.file, self.group = Path(file).resolve(), group

    def load(self) -> tuple[np.ndarray, np.ndarray]:
        import h5py

        try:
            with h5py.File(self.file, "r") as f:
                g = f[self.group]
                return g["start_positions"][()], g["displacements"][()]
        except (OSError, KeyError) as exc:
            raise InputError(
                f"{self.file}: path configurations of {self.group} unreadable "
                f"(file changed since it was opened?): {str(exc).splitlines()[0]}"
            ) from None


def _quantised_path(images) -> tuple[np.ndarray, np.ndarray]:
    """(first image, displacements of every image from it rounded to PATH_QUANTUM)."""
    X = np.asarray(images, float)
    U = np.round((X - X[0]) / PATH_QUANTUM) * PATH_QUANTUM
    return X[0].copy(), U


def _now():
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _code_version():
    from pelsim import __version__

    return __version__


class Catalogue:
    """In-memory catalogue backed by one HDF5 file (see docs/catalogue.md)."""

    def __init__(
        self,
        path=None,
        model="ka3d",
        potential="smooth",
        N=0,
        dim=3,
        box=None,
        species=None,
        masses=None,
        unit_preset=DEFAULT_PRESET,
        tls_threshold_K=1.0,
    ):
        self.path = None if path is None else Path(path)
        preset = get_preset(unit_preset)
        self.attrs = {
            "schema_version": SCHEMA_VERSION,
            "model": model,
            "potential": potential,
            "N": int(N),
            "dim": int(dim),
            "box": np.zeros(dim) if box is None else np.asarray(box, float),
            "species": np.zeros(N, np.int64) if species is None else np.asarray(species, np.int64),
            "masses": np.ones(N) if masses is None else np.asarray(masses, float),
            "unit_preset": preset.name,
            "hbar": preset.hbar,
            "epsilon_K": preset.epsilon_K,
            "tls_threshold_K": float(tls_threshold_K),
            "code_version": _code_version(),
            "created": _now(),
        }
        self.minima = {"energy": [], "positions": [], "max_force": [], "glass": [], "provenance": []}
        self.saddles = {
            "energy": [],
            "positions": [],
            "max_force": [],
            "glass": [],
            "provenance": [],
            "n_negative_modes": [],
            "min_a": [],
            "min_b": [],
            "method": [],
        }
        self.dwp_rows: list[dict] = []
        self.profiles: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        # per DWP id: dVds (P,) and curvature (2,) of the profile, energy_start (energy of the
        # path's first image); absent in files written before they were stored
        self.profile_inputs: dict[int, dict] = {}
        # per DWP id: (start_positions (N, d), displacements (P, N, d)) or a _StoredPath
        self.dwp_paths: dict[int, tuple[np.ndarray, np.ndarray] | _StoredPath] = {}
        self.twp_rows: list[dict] = []
        # per glass index: the particle diameters of a polydisperse model (absent for species models)
        self.diameters: dict[int, np.ndarray] = {}
        self.mode = "w"

    # ------------------------------------------------------------------ file I/O
    @classmethod
    def open(cls, path, mode: str = "r", **attrs) -> Catalogue:
        """mode "r" (read), "a" (read if it exists, then append), "w" (new; ``attrs`` as in __init__)."""
        if mode not in ("r", "a", "w"):
            raise InputError(f"catalogue mode must be r, a or w, got {mode!r}")
        p = Path(path)
        if mode == "w" or (mode == "a" and not p.exists()):
            cat = cls(p, **attrs)
            cat.mode = mode
            return cat
        if not p.is_file():
            raise InputError(f"catalogue file not found: {path}")
        cat = cls._read(p)
        cat.mode = mode
        return cat

    @classmethod
    def _read(cls, p: Path) -> Catalogue:
        import h5py

        try:
            with h5py.File(p, "r") as f:
                a = dict(f.attrs)
                if int(a.get("schema_version", -1)) != SCHEMA_VERSION:
                    raise InputError(
                        f"{p}: not a pelsim catalogue (schema_version {a.get('schema_version')})"
                    )
                cat = cls(
                    p,
                    model=str(a["model"]),
                    potential=str(a["potential"]),
                    N=int(a["N"]),
                    dim=int(a["dim"]),
                    box=a["box"],
                    species=a["species"],
                    masses=a["masses"],
                    unit_preset=str(a["unit_preset"]),
                    tls_threshold_K=float(a["tls_threshold_K"]),
                )
                cat.attrs.update({k: (v.decode() if isinstance(v, bytes) else v) for k, v in a.items()})
                for gname, store in (("minima", cat.minima), ("saddles", cat.saddles)):
                    g = f[gname]
                    for k in store:
                        vals = g[k][()]
                        if k in ("provenance", "method"):
                            vals = [v.decode() if isinstance(v, bytes) else str(v) for v in vals]
                        store[k] = list(vals)
                g = f["dwps"]
                n = g["id"].shape[0]
                cols = {k: g[k][()] for k in g.keys() if k != "profiles"}
                for i in range(n):
                    row = {}
                    for k, v in cols.items():
                        x = v[i]
                        row[k] = (
                            x.decode() if isinstance(x, bytes) else (x.item() if hasattr(x, "item") else x)
                        )
                    cat.dwp_rows.append(row)
                    i = int(row["id"])
                    pg = g["profiles"][str(i)]
                    cat.profiles[i] = (pg["s"][()], pg["V"][()])
                    extra = {k: pg[k][()] for k in ("dVds", "curvature") if k in pg}
                    if "energy_start" in pg.attrs:
                        extra["energy_start"] = float(pg.attrs["energy_start"])
                    if extra:
                        cat.profile_inputs[i] = extra
                    if "displacements" in pg:
                        cat.dwp_paths[i] = _StoredPath(p, pg.name)
                if "diameters" in f:  # polydisperse models: one row of diameters per glass
                    g = f["diameters"]
                    for k, d in zip(g["glass"][()], g["values"][()], strict=True):
                        cat.diameters[int(k)] = np.asarray(d, float)
                g = f["twps"]
                n = g["id"].shape[0]
                cols = {k: g[k][()] for k in g.keys()}
                for i in range(n):
                    row = {}
                    for k, v in cols.items():
                        x = v[i]
                        row[k] = x.decode() if isinstance(x, bytes) else (x.item() if np.ndim(x) == 0 else x)
                    cat.twp_rows.append(row)
        except InputError:
            raise
        except (OSError, KeyError, ValueError) as exc:
            raise InputError(f"{p}: truncated or corrupt catalogue ({str(exc).splitlines()[0]})") from None
        return cat

    def save(self, path=None) -> Path:
        """Write the whole catalogue atomically to ``path`` (default: the file it was opened from)."""
        import h5py

        path = Path(path or self.path)
        if path is None:
            raise InputError("catalogue has no file path")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
        s = h5py.string_dtype()
        N, d = self.attrs["N"], self.attrs["dim"]
        try:
            with h5py.File(tmp, "w") as f:
                for k, v in self.attrs.items():
                    f.attrs[k] = v
                for gname, store in (("minima", self.minima), ("saddles", self.saddles)):
                    g = f.create_group(gname)
                    for k, vals in store.items():
                        if k in ("provenance", "method"):
                            g.create_dataset(k, data=np.array(vals, dtype=object), dtype=s)
                        elif k == "positions":
                            g.create_dataset(k, data=np.array(vals, float).reshape(-1, N, d))
                        else:
                            g.create_dataset(k, data=np.array(vals))
                g = f.create_group("dwps")
                D = self.dwps()
                for k in DWP_INT_FIELDS + DWP_FLOAT_FIELDS:
                    g.create_dataset(k, data=D[k])
                for k in ("method", "methods"):
                    g.create_dataset(k, data=np.array(list(D[k]), dtype=object), dtype=s)
                g.create_dataset("is_tls", data=np.array([bool(r["is_tls"]) for r in self.dwp_rows], bool))
                pg = g.create_group("profiles")
                sources: dict[Path, h5py.File] = {}
                try:
                    for i, (sv, vv) in self.profiles.items():
                        h = pg.create_group(str(i))
                        h.create_dataset("s", data=np.asarray(sv, float))
                        h.create_dataset("V", data=np.asarray(vv, float))
                        self._write_path(h, i, sources)
                finally:
                    for src in sources.values():
                        src.close()
                g = f.create_group("twps")
                T = self.twp_rows
                g.create_dataset("id", data=np.array([r["id"] for r in T], np.int64))
                g.create_dataset("glass", data=np.array([r["glass"] for r in T], np.int64))
                g.create_dataset("method", data=np.array([r["method"] for r in T], dtype=object), dtype=s)
                for k in ("minima", "saddles", "dwps"):
                    g.create_dataset(k, data=np.array([r[k] for r in T], np.int64).reshape(-1, 3))
                for k in ("D0", "spectrum"):
                    g.create_dataset(k, data=np.array([r[k] for r in T], float).reshape(-1, 3))
                for k in TWP_FLOAT_FIELDS:
                    g.create_dataset(k, data=np.array([r[k] for r in T], float))
                if self.diameters:
                    g = f.create_group("diameters")
                    keys = sorted(self.diameters)
                    g.create_dataset("glass", data=np.array(keys, np.int64))
                    g.create_dataset("values", data=np.stack([self.diameters[k] for k in keys]))
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()
        self.path = path
        # the paths now live in the file: drop them from memory (and from the files they were
        # copied from, e.g. merged task catalogues that may be deleted)
        for i in self.dwp_paths:
            self.dwp_paths[i] = _StoredPath(path, f"/dwps/profiles/{i}")
        return path

    def _write_path(self, h, i: int, sources: dict) -> None:
        """Profile inputs and path of DWP ``i`` into group ``h`` (copied as stored when the path
        still lies in a file: HDF5 copies the compressed chunks as they are)."""
        import h5py

        for k, v in self.profile_inputs.get(i, {}).items():
            if k == "energy_start":
                h.attrs[k] = float(v)
            else:
                h.create_dataset(k, data=np.asarray(v, float))
        stored = self.dwp_paths.get(i)
        if isinstance(stored, _StoredPath):
            if stored.file not in sources:
                try:
                    sources[stored.file] = h5py.File(stored.file, "r")
                except OSError as exc:
                    raise InputError(f"{stored.file}: path configurations unreadable ({exc})") from None
            src = sources[stored.file]
            if stored.group not in src:
                raise InputError(f"{stored.file}: no {stored.group} (file changed since it was opened?)")
            for k in ("start_positions", "displacements"):
                src.copy(src[stored.group][k], h, name=k)
        elif stored is not None:
            R0, U = stored
            h.create_dataset("start_positions", data=R0, **_PATH_FILTERS)
            h.create_dataset("displacements", data=U, chunks=(1, *U.shape[1:]), **_PATH_FILTERS)

    def close(self):
        if self.mode in ("w", "a") and self.path is not None:
            self.save()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        return False

    # ------------------------------------------------------------------ records
    @property
    def box(self):
        b = np.asarray(self.attrs["box"], float)
        return None if not np.all(b > 0) else b

    def _check_positions(self, R):
        R = np.asarray(R, float)
        if R.shape != (self.attrs["N"], self.attrs["dim"]):
            raise InputError(
                f"positions of shape {R.shape} do not match the catalogue "
                f"(N={self.attrs['N']}, dim={self.attrs['dim']})"
            )
        return R

    def set_diameters(self, glass: int, diameters) -> None:
        """Record the particle diameters of glass ``glass`` (polydisperse models): with them the
        catalogue's configurations can be reopened and their energies recomputed
        (:meth:`configuration`). A glass index holds one system: other diameters are refused."""
        d = np.asarray(diameters, float).reshape(-1)
        if d.shape != (self.attrs["N"],) or not np.all(np.isfinite(d)) or np.any(d <= 0):
            raise InputError(f"diameters of glass {glass}: need {self.attrs['N']} positive finite values")
        old = self.diameters.get(int(glass))
        if old is not None and not np.array_equal(old, d):
            raise InputError(f"glass {glass} is already catalogued with other particle diameters")
        self.diameters[int(glass)] = d

    def configuration(self, positions, glass: int = 0, info=None, wrap: bool = True):
        """A :class:`pelsim.config.Configuration` of the catalogue's system at ``positions`` (a
        stored minimum, saddle or path frame of glass ``glass``): model, box, species and, for a
        polydisperse model, that glass's diameters (:meth:`set_diameters`); positions wrapped into
        the box unless ``wrap`` is False."""
        from pelsim.config import Configuration
        from pelsim.models import PolydisperseModel, load_model

        a = self.attrs
        model = str(a["model"])
        if model.startswith("analytic:"):
            raise InputError("an analytic-surface catalogue has no particle configurations")
        diam = self.diameters.get(int(glass))
        if diam is None and isinstance(load_model(model), PolydisperseModel):
            raise InputError(f"catalogue of {model} stores no diameters for glass {glass}")
        box = np.asarray(a["box"], float)
        R = self._check_positions(positions)
        return Configuration(np.mod(R, box) if wrap else R, a["species"], box, model, dict(info or {}), diam)

    def add_minimum(
        self,
        R,
        energy,
        max_force=0.0,
        glass=0,
        provenance=None,
        energy_tol=ENERGY_TOL,
        distance_tol=DISTANCE_TOL,
    ) -> int:
        """Index of the minimum (an existing identical one is reused)."""
        R = self._check_positions(R)
        k = find_minimum(
            energy, R, self.minima["energy"], self.minima["positions"], self.box, energy_tol, distance_tol
        )
        if k >= 0:
            return k
        self.minima["energy"].append(float(energy))
        self.minima["positions"].append(R)
        self.minima["max_force"].append(float(max_force))
        self.minima["glass"].append(int(glass))
        self.minima["provenance"].append(json.dumps(provenance or {}))
        return len(self.minima["energy"]) - 1

    def add_saddle(
        self, R, energy, max_force, n_negative_modes, min_a, min_b, method, glass=0, provenance=None
    ) -> int:
        R = self._check_positions(R)
        self.saddles["energy"].append(float(energy))
        self.saddles["positions"].append(R)
        self.saddles["max_force"].append(float(max_force))
        self.saddles["glass"].append(int(glass))
        self.saddles["provenance"].append(json.dumps(provenance or {}))
        self.saddles["n_negative_modes"].append(int(n_negative_modes))
        self.saddles["min_a"].append(int(min_a))
        self.saddles["min_b"].append(int(min_b))
        self.saddles["method"].append(str(method))
        return len(self.saddles["energy"]) - 1

    def add_dwp(
        self,
        min_a,
        min_b,
        saddle,
        profile,
        method,
        glass=0,
        seed=0,
        dVds=None,
        curvature=None,
        images=None,
        energy_start=None,
    ) -> int:
        """Add a DWP between stored minima through a stored saddle; tunneling parameters from
        the profile (s, V) (mass-weighted arc length, energy relative to min_a), with the path
        forces ``dVds`` and end ``curvature`` when given (all stored). ``images`` (P, N, d): the
        configurations of the profile's P points, stored on the PATH_QUANTUM grid;
        ``energy_start``: the energy of the first image (V is relative to it)."""
        s, V = np.asarray(profile[0], float), np.asarray(profile[1], float)
        if images is not None:
            images = np.asarray(images, float)
            if images.shape != (len(s), self.attrs["N"], self.attrs["dim"]):
                raise InputError(
                    f"path images of shape {images.shape} do not match the profile ({len(s)} points) "
                    f"and the catalogue (N={self.attrs['N']}, dim={self.attrs['dim']})"
                )
        Ea, Eb = self.minima["energy"][min_a], self.minima["energy"][min_b]
        Es = self.saddles["energy"][saddle]
        geo = dwp_geometry(
            self.minima["positions"][min_a], self.minima["positions"][min_b], self.box, self.attrs["masses"]
        )
        hbar = float(self.attrs["hbar"])
        tp = dwp_parameters(s, V, hbar, dVds=dVds, d=geo["d"], curvature=curvature)
        epsK = float(self.attrs["epsilon_K"])
        row = {
            "id": len(self.dwp_rows),
            "glass": int(glass),
            "seed": int(seed),
            "method": str(method),
            "min_a": int(min_a),
            "min_b": int(min_b),
            "saddle": int(saddle),
            "barrier": Es - Ea,
            "asymmetry": Eb - Ea,
            "V0": Es - min(Ea, Eb),
            "d": geo["d"],
            "m_eff": geo["m_eff"],
            "hbar_omega_a": tp["hbar_omega_a"],
            "hbar_omega_b": tp["hbar_omega_b"],
            "splitting": tp["splitting"],
            "splitting_lowest": tp["splitting_lowest"],
            "Delta": tp["Delta"],
            "Delta0": tp["Delta0"],
            "Delta0_floor": tp["Delta0_floor"],
            "methods": str(method),
            "n_found": 1,
            "Delta0_wkb": tp["Delta0_wkb"],
            "Delta0_parabola": tp["Delta0_parabola"],
            "participation_ratio": geo["participation_ratio"],
            "n_moving": geo["n_moving"],
        }
        row["splitting_K"] = row["splitting"] * epsK
        row["Delta_K"] = row["Delta"] * epsK
        row["Delta0_K"] = row["Delta0"] * epsK
        row["is_tls"] = bool(row["splitting_K"] < self.attrs["tls_threshold_K"])
        self.dwp_rows.append(row)
        self.profiles[row["id"]] = (s, V)
        extra = {
            k: np.asarray(v, float) for k, v in (("dVds", dVds), ("curvature", curvature)) if v is not None
        }
        if energy_start is not None:
            extra["energy_start"] = float(energy_start)
        if extra:
            self.profile_inputs[row["id"]] = extra
        if images is not None:
            self.dwp_paths[row["id"]] = _quantised_path(images)
        return row["id"]

    def add_step(self, step, method, glass=0, seed=0, provenance=None) -> int:
        """Add a verified :class:`~pelsim.landscape.connect.ElementaryStep` (minima, saddle, DWP)."""
        prov = dict(provenance or {}, method=method, seed=seed, code_version=_code_version())
        a = self.add_minimum(step.min_a.R, step.min_a.energy, step.min_a.max_force, glass, prov)
        b = self.add_minimum(step.min_b.R, step.min_b.energy, step.min_b.max_force, glass, prov)
        if a == b:
            raise RejectedStep("elementary step joins a minimum to itself")
        dup = self.find_dwp(a, b, step.saddle.R, step.saddle.energy)
        if dup >= 0:
            self._count_duplicate(dup, method)
            return dup
        sd = self.add_saddle(
            step.saddle.R,
            step.saddle.energy,
            step.saddle.max_force,
            step.saddle.n_negative,
            a,
            b,
            method,
            glass,
            prov,
        )
        prof = step.profile
        try:
            return self.add_dwp(
                a,
                b,
                sd,
                (prof["s"], prof["V"]),
                method,
                glass,
                seed,
                prof.get("dVds"),
                prof.get("curvature"),
                images=step.images,
                energy_start=step.min_a.energy,
            )
        except InputError as exc:  # the found path defines no DWP: an outcome of the search
            raise RejectedStep(str(exc)) from None

    def find_dwp(self, a, b, R_saddle, E_saddle, energy_tol=ENERGY_TOL, distance_tol=DISTANCE_TOL) -> int:
        """Id of a stored DWP between minima {a, b} through the same saddle (identity as for
        minima: energy within ``energy_tol`` and max displacement within ``distance_tol``), or -1."""
        key = {int(a), int(b)}
        rows = [r for r in self.dwp_rows if {r["min_a"], r["min_b"]} == key]
        if not rows:
            return -1
        k = find_minimum(
            E_saddle,
            np.asarray(R_saddle, float),
            [self.saddles["energy"][r["saddle"]] for r in rows],
            [self.saddles["positions"][r["saddle"]] for r in rows],
            self.box,
            energy_tol,
            distance_tol,
        )
        return -1 if k < 0 else int(rows[k]["id"])

    def _count_duplicate(self, dwp_id, methods):
        r = self.dwp_rows[dwp_id]
        have = set(str(r.get("methods", r["method"])).split(","))
        have |= set(str(methods).split(","))
        r["methods"] = ",".join(sorted(have))
        r["n_found"] = int(r.get("n_found", 1)) + 1

    # ------------------------------------------------------------------ views
    def dwps(self) -> dict:
        """Dict of numpy arrays, one per DWP field (docs/catalogue.md)."""
        out = {}
        for k in DWP_INT_FIELDS:
            out[k] = np.array([r.get(k, _DWP_DEFAULTS.get(k)) for r in self.dwp_rows], np.int64)
        for k in DWP_FLOAT_FIELDS:
            out[k] = np.array([r.get(k, _DWP_DEFAULTS.get(k)) for r in self.dwp_rows], float)
        out["method"] = np.array([r["method"] for r in self.dwp_rows], dtype=object)
        out["methods"] = np.array([r.get("methods", r["method"]) for r in self.dwp_rows], dtype=object)
        out["is_tls"] = np.array([bool(r["is_tls"]) for r in self.dwp_rows], bool)
        return out

    def twps(self) -> dict:
        out = {
            "id": np.array([r["id"] for r in self.twp_rows], np.int64),
            "glass": np.array([r["glass"] for r in self.twp_rows], np.int64),
            "method": np.array([r["method"] for r in self.twp_rows], dtype=object),
        }
        for k in ("minima", "saddles", "dwps"):
            out[k] = np.array([r[k] for r in self.twp_rows], np.int64).reshape(-1, 3)
        for k in ("D0", "spectrum"):
            out[k] = np.array([r[k] for r in self.twp_rows], float).reshape(-1, 3)
        for k in TWP_FLOAT_FIELDS:
            out[k] = np.array([r[k] for r in self.twp_rows], float)
        return out

    def profile(self, dwp_id: int):
        """(s, V) of DWP ``dwp_id``."""
        return self.profiles[int(dwp_id)]

    def profile_dict(self, dwp_id: int) -> dict:
        """s, V, dVds, curvature of DWP ``dwp_id``: the inputs its tunneling parameters were
        computed from (``dwp_parameters(s, V, hbar, dVds=, curvature=)``); dVds and curvature are
        None in files written before they were stored."""
        s, V = self.profiles[int(dwp_id)]
        extra = self.profile_inputs.get(int(dwp_id), {})
        return {"s": s, "V": V, "dVds": extra.get("dVds"), "curvature": extra.get("curvature")}

    def has_dwp_path(self, dwp_id: int) -> bool:
        """True when the configurations of the DWP's profile points are stored."""
        return int(dwp_id) in self.dwp_paths

    def dwp_path(self, dwp_id: int):
        """Configurations (P, N, d) of the profile's points of DWP ``dwp_id``, from min_a to min_b
        (start_positions + displacements: unwrapped, continuous along the path), or None when the
        catalogue does not store them (files written before they were stored)."""
        p = self.dwp_paths.get(int(dwp_id))
        if p is None:
            return None
        R0, U = p.load() if isinstance(p, _StoredPath) else p
        return R0[None] + U

    def graph(self):
        """networkx.Graph: nodes = minima (energy, glass), edges = DWPs (lowest barrier kept)."""
        import networkx as nx

        G = nx.Graph()
        for i, (e, g) in enumerate(zip(self.minima["energy"], self.minima["glass"], strict=True)):
            G.add_node(i, energy=float(e), glass=int(g))
        for r in self.dwp_rows:
            a, b = r["min_a"], r["min_b"]
            es = self.saddles["energy"][r["saddle"]]
            if G.has_edge(a, b) and G.edges[a, b]["saddle_energy"] <= es:
                continue
            G.add_edge(
                a,
                b,
                dwp=r["id"],
                saddle=r["saddle"],
                saddle_energy=float(es),
                method=r["method"],
                Delta0=r["Delta0"],
            )
        return G

    def find_twps(self) -> int:
        """Add every triangle of the graph (3 minima pairwise joined by DWPs) as a TWP; returns the count.

        Triangles with a DWP whose Delta0 is NaN (a well without a localised state) are not
        three-level systems: they are counted in ``attrs["triangles_without_tls"]``, not stored."""
        import networkx as nx

        G = self.graph()
        have = {tuple(sorted(r["minima"])) for r in self.twp_rows}
        added = 0
        skipped: set = set()
        rows = {r["id"]: r for r in self.dwp_rows}
        for tri in nx.enumerate_all_cliques(G):
            if len(tri) < 3:
                continue
            if len(tri) > 3:
                break
            key = tuple(sorted(tri))
            if key in have:
                continue
            m1, m2, m3 = key
            ids = [G.edges[m1, m2]["dwp"], G.edges[m2, m3]["dwp"], G.edges[m3, m1]["dwp"]]
            if not all(np.isfinite(rows[i]["Delta0"]) for i in ids):
                # a well of one of the DWPs holds no localised state (Delta0 = NaN): a classical
                # triangle but no three-level system; counted, not stored (seen in KA N = 270:
                # a minimum 6e-4 eps below its saddle, zero-point energy 0.017 eps)
                skipped.add(key)
                continue
            hw = {m1: [], m2: [], m3: []}
            for i in ids:
                r = rows[i]
                hw[r["min_a"]].append(r["hbar_omega_a"])
                hw[r["min_b"]].append(r["hbar_omega_b"])
            p = twp_parameters(
                [self.minima["energy"][m] for m in key],
                [np.mean(hw[m]) for m in key],
                [rows[i]["Delta0"] for i in ids],
                [self.minima["positions"][m] for m in key],
                self.box,
                self.attrs["masses"],
            )
            methods = {rows[i]["method"] for i in ids}
            self.twp_rows.append(
                {
                    "id": len(self.twp_rows),
                    "glass": int(self.minima["glass"][m1]),
                    "method": methods.pop() if len(methods) == 1 else "mixed",
                    "minima": list(key),
                    "saddles": [rows[i]["saddle"] for i in ids],
                    "dwps": ids,
                    "E1": p["E"][0],
                    "E2": p["E"][1],
                    "E3": p["E"][2],
                    "D0": list(p["D0"]),
                    "spectrum": list(p["spectrum"]),
                    "loop_area": p["loop_area"],
                    "loop_area_particle_max": p["loop_area_particle_max"],
                    "loop_area_config": p["loop_area_config"],
                }
            )
            have.add(key)
            added += 1
        self.attrs["triangles_without_tls"] = len(skipped)
        return added

    def merge(self, other: Catalogue) -> None:
        """Append another catalogue of the same system, deduplicating minima by identity and DWPs
        by (minima pair, saddle identity): a repeated DWP keeps its first row, its ``methods``
        gains the other method and ``n_found`` counts the finds (docs/catalogue.md)."""
        if (other.attrs["N"], other.attrs["dim"]) != (self.attrs["N"], self.attrs["dim"]):
            raise InputError("cannot merge catalogues of different systems")
        for g, d in other.diameters.items():
            self.set_diameters(g, d)
        mmap = [
            self.add_minimum(R, e, f, g, json.loads(p))
            for R, e, f, g, p in zip(
                other.minima["positions"],
                other.minima["energy"],
                other.minima["max_force"],
                other.minima["glass"],
                other.minima["provenance"],
                strict=True,
            )
        ]
        smap = []
        S = other.saddles
        for i in range(len(S["energy"])):
            a = mmap[S["min_a"][i]] if S["min_a"][i] >= 0 else -1
            b = mmap[S["min_b"][i]] if S["min_b"][i] >= 0 else -1
            smap.append(
                self.add_saddle(
                    S["positions"][i],
                    S["energy"][i],
                    S["max_force"][i],
                    S["n_negative_modes"][i],
                    a,
                    b,
                    S["method"][i],
                    S["glass"][i],
                    json.loads(S["provenance"][i]),
                )
            )
        for r in other.dwp_rows:
            a, b = mmap[r["min_a"]], mmap[r["min_b"]]
            sd = r["saddle"]
            dup = self.find_dwp(a, b, S["positions"][sd], S["energy"][sd])
            if dup >= 0:  # the same saddle between the same minima, found again (by another method)
                self._count_duplicate(dup, r.get("methods", r["method"]))
                continue
            new = dict(r, id=len(self.dwp_rows), min_a=a, min_b=b, saddle=smap[sd])
            self.dwp_rows.append(new)
            self.profiles[new["id"]] = other.profiles[r["id"]]
            if r["id"] in other.profile_inputs:
                self.profile_inputs[new["id"]] = dict(other.profile_inputs[r["id"]])
            if r["id"] in other.dwp_paths:  # a stored path is copied from its file on save
                self.dwp_paths[new["id"]] = other.dwp_paths[r["id"]]
        self.find_twps()

    def summary(self) -> dict:
        d = self.dwps()
        out = {
            "file": str(self.path),
            "model": self.attrs["model"],
            "potential": self.attrs["potential"],
            "N": int(self.attrs["N"]),
            "minima": len(self.minima["energy"]),
            "saddles": len(self.saddles["energy"]),
            "dwps": len(self.dwp_rows),
            "twps": len(self.twp_rows),
            "tls": int(d["is_tls"].sum()) if len(self.dwp_rows) else 0,
            "unit_preset": self.attrs["unit_preset"],
        }
        for m in sorted(set(d["method"])) if len(self.dwp_rows) else []:
            out[f"dwps_{m}"] = int(np.sum(d["method"] == m))
        return out
