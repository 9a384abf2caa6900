"""``pelsim campaign``: run, inspect and report campaigns (see docs/campaigns.md).

pelsim campaign run CONFIG [--out DIR] [--scheduler ADDR] [--workers N] [--no-progress]
pelsim campaign status DIR [--json]
pelsim campaign report DIR

Exit codes: 0 done, 2 bad input (config, input files, a directory held by another run or
holding another campaign, a scheduler address that is not a Dask scheduler), 1 a task's
calculation failed, 3 the environment (disk full, read-only or unwritable output).
"""

from __future__ import annotations

import json
from pathlib import Path


def _run(args) -> int:
    from pelsim.campaign import runner

    out = args.out or str(Path("results") / Path(args.config).stem)
    summary = runner.run(
        args.config, out, scheduler=args.scheduler, workers=args.workers, progress=not args.no_progress
    )
    merged = summary.get("merged", {})
    print(
        f"campaign done in {summary['seconds']:.1f} s: {summary['tasks_run']} tasks run, "
        f"{summary['tasks_skipped']} skipped; " + ", ".join(f"{k}={v}" for k, v in merged.items())
    )
    rep = summary.get("final", {}).get("report")
    if rep:
        print(f"report: {rep}")
    print(f"results: {out}")
    return 0


def _status(args) -> int:
    from pelsim.campaign import runner

    st = runner.status(args.dir)
    if args.json:
        print(json.dumps(st, indent=1, default=str))
        return 0
    print(
        f"{st['dir']}: {st['tasks_done']}/{st['tasks_total']} tasks done, config {st['config_hash'][:12]}, "
        f"catalogue {'present' if st['catalogue'] else 'absent'}"
    )
    print(f"state: {st['state_line']}")
    head = ["glass", "seed"] + st["stages"]
    print("  ".join(f"{h:>12}" for h in head))
    for row in st["table"]:
        cells = [str(row["glass"]), str(row["seed"])]
        for s in st["stages"]:
            v = row[s]
            cells.append("-" if v is None else ("done" + (f" {v['dwps']}dwp" if "dwps" in v else "")))
        print("  ".join(f"{c:>12}" for c in cells))
    return 0


def _report(args) -> int:
    from pelsim.campaign import runner

    res = runner.report(args.dir)
    print(f"report: {res.get('final', {}).get('report', '(none)')}")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("campaign", help="run DWP/TWP search campaigns on Dask (docs/campaigns.md)")
    sub = p.add_subparsers(dest="campaign_action", metavar="ACTION", required=True)
    r = sub.add_parser("run", help="run or resume a campaign defined in a TOML file")
    r.add_argument("config", help="campaign TOML file (see simulations/)")
    r.add_argument("--out", help="output directory (default results/<config stem>)")
    r.add_argument("--scheduler", help="address of an existing Dask scheduler (default: a LocalCluster)")
    r.add_argument("--workers", type=int, help="local Dask workers (overrides runner.workers)")
    r.add_argument("--no-progress", action="store_true", help="no progress bars")
    r.set_defaults(func=_run)
    s = sub.add_parser("status", help="finished and pending tasks of a campaign directory")
    s.add_argument("dir")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=_status)
    q = sub.add_parser("report", help="re-merge and rebuild the analysis and report of a campaign")
    q.add_argument("dir")
    q.set_defaults(func=_report)
