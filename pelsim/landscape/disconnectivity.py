"""Disconnectivity graph (Becker & Karplus 1997; Wales) of a catalogue, drawn with matplotlib.

Minima are leaves at their energies; at each energy level E of a uniform ladder the
minima joined by saddles below E (union-find over the catalogue's DWP edges) form one
superbasin. Each superbasin is drawn as a node at height E, connected to the superbasins
of the level below that it contains; leaves end at their minimum energy.
"""

from __future__ import annotations

import numpy as np


def superbasins(energies, edges, levels):
    """For each level: list of frozensets of minima joined below it (only minima below it)."""
    energies = np.asarray(energies, float)
    out = []
    for E in levels:
        parent = list(range(len(energies)))

        def find(i, parent=parent):
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        for a, b, es in edges:
            if es < E:
                ra, rb = find(a), find(b)
                if ra != rb:
                    parent[ra] = rb
        groups: dict = {}
        for i in np.flatnonzero(energies < E):
            groups.setdefault(find(int(i)), set()).add(int(i))
        out.append([frozenset(g) for g in groups.values()])
    return out


def draw(catalogue, ax=None, n_levels: int = 20, glass=None):
    """Draw the disconnectivity graph of ``catalogue`` (optionally one glass) on ``ax``."""
    import matplotlib.pyplot as plt

    ax = ax or plt.gca()
    E = np.asarray(catalogue.minima["energy"], float)
    glasses = np.asarray(catalogue.minima["glass"])
    keep = np.arange(E.size) if glass is None else np.flatnonzero(glasses == glass)
    edges = [
        (r["min_a"], r["min_b"], catalogue.saddles["energy"][r["saddle"]])
        for r in catalogue.dwp_rows
        if r["min_a"] in keep and r["min_b"] in keep
    ]
    if keep.size == 0:
        return ax
    top = max([e for _, _, e in edges], default=E[keep].max()) + 1e-9
    levels = np.linspace(E[keep].min(), top, n_levels + 1)[1:]
    sb = superbasins(np.where(np.isin(np.arange(E.size), keep), E, np.inf), edges, levels)
    # x positions: order leaves so that superbasins are contiguous (sort by the top-level grouping)
    order = sorted(keep.tolist(), key=lambda i: (min(sorted(g) for g in sb[-1] if i in g), E[i]))
    x = {i: k for k, i in enumerate(order)}
    prev = {frozenset([i]): (x[i], E[i]) for i in keep}
    for L, groups in zip(levels, sb, strict=True):
        cur = {}
        for g in groups:
            xs = np.mean([x[i] for i in g])
            cur[g] = (xs, L)
            for h, (xh, yh) in prev.items():
                if h <= g:
                    ax.plot([xh, xs], [yh, L], color="k", lw=0.8)
        prev = {g: v for g, v in cur.items()}
        prev.update({frozenset([i]): (x[i], E[i]) for i in keep if E[i] >= L})
    ax.set_xticks([])
    ax.set_ylabel("energy (eps_AA)")
    return ax
