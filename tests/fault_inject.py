"""Run the ``pelsim`` CLI and SIGKILL it at one rename, as strace's
``-e inject=rename:signal=SIGKILL:when=N`` would (deterministic kill-and-resume tests).

    python tests/fault_inject.py WHEN PATTERN NTH -- PELSIM-ARGUMENTS...
    python tests/fault_inject.py --chain WINDOWS.json -- PELSIM-ARGUMENTS...

WHEN: ``before`` (killed as the rename starts: the temporary is left, the target is the old
one) or ``after`` (killed right after it: the new file is in place, nothing after it ran).
PATTERN: fnmatch pattern on the target's file name; NTH: which matching rename (1 = first).
Every file of a campaign directory is written by ``os.replace`` of a temporary
(:func:`pelsim.campaign.store.atomic_path`); with thread workers (``runner.processes =
false``) those renames all happen in the run's process, which SIGKILLs itself, threads and all.

``--chain``: one run per window ``[when, pattern, nth]`` of the JSON list (``null``: a run
without a kill), one after the other, each in a child forked from this process once the
imports are done (a fresh interpreter per run would spend seconds importing). After each,
the campaign's ``status`` is recorded; prints a JSON list of {window, returncode, state,
tasks_done, tasks_total}.
"""

from __future__ import annotations

import fnmatch
import json
import os
import signal
import sys
import threading


def kill_at(when: str, pattern: str, nth: int) -> None:
    """Make the NTH ``os.replace`` onto a file named like PATTERN SIGKILL this process."""
    assert when in ("before", "after"), when
    real = os.replace
    seen = [0]
    lock = threading.Lock()

    def replace(src, dst, *args, **kwargs):
        if not fnmatch.fnmatch(os.path.basename(os.fspath(dst)), pattern):
            return real(src, dst, *args, **kwargs)
        with lock:
            seen[0] += 1
            hit = seen[0] == nth
        if hit and when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        real(src, dst, *args, **kwargs)
        if hit:
            os.kill(os.getpid(), signal.SIGKILL)

    os.replace = replace


def _returncode(status: int) -> int:
    """Like subprocess: -N for a death by signal N."""
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def chain(windows: list, args: list[str]) -> list[dict]:
    from pelsim.campaign import runner
    from pelsim.cli import main as pelsim_main

    out = args[args.index("--out") + 1]
    results = []
    for window in windows:
        assert threading.active_count() == 1, "fork needs a process without threads"
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the run
            code = 1
            try:
                if window:
                    kill_at(*window)
                code = pelsim_main(args)
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        st = runner.status(out) if os.path.exists(os.path.join(out, "campaign.json")) else {}
        results.append(
            {
                "window": window,
                "returncode": _returncode(status),
                "state": st.get("state"),
                "tasks_done": st.get("tasks_done"),
                "tasks_total": st.get("tasks_total"),
            }
        )
    return results


def main(argv: list[str]) -> int:
    if argv[0] == "--chain":
        assert argv[2] == "--", argv
        with open(argv[1]) as fh:
            windows = json.load(fh)
        print(json.dumps(chain(windows, argv[3:])))
        return 0
    when, pattern, nth = argv[0], argv[1], int(argv[2])
    assert argv[3] == "--", argv
    kill_at(when, pattern, nth)
    from pelsim.cli import main as pelsim_main

    return pelsim_main(argv[4:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
