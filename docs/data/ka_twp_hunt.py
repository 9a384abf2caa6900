"""The TWP hunt that wrote docs/data/ka_twp_catalogue.h5 (2026-11-24; docs/landscape.md).

    .venv/bin/python docs/data/ka_twp_hunt.py GLASS MAX_SECONDS SEED N_EDGE_RANDOM OUT.h5
    (the catalogue was made with GLASS=5 MAX_SECONDS=600 SEED=3 N_EDGE_RANDOM=3)

Needs results/figures_run2 (``pelsim campaign run simulations/figures.toml``). The glass's rows of
that catalogue are copied, then ``explore_neighbourhood`` runs from the glass IS and the minima of
its three lowest-V0 DWPs until a TWP is found. ``find_twps`` runs on the graph without DWPs whose
Delta0 is NaN (``Catalogue.find_twps`` raises on a triangle holding one).
"""

import json
import sys
import time

import numpy as np

import pelsim  # noqa: F401
from pelsim.campaign.stages import load_prepared
from pelsim.landscape.catalogue import Catalogue
from pelsim.landscape.explore import explore_neighbourhood, triangle_statistics
from pelsim.landscape.search import landscape_energy
from pelsim.prepare import quench

RUN = "results/figures_run2"


class HuntCatalogue(Catalogue):
    def graph(self):
        G = super().graph()
        G.remove_edges_from([(a, b) for a, b, d in G.edges(data=True) if not np.isfinite(d["Delta0"])])
        return G


def main(g, max_s, seed, n_edge, out):
    src = Catalogue.open(f"{RUN}/catalogue.h5", "r")
    keys = ("model", "potential", "N", "dim", "box", "species", "masses", "unit_preset", "tls_threshold_K")
    cat = HuntCatalogue(None, **{k: src.attrs[k] for k in keys})
    mmap = {}
    for i, gl in enumerate(src.minima["glass"]):
        if gl == g:
            mmap[i] = cat.add_minimum(src.minima["positions"][i], src.minima["energy"][i],
                                      src.minima["max_force"][i], g, json.loads(src.minima["provenance"][i]))
    S = src.saddles
    for r in src.dwp_rows:
        if r["glass"] != g:
            continue
        k = r["saddle"]
        sd = cat.add_saddle(S["positions"][k], S["energy"][k], S["max_force"][k], S["n_negative_modes"][k],
                            mmap[r["min_a"]], mmap[r["min_b"]], S["method"][k], g,
                            json.loads(S["provenance"][k]))
        cat.add_dwp(mmap[r["min_a"]], mmap[r["min_b"]], sd, src.profile(r["id"]), r["method"], g, r["seed"])
    _, IS = load_prepared(f"{RUN}/tasks/g{g:04d}/prepare.npz")
    IS, _res = quench(IS)
    energy, is_valid = landscape_energy(IS)
    start = []
    for r in sorted(cat.dwp_rows, key=lambda r: r["V0"])[:3]:
        start += [m for m in (r["min_a"], r["min_b"]) if m not in start]
    t0 = time.time()
    cat, st = explore_neighbourhood(
        energy, IS.positions, IS.box, cat, glass=g, seed=seed, max_depth=1, max_minima=40,
        close_max_displacement=0.45, max_closing=6, max_searches=500, max_seconds=max_s, n_modes=2,
        n_random=2, n_edge_random=n_edge, max_barrier=1.0, search_max_steps=150, start_minima=start,
        stop_at_twp=True, is_valid=is_valid, provenance={"sample": f"figures_run2 glass {g} IS"},
        progress=lambda m: print(m, flush=True))
    print(json.dumps(st.as_dict()))
    print(json.dumps(triangle_statistics(cat)))
    cat.save(out)
    print("saved", cat.summary(), time.time() - t0)


if __name__ == "__main__":
    a = sys.argv[1:]
    main(int(a[0]), float(a[1]), int(a[2]), int(a[3]), a[4])
