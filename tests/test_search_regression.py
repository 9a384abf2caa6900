"""Search results against those of the code before the landscape-as-data refactor (commit 790d718).

The energies and forces of both are bit-identical (checked when the reference was written); the
dense Hessians differ by ~1e-13 (summation order). Eigenvector following and 2000-step NEBs amplify
such round-off into other paths for large rearrangements, so the check is on the double wells that
matter for tunneling (barrier < 1 eps): every one of the reference is found again, with barrier and
asymmetry to 1e-9 relative, d to 1e-7 and the splitting to 1e-4 (the band is converged to a NEB
force of 1e-2, which bounds how reproducible its profile is); none is new.
"""

import json
from pathlib import Path

import numpy as np
import pytest

from pelsim.landscape.search import search_glass
from pelsim.prepare import random_configuration

REF = json.loads((Path(__file__).parent / "data" / "search_reference.json").read_text())
CASES = {
    "ka2d_n500_pairlist": ("ka2d", 500),  # N > 400: the fixed pair list (RowsKernel)
    "ka2d_n120_allpairs": ("ka2d", 120),  # the all-pairs energy (AllPairsKernel)
}


def _run(model, n):
    conf = random_configuration(model, n, seed=11)
    cat, _ = search_glass(conf, seed=3, n_modes=2, n_samples=4, interval=100, T=0.25)
    keys = ("barrier", "asymmetry", "d", "splitting", "Delta0")
    return sorted([[float(r[k]) for k in keys] for r in cat.dwp_rows])


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_low_barrier_dwps_are_unchanged(case, full):
    if not full and case != "ka2d_n500_pairlist":
        pytest.skip("reduced form: the pair-list glass only (--full runs both)")
    got = np.array(_run(*CASES[case]))
    ref = np.array(REF[case]["dwps"])
    low_ref, low_got = ref[ref[:, 0] < 1.0], got[got[:, 0] < 1.0]
    assert len(low_ref) >= 3 and len(low_got) == len(low_ref)
    for r in low_ref:
        k = int(np.argmin(np.abs(low_got[:, 0] - r[0])))
        g = low_got[k]
        assert abs(g[0] - r[0]) < 1e-9 * abs(r[0]) and abs(g[1] - r[1]) < 1e-9 * abs(r[1])
        assert abs(g[2] - r[2]) < 1e-7 * r[2]
        assert abs(g[3] - r[3]) < 1e-4 * r[3]
