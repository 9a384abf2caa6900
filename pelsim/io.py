"""Storage and interoperability: extxyz (via ASE), LAMMPS data files, H5MD trajectories.

* extxyz: one configuration with a periodic orthorhombic cell, chemical symbols from the
  model (Ni = species 0 = A, P = species 1 = B for KA, parametrised for Ni80P20), positions
  in sigma_AA. Optional per-file ``energy`` (eps_AA) and per-atom ``forces``. Several
  configurations in one file are a trajectory (:func:`write_extxyz_trajectory`, e.g. a DWP path).
* LAMMPS data files: ``atom_style atomic`` (type = species + 1) or, for polydisperse models,
  ``atom_style charge`` with the diameter in the charge column (the layout in which the
  swap-Monte-Carlo group published their inherent structures); :func:`read_lammps_data` reads
  both, boxes not at the origin included (positions are shifted by -lo).
* Per-particle diameters (polydisperse models) travel as the per-atom ``diameter`` column of
  extxyz and the time-dependent ``/particles/all/diameter`` element of H5MD (swap Monte Carlo
  changes them).
* H5MD (HDF5 via h5py, https://www.nongnu.org/h5md/): ``/particles/all/{position,velocity,
  box/edges}`` as time-dependent (step, time, value) groups, ``species`` as a fixed dataset,
  ``/observables/*`` as time series. MDAnalysis opens the 3D files (tests/test_io.py).

Long results are written atomically (:func:`etm.io.atomic_path`, re-exported here).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np

from etm.io import atomic_path
from pelsim.config import Configuration
from pelsim.errors import InputError
from pelsim.geometry import minimum_image, wrap
from pelsim.models import load_model

__all__ = [
    "read_extxyz",
    "write_extxyz",
    "write_lammps_data",
    "read_lammps_data",
    "read_configuration",
    "H5MDWriter",
    "read_h5md",
    "atomic_path",
    "validate_configuration",
]

OVERLAP_FRACTION = 0.5  # distances below 0.5 sigma_AA count as overlapping particles
#: a coordinate further than this many box lengths from the cell is refused: wrapping it
#: into the cell would lose the digits that place the particle (at 1e308 all of them)
MAX_BOX_LENGTHS = 1000.0


def validate_configuration(conf: Configuration, what: str = "configuration") -> None:
    """Raise InputError on NaN/inf or absurd coordinates or overlapping particles.

    Absurd: more than :data:`MAX_BOX_LENGTHS` box lengths from the cell; overlapping: closer
    than 0.5 sigma_AA.
    """
    R = conf.positions
    if not np.all(np.isfinite(R)):
        raise InputError(f"{what}: coordinates contain NaN or inf")
    if not np.all(np.isfinite(conf.box)) or np.any(conf.box <= 0):
        raise InputError(f"{what}: cell lengths must be positive and finite")
    far = np.abs(R) > MAX_BOX_LENGTHS * np.asarray(conf.box)
    if np.any(far):
        i, k = np.argwhere(far)[0]
        raise InputError(
            f"{what}: coordinate {R[i, k]:g} of particle {i} lies more than {MAX_BOX_LENGTHS:g} "
            f"box lengths from the cell"
        )
    if conf.n > 1:
        from scipy.spatial import cKDTree

        Rw = wrap(R, conf.box)
        pairs = cKDTree(Rw, boxsize=conf.box).query_pairs(OVERLAP_FRACTION, output_type="ndarray")
        if len(pairs):
            i, j = pairs[0]
            d = Rw[i] - Rw[j]
            d = minimum_image(d, conf.box)
            raise InputError(
                f"{what}: particles {i} and {j} overlap (distance {np.linalg.norm(d):.3g} "
                f"< {OVERLAP_FRACTION} sigma_AA)"
            )


def read_extxyz(path, model=None) -> Configuration:
    """Read one configuration from an extxyz file (periodic orthorhombic cell, model symbols).

    The model is taken from the ``model`` argument, else the file's ``model=`` key, else ka3d
    (ka2d for files whose z column is absent/zero with ``pbc="T T F"``).
    """
    import ase.io

    p = Path(path)
    if not p.is_file():
        raise InputError(f"configuration file not found: {path}")
    try:
        atoms = ase.io.read(str(p), index=-1, format="extxyz")
    except Exception as exc:  # ASE raises many types on malformed files
        raise InputError(
            f"cannot read extxyz file {path}: {str(exc).splitlines()[0] if str(exc) else exc}"
        ) from None
    name = model or atoms.info.get("model")
    pbc = np.asarray(atoms.pbc, bool)
    if name is None:
        name = "ka2d" if pbc.tolist() == [True, True, False] else "ka3d"
    m = load_model(name)
    if not np.all(pbc[: m.dim]):
        raise InputError(f"{path}: cell must be periodic in all {m.dim} directions (pbc={pbc.tolist()})")
    cell = np.asarray(atoms.cell[:])
    if np.abs(cell - np.diag(np.diag(cell))).max() > 1e-10:
        raise InputError(f"{path}: only orthorhombic (cubic) cells are supported")
    box = np.diag(cell)[: m.dim].copy()
    if np.any(box <= 0) or not np.all(np.isfinite(box)):
        raise InputError(f"{path}: cell lengths must be positive")
    species = np.array([m.species_index(s) for s in atoms.get_chemical_symbols()], dtype=np.int32)
    R_all = np.asarray(atoms.positions, float)
    if m.dim < 3 and np.any(R_all[:, m.dim :] != 0):
        raise InputError(
            f"{path}: non-zero z coordinates, but model {m.name} is {m.dim}D (a 3D configuration; "
            "its z would be dropped)"
        )
    R = R_all[:, : m.dim].copy()
    diam = atoms.arrays.get("diameter")
    conf = Configuration(
        R,
        species,
        box,
        m.name,
        {k: v for k, v in atoms.info.items() if isinstance(v, int | float | str)},
        None if diam is None else np.asarray(diam, float).reshape(-1),
    )
    _check_diameters(conf, m, str(path))
    validate_configuration(conf, str(path))
    return conf


def _check_diameters(conf: Configuration, model, what: str) -> None:
    """A polydisperse model needs positive finite diameters; a species model takes none."""
    from pelsim.models import PolydisperseModel

    if isinstance(model, PolydisperseModel):
        if conf.diameters is None:
            raise InputError(f"{what}: model {model.name} needs per-particle diameters, the file has none")
        if not np.all(np.isfinite(conf.diameters)) or np.any(conf.diameters <= 0):
            raise InputError(f"{what}: diameters must be positive and finite")


def _to_atoms(conf: Configuration, energy=None, forces=None):
    from ase import Atoms
    from ase.calculators.singlepoint import SinglePointCalculator

    m = load_model(conf.model)
    d = conf.dim
    pos = np.zeros((conf.n, 3))
    pos[:, :d] = conf.positions
    cell = np.zeros(3)
    cell[:d] = conf.box
    pbc = [True] * d + [False] * (3 - d)
    if d == 2:
        cell[2] = 1.0
    atoms = Atoms(symbols=[m.symbols[s] for s in conf.species], positions=pos, cell=np.diag(cell), pbc=pbc)
    atoms.info["model"] = m.name
    if conf.diameters is not None:
        atoms.new_array("diameter", np.asarray(conf.diameters, float))
    for k, v in conf.info.items():
        if isinstance(v, int | float | str) and k not in ("energy", "free_energy"):
            atoms.info[k] = v
    if energy is not None or forces is not None:
        F = None
        if forces is not None:
            F = np.zeros((conf.n, 3))
            F[:, :d] = np.asarray(forces)
        atoms.calc = SinglePointCalculator(atoms, energy=None if energy is None else float(energy), forces=F)
    return atoms


def write_extxyz(path, conf: Configuration, energy=None, forces=None) -> None:
    """Write conf (and optionally its energy in eps_AA and forces) as extxyz, atomically.

    Written here rather than by ``ase.io.write`` because ASE hard-codes ``%16.8f`` for
    coordinates: 1e-8 sigma of rounding gives max|F| ~ 1e-6 at an IS minimised to 1e-10.
    We write ``%.17g`` (exact float64 round trip); ASE, OVITO and :func:`read_extxyz` read it.
    """
    with atomic_path(path, ".extxyz") as tmp, open(tmp, "w") as fh:
        fh.write("\n".join(_extxyz_frame(conf, energy, forces)) + "\n")


def write_extxyz_trajectory(path, confs, energies=None) -> None:
    """Write configurations as one multi-frame extxyz file (a trajectory), atomically.

    Each frame as :func:`write_extxyz` writes one (``%.17g``, model symbols, periodic cell,
    ``energy=`` when ``energies`` is given, numeric and string ``conf.info`` entries in the
    comment line); ``ase.io.read(path, index=":")`` returns the frames and OVITO opens the file
    as an animation.
    """
    confs = list(confs)
    if energies is not None and len(energies) != len(confs):
        raise InputError(f"{len(energies)} energies for {len(confs)} frames")
    lines = []
    for k, conf in enumerate(confs):
        lines += _extxyz_frame(conf, None if energies is None else energies[k])
    with atomic_path(path, ".extxyz") as tmp, open(tmp, "w") as fh:
        fh.write("\n".join(lines) + "\n")


def _extxyz_frame(conf: Configuration, energy=None, forces=None) -> list[str]:
    """The lines of one extxyz frame (count, comment line, one line per particle)."""
    m = load_model(conf.model)
    d = conf.dim
    pos = np.zeros((conf.n, 3))
    pos[:, :d] = conf.positions
    cell = np.zeros(3)
    cell[:d] = conf.box
    if d == 2:
        cell[2] = 1.0
    pbc = " ".join(["T"] * d + ["F"] * (3 - d))
    props = (
        "species:S:1:pos:R:3"
        + (":diameter:R:1" if conf.diameters is not None else "")
        + (":forces:R:3" if forces is not None else "")
    )
    head = [
        f'Lattice="{cell[0]:.17g} 0 0 0 {cell[1]:.17g} 0 0 0 {cell[2]:.17g}"',
        f"Properties={props}",
        f"model={m.name}",
    ]
    if energy is not None:
        head.append(f"energy={float(energy):.17g}")
    for k, v in conf.info.items():
        if isinstance(v, int | float) and not isinstance(v, bool) and k not in ("energy", "model"):
            head.append(f"{k}={v!r}")
        elif isinstance(v, str) and k != "model" and k.isidentifier():
            head.append(f'{k}="{v}"')
    head.append(f'pbc="{pbc}"')
    F = None
    if forces is not None:
        F = np.zeros((conf.n, 3))
        F[:, :d] = np.asarray(forces)
    lines = [str(conf.n), " ".join(head)]
    for a in range(conf.n):
        row = f"{m.symbols[conf.species[a]]} " + " ".join(f"{x:.17g}" for x in pos[a])
        if conf.diameters is not None:
            row += f" {conf.diameters[a]:.17g}"
        if F is not None:
            row += " " + " ".join(f"{x:.17g}" for x in F[a])
        lines.append(row)
    return lines


def write_lammps_data(path, conf: Configuration, origin=0.0) -> None:
    """Write conf as a LAMMPS data file (types 1..S = species + 1, masses).

    atom_style atomic, or atom_style charge with the diameter in the charge column when the
    configuration carries diameters. The box spans [origin, origin + L) in each direction.
    """
    m = load_model(conf.model)
    lo = np.broadcast_to(np.asarray(origin, float), (3,))
    if conf.dim != 3:
        raise InputError("LAMMPS data export supports 3D configurations only")
    R = np.mod(conf.positions, conf.box) + lo
    charge = conf.diameters is not None
    lines = [
        f"# pelsim {m.name} configuration (LJ units of the A-A pair)",
        "",
        f"{conf.n} atoms",
        f"{m.n_species} atom types",
        "",
    ]
    for k, ax in enumerate("xyz"):
        lines.append(f"{lo[k]:.17g} {lo[k] + conf.box[k]:.17g} {ax}lo {ax}hi")
    lines += ["", "Masses", ""] + [
        f"{t + 1} {mass:.17g}  # {m.symbols[t]}" for t, mass in enumerate(m.masses)
    ]
    if charge:
        lines += ["", "Atoms # charge", ""]
        lines += [
            f"{i + 1} {s + 1} {q:.17g} {x:.17g} {y:.17g} {z:.17g}"
            for i, (s, q, (x, y, z)) in enumerate(zip(conf.species, conf.diameters, R, strict=True))
        ]
    else:
        lines += ["", "Atoms # atomic", ""]
        lines += [
            f"{i + 1} {s + 1} {x:.17g} {y:.17g} {z:.17g}"
            for i, (s, (x, y, z)) in enumerate(zip(conf.species, R, strict=True))
        ]
    with atomic_path(path, ".data") as tmp, open(tmp, "w") as fh:
        fh.write("\n".join(lines) + "\n")


_LAMMPS_SECTIONS = ("Atoms", "Velocities", "Masses", "Bonds", "Angles", "Pair Coeffs", "Ellipsoids")


def read_lammps_data(path, model=None) -> Configuration:
    """Read an orthorhombic LAMMPS data file (atom_style atomic or charge) as a Configuration.

    The style comes from the ``Atoms # style`` comment, else from the number of columns (5 or 8:
    ``atomic``, ``id type x y z [ix iy iz]``; 6 or 9: ``charge``, ``id type q x y z [ix iy iz]``,
    the diameter in the charge column), else from the model (charge for polydisperse models).
    Atoms are ordered by id; positions are shifted by the box's lower corner (xlo, ylo, zlo)
    into [0, L); image flags are ignored (minimum image).
    The model defaults to ka3d (atomic) or polydisperse-ss (charge).
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"configuration file not found: {path}")
    lines = p.read_text().splitlines()
    n = None
    lo, hi = np.zeros(3), np.zeros(3)
    got = set()
    k = 1  # the first line is a comment
    while k < len(lines):
        t = lines[k].split("#")[0].split()
        if t and t[0] in _LAMMPS_SECTIONS or lines[k].strip().startswith("Atoms"):
            break
        if len(t) >= 2 and t[1] == "atoms":
            n = int(t[0])
        for a, ax in enumerate("xyz"):
            if len(t) >= 4 and t[2:4] == [f"{ax}lo", f"{ax}hi"]:
                lo[a], hi[a] = float(t[0]), float(t[1])
                got.add(ax)
        if len(t) >= 4 and t[3:6] == ["xy", "xz", "yz"]:
            raise InputError(f"{path}: triclinic boxes are not supported")
        k += 1
    if n is None or got != set("xyz"):
        raise InputError(f"{path}: not a LAMMPS data file (need 'N atoms' and x/y/z lo hi lines)")
    starts = [i for i, line in enumerate(lines) if line.split("#")[0].strip() == "Atoms"]
    if not starts:
        raise InputError(f"{path}: no Atoms section")
    rows = []
    for line in lines[starts[0] + 1 :]:
        t = line.split("#")[0].split()
        if not t:
            if rows:
                break
            continue
        if not t[0].lstrip("-").isdigit():
            break
        rows.append(t)
    if len(rows) != n:
        raise InputError(f"{path}: header says {n} atoms, Atoms section has {len(rows)}")
    head = lines[starts[0]]
    comment = head.split("#", 1)[1].split() if "#" in head else []
    style = comment[0] if comment else {5: "atomic", 8: "atomic", 6: "charge", 9: "charge"}.get(len(rows[0]))
    if model is None:
        model = "polydisperse-ss" if style == "charge" else "ka3d"
    m = load_model(model)
    from pelsim.models import PolydisperseModel

    if style is None:
        style = "charge" if isinstance(m, PolydisperseModel) else "atomic"
    if style not in ("atomic", "charge"):
        raise InputError(f"{path}: atom_style {style!r} not supported (atomic or charge)")
    try:
        a = np.array([[float(x) for x in r[: 6 if style == "charge" else 5]] for r in rows])
    except ValueError:
        raise InputError(f"{path}: non-numeric entries in the Atoms section") from None
    if a.shape[1] != (6 if style == "charge" else 5):
        raise InputError(f"{path}: too few columns for atom_style {style}")
    a = a[np.argsort(a[:, 0], kind="stable")]
    species = a[:, 1].astype(np.int32) - 1
    if species.min() < 0 or species.max() >= m.n_species:
        raise InputError(f"{path}: atom types outside 1..{m.n_species} of model {m.name}")
    box = hi - lo
    if np.any(box <= 0):
        raise InputError(f"{path}: box lengths must be positive")
    R = np.mod(a[:, -3:] - lo, box)
    R = np.where(R >= box, 0.0, R)
    diam = a[:, 2].copy() if style == "charge" else None
    if diam is not None and not isinstance(m, PolydisperseModel):
        diam = None  # charges of a species model are not diameters
    conf = Configuration(R, species, box, m.name, {"origin": " ".join(f"{x:.17g}" for x in lo)}, diam)
    _check_diameters(conf, m, str(path))
    validate_configuration(conf, str(path))
    return conf


def read_configuration(path, model=None) -> Configuration:
    """Read a configuration by file type: extxyz (.extxyz/.xyz), H5MD (.h5/.h5md, last frame),
    otherwise a LAMMPS data file."""
    suffix = Path(path).suffix.lower()
    if suffix in (".extxyz", ".xyz"):
        return read_extxyz(path, model)
    if suffix in (".h5", ".h5md", ".hdf5"):
        conf = read_h5md(path)
        if model is not None:
            conf.model = load_model(model).name
        _check_diameters(conf, load_model(conf.model), str(path))
        return conf
    return read_lammps_data(path, model)


class H5MDWriter:
    """Append frames (positions, optional velocities and observables) to an H5MD file.

    Written to a temporary file of :func:`etm.io.atomic_path` and moved onto ``path`` by
    :meth:`close` (atomic; removed when the ``with`` block raises). Use as a context manager.
    Positions are stored unwrapped-as-given in sigma_AA, time in LJ units.
    With ``diameters`` (polydisperse models) every frame also records the diameters, a
    time-dependent element (swap Monte Carlo exchanges them): the latest ones given to
    :meth:`append`, else the initial ones.
    """

    def __init__(self, path, species, box, model="ka3d", author="pelsim", dt=1.0, attrs=None, diameters=None):
        import h5py

        from pelsim import __version__

        self.path = Path(path)
        self._atomic = contextlib.ExitStack()
        self.tmp = self._atomic.enter_context(atomic_path(self.path))
        self.f = h5py.File(self.tmp, "w")
        self.dt = float(dt)
        box = np.asarray(box, float).reshape(-1)
        self.dim = box.size
        self.n = len(species)
        h = self.f.create_group("h5md")
        h.attrs["version"] = np.array([1, 1])
        h.create_group("author").attrs["name"] = author
        c = h.create_group("creator")
        c.attrs["name"], c.attrs["version"] = "pelsim", __version__
        p = self.f.create_group("particles/all")
        p.create_dataset("species", data=np.asarray(species, np.int32))
        bg = p.create_group("box")
        bg.attrs["dimension"] = self.dim
        bg.attrs["boundary"] = np.array([b"periodic"] * self.dim)
        self._groups = {}
        self.box = box
        self._tdep(p, "box/edges", (self.dim,), "length")
        self._tdep(p, "position", (self.n, self.dim), "length")
        self.diameters = None if diameters is None else np.asarray(diameters, float).reshape(self.n)
        if self.diameters is not None:
            self._tdep(p, "diameter", (self.n,), "length")
        par = self.f.create_group("parameters")
        par.attrs["model"] = str(model)
        par.attrs["units"] = "LJ reduced units of the A-A pair: length sigma_AA, time tau, energy eps_AA"
        for k, v in (attrs or {}).items():
            par.attrs[k] = v
        self.frames = 0

    def _tdep(self, parent, name, shape, unit=None, dtype=np.float64):
        g = parent.create_group(name)
        g.create_dataset("step", shape=(0,), maxshape=(None,), dtype=np.int64)
        g.create_dataset("time", shape=(0,), maxshape=(None,), dtype=np.float64)
        g.create_dataset("value", shape=(0, *shape), maxshape=(None, *shape), dtype=dtype, chunks=(1, *shape))
        # LJ units (sigma_AA, tau) are not H5MD/MDAnalysis unit strings: they are recorded in
        # /parameters.attrs["units"] instead of per-dataset "unit" attributes
        self._groups[name] = g
        return g

    @staticmethod
    def _append(g, step, time, value):
        k = g["step"].shape[0]
        for key in ("step", "time", "value"):
            g[key].resize(k + 1, axis=0)
        g["step"][k], g["time"][k], g["value"][k] = step, time, value

    def append(
        self,
        positions,
        step: int,
        velocities=None,
        observables: dict | None = None,
        time=None,
        diameters=None,
    ):
        time = step * self.dt if time is None else time
        self._append(self._groups["box/edges"], step, time, self.box)
        self._append(self._groups["position"], step, time, np.asarray(positions, float))
        if diameters is not None:
            if self.diameters is None:
                raise InputError("H5MDWriter: diameters given to append but not to the writer")
            self.diameters = np.asarray(diameters, float).reshape(self.n)
        if self.diameters is not None:
            self._append(self._groups["diameter"], step, time, self.diameters)
        if velocities is not None:
            if "velocity" not in self._groups:
                self._tdep(self.f["particles/all"], "velocity", (self.n, self.dim), "velocity")
            self._append(self._groups["velocity"], step, time, np.asarray(velocities, float))
        for k, v in (observables or {}).items():
            name = f"obs/{k}"
            if name not in self._groups:
                self._groups[name] = self._tdep(self.f.require_group("observables"), k, np.shape(v))
                self._groups[name] = self.f[f"observables/{k}"]
            self._append(self._groups[name], step, time, v)
        self.frames += 1

    def close(self):
        if self.f:
            self.f.close()
            self.f = None
            self._atomic.close()  # moves the temporary file onto self.path

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.f.close()
            self.f = None
            self._atomic.__exit__(exc_type, exc, tb)  # removes the temporary file
        return False


def read_h5md(path, frame: int = -1) -> Configuration:
    """Read one frame of a pelsim H5MD file as a Configuration (frame -1 = last)."""
    import h5py

    p = Path(path)
    if not p.is_file():
        raise InputError(f"H5MD file not found: {path}")
    with h5py.File(p, "r") as f:
        try:
            g = f["particles/all"]
            R = g["position/value"][frame]
            box = g["box/edges/value"][frame]
            species = g["species"][()]
            model = str(f["parameters"].attrs.get("model", "ka3d"))
            step = int(g["position/step"][frame])
            diam = g["diameter/value"][frame] if "diameter" in g else None
        except (KeyError, IndexError) as exc:
            raise InputError(f"{path}: not a pelsim H5MD file or no such frame ({exc})") from None
    return Configuration(R, species, box, model, {"step": step}, diam)


def h5md_frames(path) -> int:
    import h5py

    with h5py.File(path, "r") as f:
        return int(f["particles/all/position/value"].shape[0])
