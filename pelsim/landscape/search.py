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
sigma (valid while no particle moves more than 0.75 sigma; steps violating it are
dropped and counted in ``stats['dropped_invalid']``).
"""

from __future__ import annotations

import json
import time

import numpy as np

from pelsim.errors import InputError
from pelsim.landscape.catalogue import Catalogue
from pelsim.landscape.connect import ElementaryStep, connect, relax, step_from_saddle, verify_saddle
from pelsim.landscape.identity import same_minimum
from pelsim.landscape.neb import NEBParams
from pelsim.landscape.saddle import normal_modes, single_ended_search

PAIR_LIST_MIN_N = 400
PAIR_LIST_SKIN = 1.5


def landscape_energy(conf, kind: str = "smooth", R_ref=None):
    """(energy, is_valid) for landscape work on ``conf`` (see module docstring)."""
    from pelsim.models import load_model
    from pelsim.potentials import energy_fn, fixed_pair_energy

    model = load_model(conf.model)
    if conf.n <= PAIR_LIST_MIN_N:
        return energy_fn(model, conf.box, conf.species, kind), None
    R_ref = conf.positions if R_ref is None else R_ref
    return fixed_pair_energy(model, conf.box, conf.species, R_ref, PAIR_LIST_SKIN, kind)


def _valid_step(step: ElementaryStep, is_valid) -> bool:
    if is_valid is None:
        return True
    import jax.numpy as jnp

    return all(bool(is_valid(jnp.asarray(R))) for R in (step.min_a.R, step.saddle.R, step.min_b.R))


def single_ended_steps(energy, R_is, n_modes: int = 4, push: float = 0.05, box=None,
                       params: NEBParams | None = None, n_images: int = 12) -> list[ElementaryStep]:
    """Saddles up the ``n_modes`` softest modes of the IS (both signs), verified and connected."""
    R_is = np.asarray(R_is, float)
    E_is = float(energy(R_is))
    lam, vec = normal_modes(energy, R_is)
    vec = vec[:, lam > 0]
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


def is_pair_candidates(conf, T: float, n_samples: int, interval: int, kind: str = "smooth", seed: int = 0,
                       fmax: float = 1e-10):
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


def search_glass(conf, out=None, kind: str = "smooth", glass: int = 0, seed: int = 0, T: float = 0.2,
                 n_samples: int = 0, interval: int = 200, n_modes: int = 4, valley_modes: int = 0,
                 n_images: int = 12, catalogue: Catalogue | None = None, unit_preset: str = "argon",
                 tls_threshold_K: float = 1.0, progress: bool = False):
    """Run the searches on one glass configuration and add the results to a catalogue.

    n_samples > 0 enables IS-pair discovery (MD at T, quench every ``interval`` steps);
    n_modes > 0 the single-ended searches from the glass IS; valley_modes > 0 the
    intra-basin exploration along that many soft modes. Returns (catalogue, stats).
    """
    from pelsim.landscape.valleys import explore_basin
    from pelsim.models import load_model
    from pelsim.prepare import quench

    t0 = time.perf_counter()
    model = load_model(conf.model)
    if catalogue is None:
        attrs = dict(model=model.name, potential=kind, N=conf.n, dim=conf.dim, box=conf.box,
                     species=conf.species, masses=np.asarray(model.masses)[conf.species],
                     unit_preset=unit_preset, tls_threshold_K=tls_threshold_K)
        catalogue = Catalogue.open(out, "a", **attrs) if out else Catalogue(None, **attrs)
    if catalogue.attrs["N"] != conf.n:
        raise InputError(f"catalogue holds N={catalogue.attrs['N']} particles, glass has {conf.n}")
    IS, res = quench(conf, kind=kind)
    energy, is_valid = landscape_energy(IS, kind)
    box = conf.box
    params = NEBParams(fmax=1e-3, max_steps=5000)
    prov = {"sample": str(conf.info.get("source", "")), "glass": glass, "seed": seed, "T": T,
            "n_samples": n_samples, "interval": interval, "n_modes": n_modes, "kind": kind}
    stats = {"is_energy": res.energy, "dwps_before": len(catalogue.dwp_rows), "dropped_invalid": 0}
    catalogue.add_minimum(IS.positions, res.energy, res.max_force, glass, dict(prov, protocol="glass IS"))

    def add(steps, method):
        for st in steps:
            if not _valid_step(st, is_valid):
                stats["dropped_invalid"] += 1
                continue
            catalogue.add_step(st, method, glass, seed, dict(prov, protocol=method))

    if n_modes > 0:
        add(single_ended_steps(energy, IS.positions, n_modes, box=box, params=params, n_images=n_images),
            "single_ended")
    if n_samples > 0:
        cands = is_pair_candidates(IS, T, n_samples, interval, kind, seed)
        stats["is_pairs"] = max(len(cands) - 1, 0)
        for (Ra, _), (Rb, _) in zip(cands[:-1], cands[1:], strict=True):
            add(connect(energy, Ra, Rb, n_images, params, box=box, minimize_ends=False, max_depth=2),
                "is_pair")
    if valley_modes > 0:
        _, found, _ = explore_basin(energy, IS.positions, n_modes=valley_modes, dim=1, q_max=1.0, n=11,
                                    box=box)
        for Rm, _ in found:
            add(connect(energy, IS.positions, Rm, n_images, params, box=box, minimize_ends=False,
                        max_depth=1), "intra_basin")
    stats["twps_added"] = catalogue.find_twps()
    stats["dwps_added"] = len(catalogue.dwp_rows) - stats["dwps_before"]
    stats["seconds"] = time.perf_counter() - t0
    catalogue.attrs["last_search"] = json.dumps(stats)
    if out:
        catalogue.save(out)
    return catalogue, stats


__all__ = ["landscape_energy", "single_ended_steps", "is_pair_candidates", "search_glass", "relax"]


def adjacent_minima_example(model: str = "ka2d", n: int = 64, seed: int = 1, n_modes: int = 4,
                            kind: str = "smooth"):
    """Two adjacent KA minima joined by one saddle (for tests, benchmarks and demos).

    A random configuration is quenched to its IS; single-ended searches up its
    ``n_modes`` softest modes; the lowest saddle above the IS is verified and its two
    minima returned as Configurations (a, b) with the saddle's StationaryResult.
    """
    from pelsim.prepare import quench, random_configuration

    conf = random_configuration(model, n, seed=seed)
    IS, res = quench(conf, kind=kind)
    energy, _ = landscape_energy(IS, kind)
    lam, vec = normal_modes(energy, IS.positions)
    vec = vec[:, lam > 0]
    best = None
    for k in range(min(n_modes, vec.shape[1])):
        for sign in (1.0, -1.0):
            s = single_ended_search(energy, IS.positions, sign * vec[:, k].reshape(IS.positions.shape))
            if s.converged and s.n_negative == 1 and s.energy > res.energy and (
                    best is None or s.energy < best.energy):
                best = s
    if best is None:
        raise InputError("no saddle found from the example IS")
    a, b = verify_saddle(energy, best)
    return IS.copy(a.R), IS.copy(b.R), best
