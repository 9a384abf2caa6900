"""Neighbourhood exploration: breadth-first single-ended searches that close triangles (TWPs).

A TWP is a triangle of the minima graph: three minima pairwise joined by verified saddles
(catalogue.py, twp.py). Single-ended searches from one inherent structure only give a *star* of
DWPs around it (A-B, A-C, ...), and B-C is rarely found from A. Following the pele/OPTIM
practice of growing a database of stationary points around a region of interest, this module

1. searches saddles breadth-first from every minimum it finds, not only from the glass IS, within
   a budget (``max_depth`` generations, ``max_minima`` expanded minima, ``max_searches`` searches,
   ``max_seconds``): from each minimum along its ``n_modes`` softest Hessian modes (both signs)
   and ``n_random`` random directions localised on the particles that carry the soft modes
   (ART-nouveau style activation, Barkema & Mousseau 1996; Malek & Mousseau 2000);
2. verifies every converged saddle (+/- along its negative mode, minimise both sides, identify the
   two minima with ``identity.same_minimum``) and adds it with its path profile to the catalogue
   (a saddle already stored between the same two minima is counted, not recomputed);
3. closes triangles directly: whenever a new edge B-C appears, each other neighbour X of B (of
   C) whose rearrangement shares moving particles with B-C and lies within
   ``close_max_displacement`` of C (of B) is connected to it by a double-ended search
   (``connect.connect``, CI-NEB + refinement + verification). Two rearrangements of the *same*
   particles are often one saddle apart, which is what a TWP is; two rearrangements of
   disjoint groups are not (their connection needs both moves, a square, not a triangle),
   hence the shared-particle condition.

The search engine is ``saddle.single_ended_search`` (ART-like activation, dimer, Newton polish;
about 4 s per search at KA 3D N = 270). Hand-written here: only the breadth-first bookkeeping and
the localised random directions; every stationary point comes from the existing, tested tools.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from pelsim.errors import InputError
from pelsim.landscape.catalogue import Catalogue
from pelsim.landscape.connect import connect, step_from_saddle, verify_saddle
from pelsim.landscape.identity import displacement_field, find_minimum, max_displacement, same_minimum
from pelsim.landscape.saddle import single_ended_search
from pelsim.landscape.twp import MOVING_THRESHOLD


@dataclass
class ExploreStats:
    """Counts of one exploration (all also in :meth:`as_dict`)."""

    expanded: int = 0  # minima whose neighbourhood was searched
    searches: int = 0  # single-ended searches started
    converged: int = 0  # searches ending on a first-order saddle above their minimum
    saddles_new: int = 0  # verified saddles added as new DWPs
    saddles_duplicate: int = 0  # verified saddles already in the catalogue
    saddles_self: int = 0  # saddles whose two sides relax to the same minimum
    saddles_high: int = 0  # saddles above max_barrier (not verified)
    minima_new: int = 0
    closing_attempts: int = 0
    closing_dwps: int = 0  # DWPs added by the closing connections
    dropped_invalid: int = 0
    dropped_failed: int = 0
    recentre: dict = field(default_factory=dict)  # connect's RECENTRE_STATS over the closing connections
    twps: int = 0  # TWPs added to the catalogue by this exploration
    twp_errors: int = 0  # new DWPs after which catalogue.find_twps failed (a triangle with NaN Delta0)
    seconds: float = 0.0
    stopped: str = ""  # which budget ended the exploration
    log: list = field(default_factory=list)

    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        d.pop("log")
        return d


def localized_random_direction(modes, shape, rng, n_particles: int = 10) -> np.ndarray:
    """Unit random vector (shape ``shape``) on the ``n_particles`` particles with the largest
    amplitude summed over the columns of ``modes`` (the soft modes), zero elsewhere."""
    amp = np.zeros(shape[0])
    for k in range(modes.shape[1]):
        v = modes[:, k].reshape(shape)
        amp += np.sum(v * v, axis=1)
    idx = np.argsort(amp)[::-1][: max(1, min(n_particles, shape[0]))]
    d = np.zeros(shape)
    d[idx] = rng.standard_normal((idx.size, shape[1]))
    return d / np.linalg.norm(d)


def edge_random_direction(R, R_other, box, rng) -> np.ndarray | None:
    """Unit random vector on the particles that move between minima R and R_other
    (|dr| > MOVING_THRESHOLD), orthogonal to that displacement (so the search does not simply
    walk back along the known path), or None when no particle moves that much."""
    dr = displacement_field(R, R_other, box).reshape(R.shape)
    idx = np.flatnonzero(np.linalg.norm(dr, axis=1) > MOVING_THRESHOLD)
    if idx.size == 0:
        return None
    d = np.zeros(R.shape)
    d[idx] = rng.standard_normal((idx.size, R.shape[1]))
    u = np.zeros(R.shape)
    u[idx] = dr[idx]  # the displacement of the moving particles (the rest is drift round-off)
    u /= np.linalg.norm(u)
    d = d - np.sum(d * u) * u
    n = np.linalg.norm(d)
    return None if n < 1e-12 else d / n


def _directions(energy, R, n_modes, n_random, n_particles, rng, edges=(), n_edge_random=0, box=None):
    """Softest modes (both signs), localised random directions, then random directions on the
    moving particles of each known DWP of this minimum (``edges``: positions of its neighbours)."""
    from pelsim.landscape.steps import soft_modes

    _lam, vec = soft_modes(energy, R, max(n_modes, 1))
    vec = vec[:, : max(n_modes, 1)]
    out = []
    for k in range(min(n_modes, vec.shape[1])):
        v = vec[:, k].reshape(R.shape)
        v = v / np.linalg.norm(v)
        out += [("mode", v), ("mode", -v)]
    for _ in range(n_random):
        out.append(("random", localized_random_direction(vec, R.shape, rng, n_particles)))
    for R_other in edges:
        for _ in range(n_edge_random):
            d = edge_random_direction(R, R_other, box, rng)
            if d is not None:
                out.append(("edge", d))
    return out


def _moving(Ra, Rb, box) -> set:
    dr = displacement_field(Ra, Rb, box)
    dr = dr.reshape(-1, dr.shape[-1])
    return set(np.flatnonzero(np.linalg.norm(dr, axis=1) > MOVING_THRESHOLD).tolist())


def explore_neighbourhood(
    energy,
    R_is,
    box=None,
    catalogue: Catalogue | None = None,
    *,
    glass: int = 0,
    seed: int = 0,
    max_depth: int = 2,
    max_minima: int = 12,
    max_searches: int = 120,
    max_seconds: float = float("inf"),
    n_modes: int = 4,
    n_random: int = 2,
    random_particles: int = 10,
    n_edge_random: int = 0,
    push: float = 0.05,
    max_barrier: float = float("inf"),
    search_max_steps: int = 500,
    close: bool = True,
    close_max_displacement: float = 0.6,
    max_closing: int = 30,
    n_images: int = 12,
    params=None,
    is_valid=None,
    recentre=None,
    max_recentres: int = 2,
    start_minima=(),
    stop_at_twp: bool = False,
    provenance: dict | None = None,
    progress=None,
):
    """Breadth-first neighbourhood exploration from the minimum ``R_is`` (module docstring).

    Budget: ``max_depth`` generations of minima from ``R_is`` (0 = only R_is is expanded),
    ``max_minima`` expanded minima, ``max_searches`` single-ended searches, ``max_seconds`` wall
    time (checked between searches), ``max_closing`` closing connections; ``stop_at_twp`` ends
    the exploration as soon as the catalogue gains a TWP. Per expanded minimum: ``n_modes``
    softest modes x 2 signs and ``n_random`` random directions on the ``random_particles``
    particles carrying the soft modes (rng seeded by ``seed``), and ``n_edge_random`` random
    directions per known DWP of the minimum on the particles that move in that DWP (orthogonal to
    its displacement: a third position of the same particles is what a TWP needs); ``push``
    (sigma) is the initial displacement of each search, ``search_max_steps`` its activation budget
    (pushes, saddle.single_ended_search); saddles more than ``max_barrier`` above the expanded
    minimum are not verified (no profile bands). ``close``/``close_max_displacement``
    (sigma) control the triangle-closing connections. ``start_minima``: catalogue indices expanded first
    (e.g. minima of low-barrier DWPs of an earlier run); their graph neighbours are queued too.
    ``is_valid``: optional validity test of a fixed pair list (steps violating it are dropped);
    ``recentre``/``max_recentres``: the re-centring hook of the closing connections
    (``connect.connect``; their counts go to ``ExploreStats.recentre``).
    ``catalogue`` (created if None) must match the system; R_is must be a minimum.
    Returns (catalogue, ExploreStats).
    """
    from pelsim.landscape.steps import SEARCH_NEB, add_checked_step

    for name, v in (
        ("max_depth", max_depth),
        ("max_minima", max_minima),
        ("max_searches", max_searches),
        ("n_modes", n_modes),
        ("n_random", n_random),
        ("n_edge_random", n_edge_random),
        ("max_closing", max_closing),
        ("search_max_steps", search_max_steps),
    ):
        if int(v) != v or v < 0:
            raise InputError(f"{name} must be an integer >= 0, got {v}")
    if n_modes + n_random + n_edge_random == 0:
        raise InputError("n_modes + n_random + n_edge_random must be > 0 (no search direction)")
    if not (push > 0 and close_max_displacement > 0 and max_seconds > 0 and max_barrier > 0):
        raise InputError("push, close_max_displacement, max_seconds and max_barrier must be > 0")
    t0 = time.perf_counter()
    R_is = np.asarray(R_is, float)
    if catalogue is None:
        catalogue = Catalogue(None, N=R_is.shape[0], dim=R_is.shape[1], box=box)
    params = params or SEARCH_NEB
    rng = np.random.default_rng(seed)
    stats = ExploreStats()
    twps0 = len(catalogue.twp_rows)
    prov = dict(provenance or {}, protocol="explore", seed=seed)
    M = catalogue.minima

    def say(msg):
        stats.log.append(msg)
        if progress:
            progress(f"[{time.perf_counter() - t0:7.1f} s] {msg}")

    def out_of_budget():
        if time.perf_counter() - t0 > max_seconds:
            stats.stopped = "max_seconds"
        elif stats.searches >= max_searches:
            stats.stopped = "max_searches"
        elif stop_at_twp and len(catalogue.twp_rows) > twps0:
            stats.stopped = "twp_found"
        return bool(stats.stopped)

    def neighbours(m):
        return {
            r["min_b"] if r["min_a"] == m else r["min_a"]
            for r in catalogue.dwp_rows
            if m in (r["min_a"], r["min_b"])
        }

    def add(step, method) -> tuple[int, int, bool]:
        """Add a verified step; (a, b, new DWP?)"""
        n_before = len(catalogue.dwp_rows)
        n_min = len(M["energy"])
        i, why = add_checked_step(catalogue, step, method, glass, seed, dict(prov, method=method), is_valid)
        if why == "invalid":
            stats.dropped_invalid += 1
            return -1, -1, False
        if i is None:  # e.g. a barrier below the zero-point energy: keep exploring
            stats.dropped_failed += 1
            say(f"step dropped: {why}")
            return -1, -1, False
        stats.minima_new += len(M["energy"]) - n_min
        r = catalogue.dwp_rows[i]
        new = len(catalogue.dwp_rows) > n_before
        if new:
            try:
                catalogue.find_twps()
            except (np.linalg.LinAlgError, ValueError) as exc:
                # a triangle with an edge whose Delta0 is NaN (barrier below the zero-point
                # energy, catalogue "no_localised_state") has no 3-level Hamiltonian; find_twps
                # then raises on every call (docs/landscape.md, TWP hunt)
                stats.twp_errors += 1
                say(f"triangle through DWP {i} not parametrised: {exc}")
        return r["min_a"], r["min_b"], new

    tried_pairs: set = set()

    def close_around(a, b):
        """Connect the other neighbours of a to b (and of b to a) when the moves overlap."""
        if not close:
            return
        for x, y in ((a, b), (b, a)):
            moved_xy = _moving(M["positions"][x], M["positions"][y], box)
            for z in sorted(neighbours(x) - {y}):
                key = (min(z, y), max(z, y))
                if key in tried_pairs or z in neighbours(y) or stats.closing_attempts >= max_closing:
                    continue
                if out_of_budget():
                    return
                Rz, Ry = M["positions"][z], M["positions"][y]
                if not (_moving(M["positions"][x], Rz, box) & moved_xy):
                    continue
                if max_displacement(Rz, Ry, box) > close_max_displacement:
                    continue
                tried_pairs.add(key)
                stats.closing_attempts += 1
                steps = connect(
                    energy,
                    Rz,
                    Ry,
                    n_images,
                    params,
                    box=box,
                    minimize_ends=False,
                    max_depth=2,
                    is_valid=is_valid,
                    recentre=recentre,
                    max_recentres=max_recentres,
                    stats=stats.recentre,
                )
                got = [add(s, "explore_closing") for s in steps]
                stats.closing_dwps += sum(new for *_, new in got)
                say(
                    f"closing {z}-{y} (around {x}): {len(steps)} steps, "
                    f"edges {[(p, q) for p, q, _ in got]}, TWPs {len(catalogue.twp_rows) - twps0}"
                )

    i0 = catalogue.add_minimum(R_is, float(energy(R_is)), 0.0, glass, dict(prov, protocol="explore start"))
    first = list(dict.fromkeys([i0] + [int(k) for k in start_minima]))  # each minimum expanded once
    queue = deque((k, 0) for k in first)
    queued = set(first)
    for m in list(queued):  # known edges already close triangles
        for n in neighbours(m):
            close_around(m, n)
    while queue and not out_of_budget():
        m, depth = queue.popleft()
        if stats.expanded >= max_minima:
            stats.stopped = "max_minima"
            break
        stats.expanded += 1
        Rm, Em = np.asarray(M["positions"][m]), float(M["energy"][m])
        edges = [M["positions"][n] for n in sorted(neighbours(m))]
        dirs = _directions(energy, Rm, n_modes, n_random, random_particles, rng, edges, n_edge_random, box)
        seen: list = []  # saddles of this minimum (energy and positions: symmetric surfaces repeat E)
        say(f"expand minimum {m} (depth {depth}, E = {Em:.6f}, {len(dirs)} directions)")
        for kind, v in dirs:
            if out_of_budget():
                break
            stats.searches += 1
            s = single_ended_search(energy, Rm, v, push=push, max_steps=search_max_steps)
            if not s.converged or s.n_negative != 1 or s.energy <= Em:
                continue
            stats.converged += 1
            if s.energy - Em > max_barrier:
                stats.saddles_high += 1
                continue
            if any(same_minimum(e, r, s.energy, s.R, box) for e, r in seen):
                stats.saddles_duplicate += 1
                continue
            seen.append((s.energy, s.R))
            ma, mb = verify_saddle(energy, s)
            if same_minimum(ma.energy, ma.R, mb.energy, mb.R, box):
                stats.saddles_self += 1
                continue
            ia = find_minimum(ma.energy, ma.R, M["energy"], M["positions"], box)
            ib = find_minimum(mb.energy, mb.R, M["energy"], M["positions"], box)
            dup = catalogue.find_dwp(ia, ib, s.R, s.energy) if ia >= 0 and ib >= 0 else -1
            if dup >= 0:  # known saddle: count it as catalogue.add_step does, skip the profile bands
                stats.saddles_duplicate += 1
                catalogue._count_duplicate(dup, "explore")
                continue
            if same_minimum(mb.energy, mb.R, Em, Rm, box):
                ma, mb = mb, ma  # orient from the expanded minimum
            a, b, new = add(step_from_saddle(energy, s, ma, mb, n_images, params, box), "explore")
            if a < 0:
                continue
            stats.saddles_new += int(new)
            say(
                f"  {kind} search: saddle {s.energy - Em:+.4f} -> DWP {a}-{b} ({'new' if new else 'dup'}),"
                f" minima {len(M['energy'])}, TWPs {len(catalogue.twp_rows) - twps0}"
            )
            for k in (a, b):
                if k not in queued and depth + 1 <= max_depth:
                    queued.add(k)
                    queue.append((k, depth + 1))
            if new:
                close_around(a, b)
    if not stats.stopped:
        stats.stopped = "max_minima" if queue else "exhausted"
    stats.twps = len(catalogue.twp_rows) - twps0
    stats.seconds = time.perf_counter() - t0
    return catalogue, stats


def triangle_statistics(catalogue: Catalogue, glass: int | None = None) -> dict:
    """Open triangles of the minima graph: paths A-B-C with A, C not joined by a DWP.

    Returns counts (minima, edges, triangles, open paths) and, for the open paths, the largest
    particle displacement between A and C and whether the moves A-B and B-C share particles
    (a near-miss TWP needs both small / true).
    """
    import networkx as nx

    G = catalogue.graph()
    if glass is not None:
        G = G.subgraph([n for n, d in G.nodes(data=True) if d["glass"] == glass]).copy()
    box = catalogue.box
    P = catalogue.minima["positions"]
    tri = sum(nx.triangles(G).values()) // 3
    dists, shared = [], []
    for b in G.nodes:
        nb = sorted(G.neighbors(b))
        for i, a in enumerate(nb):
            for c in nb[i + 1 :]:
                if G.has_edge(a, c):
                    continue
                dists.append(max_displacement(P[a], P[c], box))
                shared.append(bool(_moving(P[a], P[b], box) & _moving(P[b], P[c], box)))
    dists = np.asarray(dists)
    return {
        "minima": G.number_of_nodes(),
        "edges": G.number_of_edges(),
        "triangles": int(tri),
        "open_paths": len(dists),
        "open_paths_shared_particles": int(np.sum(shared)),
        "open_AC_max_displacement": {
            "min": float(dists.min()) if dists.size else None,
            "median": float(np.median(dists)) if dists.size else None,
            "below_0.6": int(np.sum(dists <= 0.6)),
        },
    }


__all__ = [
    "explore_neighbourhood",
    "triangle_statistics",
    "localized_random_direction",
    "edge_random_direction",
    "ExploreStats",
]
