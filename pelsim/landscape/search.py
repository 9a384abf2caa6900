"""Searches for DWPs/TWPs in one glass and the per-glass driver that fills a catalogue.

Three routes, each tagged in the catalogue (``method``):

- ``is_pair`` (Heuer; Khomenko et al.): MD at low T from the glass, quench every
  ``interval`` steps, record transitions between distinct consecutive inherent
  structures, and connect each pair by CI-NEB + saddle refinement (connect.py).
  The NEBs of all pairs of a glass are first relaxed together (``neb_batch``).
- ``single_ended``: from each IS, hybrid eigenvector following up its softest
  Hessian modes in both directions (ART-like, saddle.py); each converged saddle is
  verified (+/- along its negative mode, minimise) and its two minima connected.
- ``intra_basin``: valley exploration of the relaxed landscape along the soft
  modes of the IS (valleys.py).

Every DWP gets the tunneling parameters of seed Eqs. 3-4 through the catalogue.
Energies: for N <= ``PAIR_LIST_MIN_N`` the all-pairs energy (exact for any
displacement); above, a fixed pair list built at the glass IS with skin 1.5
sigma (valid while no particle moves more than 0.75 sigma). A connection (``connect``) whose band
leaves that region continues on a list re-centred on the band (:func:`recentring`, at most
``MAX_RECENTRES_PER_PAIR`` times per IS pair); other steps violating it are dropped and counted in
``stats['dropped_invalid']``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import numpy as np

from pelsim.errors import InputError
from pelsim.geometry import minimum_image
from pelsim.landscape.catalogue import Catalogue
from pelsim.landscape.connect import (
    RECENTRE_STATS,
    ElementaryStep,
    connect,
    relax,
    step_from_saddle,
    verify_saddle,
)
from pelsim.landscape.identity import same_minimum
from pelsim.landscape.neb import NEBParams
from pelsim.landscape.saddle import single_ended_search
from pelsim.landscape.steps import SEARCH_NEB, add_checked_step, soft_modes

PAIR_LIST_MIN_N = 400
PAIR_LIST_SKIN = 1.5

# NEBs per IS-pair connection (all recursion levels): bounds a pair whose bands keep splitting
MAX_NEBS_PER_PAIR = 6
# Re-centring of the pair list on a band that leaves it (connect's ``recentre`` hook, see
# :func:`recentring`): the reference is the centre of each particle's extent over the band and the
# skin leaves at least RECENTRE_MARGIN sigma of room beyond the band's spread, up to
# RECENTRE_MAX_SKIN (then the branch is given up). Each re-centring compiles the NEB, minimiser and
# saddle programs again for the new energy; MAX_RECENTRES_PER_PAIR bounds that cost per IS pair.
RECENTRE_MARGIN = 0.25
RECENTRE_MAX_SKIN = 2.0
MAX_RECENTRES_PER_PAIR = 2


def landscape_energy(
    conf, kind: str = "smooth", R_ref=None, skin: float = PAIR_LIST_SKIN, min_columns: int = 0
):
    """(energy, is_valid) for landscape work on ``conf`` (see module docstring).

    ``R_ref`` (default: conf's positions) is the pair list's reference and need not be a physical
    configuration; ``skin`` its skin (sigma): the energy is exact while every particle stays
    within skin/2 of its reference position (``is_valid``; None for the all-pairs energy).
    Both are pytrees of their data (:mod:`pelsim.system`), with the analytic pair Hessian
    (:func:`pelsim.pair_hessian.get`) used by Hessians, normal modes, the dimer and saddle
    refinement. ``min_columns`` pads the neighbour matrix (several glasses share one bucket).
    """
    from pelsim.potentials import energy_fn

    model = _model_of(conf, kind)
    # all pairs also when the box is too small for a pair list with this skin (3D KA, N < ~615)
    too_small = 0.5 * float(np.min(conf.box)) <= model.rc_max + skin
    if conf.n <= PAIR_LIST_MIN_N or too_small:
        if _polydisperse(model):
            from pelsim import polydisperse

            return polydisperse.energy_fn(model, conf.box, conf.diameters), None
        return energy_fn(model, conf.box, conf.species, kind), None
    return pair_list_energy(conf, kind, conf.positions if R_ref is None else R_ref, skin, min_columns)


def pair_list_energy(conf, kind: str, R_ref, skin: float, min_columns: int = 0):
    """(energy, is_valid) on a fixed pair list of ``conf``'s system built at ``R_ref`` with ``skin``
    (whatever N); see :func:`landscape_energy`. Polydisperse models (per-particle diameters,
    ``conf.diameters``) get :func:`pelsim.polydisperse.fixed_pair_energy`: per-pair cutoffs
    1.25 sigma_ij, the same skin and validity rule."""
    model = _model_of(conf, kind)
    if _polydisperse(model):
        from pelsim import polydisperse

        return polydisperse.fixed_pair_energy(model, conf.box, conf.diameters, R_ref, skin, min_columns)
    from pelsim.potentials import fixed_pair_energy

    return fixed_pair_energy(model, conf.box, conf.species, R_ref, skin, kind, min_columns)


def _polydisperse(model) -> bool:
    from pelsim.models import PolydisperseModel

    return isinstance(model, PolydisperseModel)


def _model_of(conf, kind: str):
    """``conf``'s model; a polydisperse one only with the smooth potential (its v, v', v'' vanish
    at the cutoff by construction: there is no shifted variant)."""
    from pelsim.models import load_model

    model = load_model(conf.model)
    if _polydisperse(model):
        from pelsim.polydisperse import require_smooth

        require_smooth(model, kind)
    return model


def band_reference(images, box) -> tuple[np.ndarray, float]:
    """(centre (N, d), radius): per particle the centre of its extent (bounding box) over the
    configurations ``images`` (P, N, d), unwrapped by minimum image (``box``; None: free space)
    relative to image 0, and the
    largest distance of any particle of any image from its centre (sigma).

    A pair list built at the centre with skin >= 2 * radius is exact on every image (validity only
    needs each particle within skin/2 of its reference position, physical or not)."""
    X = np.asarray(images, dtype=float)
    d = X - X[0]
    if box is not None:
        box = np.asarray(box, dtype=float).reshape(-1)
        d = minimum_image(d, box)
    U = X[0] + d
    centre = 0.5 * (U.min(axis=0) + U.max(axis=0))
    radius = float(np.sqrt(np.max(np.sum((U - centre) ** 2, axis=-1))))
    return centre, radius


def recentring(
    conf,
    kind: str = "smooth",
    margin: float = RECENTRE_MARGIN,
    max_skin: float = RECENTRE_MAX_SKIN,
    skin: float = PAIR_LIST_SKIN,
):
    """``connect``'s re-centring hook for the pair-list energies of ``conf``'s system.

    ``fn(images)`` returns the (energy, is_valid) of :func:`pair_list_energy` built at the
    :func:`band_reference` centre of ``images`` with skin max(``skin``, 2 (radius + ``margin``)):
    exact on every image, with at least ``margin`` sigma of room for each particle to move on; or
    None (give up) when that skin would exceed ``max_skin`` or the box allows (cutoff + skin must
    stay below half the box side). ``fn.skins`` records the skins built.
    """
    from pelsim.models import load_model

    if not (margin >= 0 and skin > 0 and max_skin >= skin):
        raise InputError(
            f"recentring needs margin >= 0 and 0 < skin <= max_skin, got margin={margin}, "
            f"skin={skin}, max_skin={max_skin}"
        )
    cap = min(max_skin, 0.5 * float(np.min(conf.box)) - load_model(conf.model).rc_max - 1e-6)

    def fn(images):
        centre, radius = band_reference(images, conf.box)
        need = max(skin, 2.0 * (radius + margin))
        if need > cap:
            return None
        fn.skins.append(need)
        return pair_list_energy(conf, kind, centre, need)

    fn.skins = []
    return fn


def single_ended_steps(
    energy,
    R_is,
    n_modes: int = 4,
    push: float = 0.05,
    box=None,
    params: NEBParams | None = None,
    n_images: int = 12,
) -> list[ElementaryStep]:
    """Saddles up the ``n_modes`` softest modes of the IS (both signs), verified and connected."""
    R_is = np.asarray(R_is, float)
    E_is = float(energy(R_is))
    lam, vec = soft_modes(energy, R_is, n_modes)
    steps: list[ElementaryStep] = []
    seen: list[float] = []
    for k in range(min(n_modes, vec.shape[1])):
        for sign in (1.0, -1.0):
            s = single_ended_search(energy, R_is, sign * vec[:, k].reshape(R_is.shape), push=push)
            if not s.converged or s.n_negative != 1 or s.energy <= E_is:
                continue
            if any(abs(s.energy - e) < 1e-8 for e in seen):
                continue
            seen.append(s.energy)
            a, b = verify_saddle(energy, s)
            if same_minimum(a.energy, a.R, b.energy, b.R, box):
                continue
            if same_minimum(b.energy, b.R, E_is, R_is, box):  # orient from the IS
                a, b = b, a
            steps.append(step_from_saddle(energy, s, a, b, n_images, params, box))
    return steps


def is_pair_candidates(
    conf, T: float, n_samples: int, interval: int, kind: str = "smooth", seed: int = 0, fmax: float = 1e-10
):
    """Quenched MD trajectory at T: list of (R, E) of consecutive *distinct* inherent structures."""
    from pelsim.prepare import quench, sample

    snaps = sample(conf, T, n_samples, interval, kind=kind, seed=seed, progress=False)
    out = []
    for c in snaps:
        q, res = quench(c, kind=kind, fmax=fmax)
        if out and same_minimum(out[-1][1], out[-1][0], res.energy, q.positions, conf.box):
            continue
        out.append((q.positions, float(res.energy)))
    return out


def is_pair_plan(minima, box=None, close_max_displacement: float = 0.0):
    """Which pairs of a quenched trajectory to connect: (distinct minima, [(i, j, route)]).

    ``minima`` is the trajectory's list of (R, E) in visiting order (repeats allowed).
    Each is mapped to a distinct minimum by identity (identity.py), so a transition seen
    twice (A -> B -> A -> B) is connected once. Routes: ``"transition"`` for consecutive
    distinct ISs of the trajectory; ``"closing"`` for any other pair of distinct visited
    ISs whose largest particle displacement is <= ``close_max_displacement`` (sigma; 0 =
    off). Closing pairs turn a path A - B - C into a triangle (a TWP candidate): one MD
    trajectory rarely jumps C -> A directly, but two ISs that differ by one local
    rearrangement are usually one saddle apart.
    """
    from pelsim.landscape.identity import max_displacement

    uniq: list = []
    seq: list[int] = []
    for R, E in minima:
        k = next((i for i, (r, e) in enumerate(uniq) if same_minimum(e, r, E, R, box)), -1)
        if k < 0:
            uniq.append((np.asarray(R, float), float(E)))
            k = len(uniq) - 1
        seq.append(k)
    pairs, seen = [], set()
    for a, b in zip(seq[:-1], seq[1:], strict=True):
        key = (min(a, b), max(a, b))
        if a != b and key not in seen:
            seen.add(key)
            pairs.append((a, b, "transition"))
    if close_max_displacement > 0:
        for i in range(len(uniq)):
            for j in range(i + 1, len(uniq)):
                close = max_displacement(uniq[i][0], uniq[j][0], box) <= close_max_displacement
                if (i, j) not in seen and close:
                    seen.add((i, j))
                    pairs.append((i, j, "closing"))
    return uniq, pairs


@dataclass
class GlassPlan:
    """What the searches of one glass start from: its IS (``IS``, ``result``), the landscape
    energy and validity check built there, and the IS pairs to connect (:func:`is_pair_plan`)."""

    IS: object
    result: object
    energy: object
    is_valid: object
    uniq: list
    pairs: list


def plan_glass(
    conf,
    kind: str = "smooth",
    T: float = 0.2,
    n_samples: int = 0,
    interval: int = 200,
    seed: int = 0,
    close_max_displacement: float = 0.0,
    min_columns: int = 0,
) -> GlassPlan:
    """Quench ``conf`` to its IS, build the landscape energy there (neighbour matrix at least
    ``min_columns`` wide) and, with ``n_samples`` > 0, find the IS pairs to connect (MD at T)."""
    from pelsim.prepare import quench

    IS, res = quench(conf, kind=kind)
    energy, is_valid = landscape_energy(IS, kind, min_columns=min_columns)
    uniq, pairs = [], []
    if n_samples > 0:
        cands = is_pair_candidates(IS, T, n_samples, interval, kind, seed)
        uniq, pairs = is_pair_plan([(IS.positions, res.energy)] + cands, conf.box, close_max_displacement)
    return GlassPlan(IS, res, energy, is_valid, uniq, pairs)


def first_bands_of(plans, n_images, params, batch: int = 1, devices: int = 1) -> list[list]:
    """The first NEB band of every IS pair of every plan, relaxed in ONE
    :func:`pelsim.landscape.neb.neb_many` call (one energy per band: the bands of several glasses
    share the batch slots and the compiled program). Returns one list of bands per plan."""
    from pelsim.landscape.neb import neb_many, periodic_displacement

    jobs = [(g, i, j) for g, p in enumerate(plans) for i, j, _ in p.pairs]
    if not jobs:
        return [[] for _ in plans]
    boxes = {tuple(np.asarray(p.IS.box, float).ravel()) for p in plans}
    if len(boxes) > 1:
        raise InputError("search_glasses: the glasses of one call must have the same box")
    bands = neb_many(
        [plans[g].energy for g, _, _ in jobs],
        np.stack([plans[g].uniq[i][0] for g, i, _ in jobs]),
        np.stack([plans[g].uniq[j][0] for g, _, j in jobs]),
        n_images,
        params,
        periodic_displacement(plans[0].IS.box),
        is_valid=[plans[g].is_valid for g, _, _ in jobs],
        batch=batch,
        devices=devices,
    )
    out: list[list] = [[] for _ in plans]
    for (g, _, _), b in zip(jobs, bands, strict=True):
        out[g].append(b)
    return out


def search_glasses(confs, out=None, glass: int = 0, seeds=None, progress: bool = False, **kw):
    """:func:`search_glass` on several glasses of one system size in one process, into one catalogue.

    The glasses are planned first (:func:`plan_glass`: quench, landscape energy, IS pairs), their
    pair lists padded to one neighbour-matrix width so that every glass's energy has the same
    kernel; the first NEB bands of all IS pairs of all glasses run in one
    :func:`pelsim.landscape.neb.neb_many` call (``neb_batch`` slots per device), then each glass
    is searched with the programs the first one compiled (only data changes). Glass k is catalogued
    as ``glass + k`` with seed ``seeds[k]`` (default ``kw['seed'] + k``). Returns (catalogue, [stats]).
    """
    from tqdm.auto import tqdm

    confs = list(confs)
    if not confs:
        raise InputError("search_glasses needs at least one glass")
    if len({c.n for c in confs}) > 1:
        raise InputError(f"search_glasses: the glasses differ in N ({sorted({c.n for c in confs})})")
    seed0 = int(kw.pop("seed", 0))
    seeds = [seed0 + k for k in range(len(confs))] if seeds is None else list(seeds)
    kind = kw.get("kind", "smooth")
    args = dict(
        T=kw.get("T", 0.2),
        n_samples=kw.get("n_samples", 0),
        interval=kw.get("interval", 200),
        close_max_displacement=kw.get("close_max_displacement", 0.0),
    )
    plans = [plan_glass(c, kind, seed=s, **args) for c, s in zip(confs, seeds, strict=True)]
    cols = [p.energy.kernel.columns for p in plans if hasattr(p.energy.kernel, "columns")]
    if cols and len(set(cols)) > 1:  # one bucket for all: rebuild the narrower lists wider
        for p in plans:
            p.energy, p.is_valid = landscape_energy(p.IS, kind, min_columns=max(cols))
    firsts = first_bands_of(
        plans, kw.get("n_images", 12), SEARCH_NEB, kw.get("neb_batch", 1), kw.get("neb_devices", 1)
    )
    catalogue = kw.pop("catalogue", None)
    all_stats = []
    for k, (c, p, s) in enumerate(
        tqdm(list(zip(confs, plans, seeds, strict=True)), disable=not progress, desc="glasses")
    ):
        catalogue, st = search_glass(
            c, None, glass=glass + k, seed=s, catalogue=catalogue, plan=p, first_bands=firsts[k], **kw
        )
        all_stats.append(st)
    if out:
        catalogue.save(out)
    return catalogue, all_stats


def catalogue_for(conf, kind: str, unit_preset: str, tls_threshold_K: float, out=None) -> Catalogue:
    """A catalogue of ``conf``'s system (model, N, box, species, masses) in a unit preset: the file
    ``out`` opened for appending, or one in memory."""
    from pelsim.models import load_model

    model = load_model(conf.model)
    attrs = dict(
        model=model.name,
        potential=kind,
        N=conf.n,
        dim=conf.dim,
        box=conf.box,
        species=conf.species,
        masses=np.asarray(model.masses)[conf.species],
        unit_preset=unit_preset,
        tls_threshold_K=tls_threshold_K,
    )
    return Catalogue.open(out, "a", **attrs) if out else Catalogue(None, **attrs)


def search_glass(
    conf,
    out=None,
    kind: str = "smooth",
    glass: int = 0,
    seed: int = 0,
    T: float = 0.2,
    n_samples: int = 0,
    interval: int = 200,
    n_modes: int = 4,
    valley_modes: int = 0,
    n_images: int = 12,
    catalogue: Catalogue | None = None,
    unit_preset: str = "argon",
    tls_threshold_K: float = 1.0,
    progress: bool = False,
    close_max_displacement: float = 0.0,
    valley_dim: int = 1,
    valley_q_max: float = 1.0,
    valley_points: int = 11,
    valley_basins: int = 1,
    explore: dict | None = None,
    neb_batch: int = 1,
    neb_devices: int = 1,
    plan: GlassPlan | None = None,
    first_bands: list | None = None,
):
    """Run the searches on one glass configuration and add the results to a catalogue.

    n_samples > 0 enables IS-pair discovery (MD at T, quench every ``interval`` steps):
    the glass IS and the quenched trajectory are planned by :func:`is_pair_plan`
    (transitions deduplicated; with ``close_max_displacement`` > 0 also the closing
    pairs that make triangles). n_modes > 0 the single-ended searches from the glass IS.
    valley_modes > 0 the intra-basin exploration (valleys.py): ``valley_dim`` = 1 maps
    the relaxed profile along each of ``valley_modes`` soft modes, 2 the relaxed map
    over the plane of the two softest (``valley_points`` per axis, |q| <= ``valley_q_max``),
    breadth-first over ``valley_basins`` basins (the IS's, then those of the valley minima it
    reaches: :func:`pelsim.landscape.valleys.valley_walk`). Every valley minimum is connected to
    its start, and two valley minima that are elementary neighbours of one start to each other,
    so three valleys pairwise joined through three saddles form a TWP tagged ``intra_basin``.
    ``explore`` (a dict of keyword arguments of
    :func:`pelsim.landscape.explore.explore_neighbourhood`, e.g. budgets) runs the breadth-first
    neighbourhood exploration from the glass IS (methods ``explore`` and ``explore_closing``).
    ``neb_batch``/``neb_devices``: the first NEB bands of all IS pairs are relaxed together by
    :func:`pelsim.landscape.neb.neb_many` with that many slots per device on that many JAX devices
    (GPUs; on a CPU each step is compute-bound, so 1 and 1, the default, unless host devices were
    configured; batched slots round differently, which may change a band's step count).
    ``plan`` (:func:`plan_glass`) and ``first_bands`` (the first NEB band of each of its IS pairs)
    are given by :func:`search_glasses`, which plans several glasses and relaxes the first bands
    of all their IS pairs in one :func:`pelsim.landscape.neb.neb_many` call.
    Returns (catalogue, stats).
    """
    if close_max_displacement < 0:
        raise InputError(f"close_max_displacement must be >= 0 sigma, got {close_max_displacement}")
    if valley_dim not in (1, 2):
        raise InputError(f"valley_dim must be 1 or 2, got {valley_dim}")
    if valley_points < 3 or valley_points % 2 == 0:
        raise InputError(f"valley_points must be odd and >= 3, got {valley_points}")
    if not valley_q_max > 0:
        raise InputError(f"valley_q_max must be > 0, got {valley_q_max}")
    if valley_basins < 1:
        raise InputError(f"valley_basins must be >= 1, got {valley_basins}")
    from pelsim.landscape.valleys import valley_walk

    t0 = time.perf_counter()
    if catalogue is None:
        catalogue = catalogue_for(conf, kind, unit_preset, tls_threshold_K, out)
    if catalogue.attrs["N"] != conf.n:
        raise InputError(f"catalogue holds N={catalogue.attrs['N']} particles, glass has {conf.n}")
    if plan is None:
        plan = plan_glass(conf, kind, T, n_samples, interval, seed, close_max_displacement)
    IS, res, energy, is_valid = plan.IS, plan.result, plan.energy, plan.is_valid
    recentre = recentring(IS, kind) if is_valid is not None else None
    box = conf.box
    params = SEARCH_NEB
    prov = {
        "sample": str(conf.info.get("source", "")),
        "glass": glass,
        "seed": seed,
        "T": T,
        "n_samples": n_samples,
        "interval": interval,
        "n_modes": n_modes,
        "kind": kind,
    }
    stats = {"is_energy": res.energy, "dwps_before": len(catalogue.dwp_rows), "dropped_invalid": 0}
    stats.update(dict.fromkeys(RECENTRE_STATS, 0))
    catalogue.add_minimum(IS.positions, res.energy, res.max_force, glass, dict(prov, protocol="glass IS"))
    if IS.diameters is not None:  # polydisperse: the glass's diameters make its records a system
        catalogue.set_diameters(glass, IS.diameters)

    def add(steps, method):
        for st in steps:
            prov_m = dict(prov, protocol=method)
            i, why = add_checked_step(catalogue, st, method, glass, seed, prov_m, is_valid)
            if why == "invalid":
                stats["dropped_invalid"] += 1
            elif i is None:
                stats["dropped_failed"] = stats.get("dropped_failed", 0) + 1
                stats["last_failure"] = why

    if n_modes > 0:
        add(
            single_ended_steps(energy, IS.positions, n_modes, box=box, params=params, n_images=n_images),
            "single_ended",
        )
    if n_samples > 0:
        uniq, pairs = plan.uniq, plan.pairs
        stats["is_pairs"] = sum(r == "transition" for *_, r in pairs)
        stats["is_pairs_closing"] = sum(r == "closing" for *_, r in pairs)
        stats["is_distinct"] = len(uniq)
        # the first band of every pair at once (neb_many: a queue over batch slots and devices;
        # batch 1 on one device follows the same trajectories as connect's own NEB)
        firsts = first_bands
        if firsts is None:
            firsts = first_bands_of([plan], n_images, params, neb_batch, neb_devices)[0]
        for (i, j, _route), first in zip(pairs, firsts, strict=True):
            add(
                connect(
                    energy,
                    uniq[i][0],
                    uniq[j][0],
                    n_images,
                    params,
                    box=box,
                    minimize_ends=False,
                    max_depth=2,
                    max_nebs=MAX_NEBS_PER_PAIR,
                    is_valid=is_valid,
                    recentre=recentre,
                    max_recentres=MAX_RECENTRES_PER_PAIR,
                    stats=stats,
                    band=first,
                ),
                "is_pair",
            )
    if valley_modes > 0:
        found, steps, walk = valley_walk(
            energy,
            IS.positions,
            max_basins=valley_basins,
            n_modes=valley_modes,
            dim=valley_dim,
            q_max=valley_q_max,
            n=valley_points,
            box=box,
            n_images=n_images,
            params=params,
            is_valid=is_valid,
        )
        stats["valley_minima"] = len(found)
        stats.update({f"valley_{k}": v for k, v in walk.as_dict().items() if k != "valley_minima"})
        add(steps, "intra_basin")
    if explore is not None:
        from pelsim.landscape.explore import explore_neighbourhood

        _, est = explore_neighbourhood(
            energy,
            IS.positions,
            box,
            catalogue,
            glass=glass,
            seed=seed,
            params=params,
            is_valid=is_valid,
            recentre=recentre,
            provenance=prov,
            **explore,
        )
        stats.update({f"explore_{k}": v for k, v in est.as_dict().items()})
    stats["twps_added"] = catalogue.find_twps()
    stats["dwps_added"] = len(catalogue.dwp_rows) - stats["dwps_before"]
    stats["seconds"] = time.perf_counter() - t0
    catalogue.attrs["last_search"] = json.dumps(stats)
    if out:
        catalogue.save(out)
    return catalogue, stats


__all__ = [
    "landscape_energy",
    "band_reference",
    "recentring",
    "add_checked_step",
    "single_ended_steps",
    "is_pair_candidates",
    "is_pair_plan",
    "search_glass",
    "search_glasses",
    "plan_glass",
    "first_bands_of",
    "GlassPlan",
    "relax",
]


def adjacent_minima_example(
    model: str = "ka2d", n: int = 64, seed: int = 1, n_modes: int = 4, kind: str = "smooth"
):
    """Two adjacent KA minima joined by one saddle (for tests, benchmarks and demos).

    A random configuration is quenched to its IS; single-ended searches up its
    ``n_modes`` softest modes; the lowest saddle above the IS is verified and its two
    minima returned as Configurations (a, b) with the saddle's StationaryResult.
    """
    from pelsim.prepare import quench, random_configuration

    conf = random_configuration(model, n, seed=seed)
    IS, res = quench(conf, kind=kind)
    energy, _ = landscape_energy(IS, kind)
    lam, vec = soft_modes(energy, IS.positions, n_modes)
    best = None
    for k in range(min(n_modes, vec.shape[1])):
        for sign in (1.0, -1.0):
            s = single_ended_search(energy, IS.positions, sign * vec[:, k].reshape(IS.positions.shape))
            if (
                s.converged
                and s.n_negative == 1
                and s.energy > res.energy
                and (best is None or s.energy < best.energy)
            ):
                best = s
    if best is None:
        raise InputError("no saddle found from the example IS")
    a, b = verify_saddle(energy, best)
    return IS.copy(a.R), IS.copy(b.R), best
