"""The campaign output directory: atomic writes, task markers, the log.

Layout of a campaign directory ``OUT/``::

    OUT/campaign.toml          the config as given (copied once)
    OUT/campaign.json          validated config + its hash; a resume must match it
    OUT/log.jsonl              one JSON event per line: start (versions, hash), task, merge, end
    OUT/tasks/g0000/<stage>.<ext>        result of task (glass 0, stage)
    OUT/tasks/g0000/<stage>.done.json    marker: written last, after the result, atomically
    OUT/catalogue.h5           all task catalogues merged (rebuilt from the task results)
    OUT/analysis/              distributions and predictions (JSON + NPZ)
    OUT/report/report.md       the report, with its PNGs beside it

A task counts as finished only when its marker exists, the result named in it
exists and its sha256 matches; anything else is redone. Every file is written to a
temporary name in the same directory and moved into place with ``os.replace``
(:func:`etm.io.atomic_path`, the toolkit's one atomic write), which is atomic on POSIX,
so a SIGKILL at any moment leaves either the old file or the new one, never a torn one.
Leftover temporary files are removed on resume.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import sys
import time
from pathlib import Path

from etm.io import TMP_TAG, atomic_path, atomic_write_text
from pelsim.errors import InputError

__all__ = ["TMP_TAG", "CampaignStore", "atomic_path", "atomic_write_text", "sha256_file", "versions"]

def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def versions() -> dict:
    """Versions of Python and of the packages whose behaviour sets the results."""
    from importlib import metadata

    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for dist in (
        "pelsim",
        "jax",
        "jaxlib",
        "jax-md",
        "numpy",
        "scipy",
        "h5py",
        "ase",
        "networkx",
        "lmfit",
        "dask",
        "distributed",
    ):
        try:  # from package metadata: importing jax_md alone takes ~5 s
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


class CampaignStore:
    """One campaign directory (see the module docstring for the layout)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.tasks_dir = self.root / "tasks"
        self.catalogue_path = self.root / "catalogue.h5"
        self.analysis_dir = self.root / "analysis"
        self.report_dir = self.root / "report"
        self.log_path = self.root / "log.jsonl"

    # -- identity -------------------------------------------------------------------
    def claim(self, cfg_json: str, cfg_hash: str, toml_text: str) -> bool:
        """Create the directory for this campaign or check that it holds the same one.

        Returns True when resuming. Raises InputError (nothing written) if the
        directory holds another campaign or something that is not a campaign.
        """
        meta = self.root / "campaign.json"
        if meta.exists():
            try:
                old = json.loads(meta.read_text())
                old_hash = old["hash"]
            except (ValueError, KeyError):
                raise InputError(f"{meta} is corrupt; use a new --out directory") from None
            if old_hash != cfg_hash:
                raise InputError(
                    f"{self.root} holds a different campaign (config hash {old_hash[:12]} "
                    f"!= {cfg_hash[:12]}); use a new --out directory"
                )
            self.clean_temporaries()
            return True
        if self.root.exists() and any(self.root.iterdir()):
            raise InputError(f"{self.root} exists and is not a campaign directory; refusing to write there")
        self.root.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.root / "campaign.toml", toml_text)
        atomic_write_text(meta, json.dumps({"hash": cfg_hash, "config": json.loads(cfg_json)}, indent=2))
        return False

    def read_meta(self) -> dict:
        meta = self.root / "campaign.json"
        if not meta.is_file():
            raise InputError(f"{self.root} is not a campaign directory (no campaign.json)")
        try:
            return json.loads(meta.read_text())
        except ValueError:
            raise InputError(f"{meta} is corrupt") from None

    def clean_temporaries(self) -> int:
        n = 0
        for p in self.root.rglob(f"*{TMP_TAG}*"):
            with contextlib.suppress(OSError):
                p.unlink()
                n += 1
        return n

    # -- tasks ----------------------------------------------------------------------
    def task_output(self, glass: int, stage: str, ext: str) -> Path:
        return self.tasks_dir / f"g{glass:04d}" / f"{stage}.{ext}"

    def marker(self, glass: int, stage: str) -> Path:
        return self.tasks_dir / f"g{glass:04d}" / f"{stage}.done.json"

    def finished(self, glass: int, stage: str) -> dict | None:
        """The marker of a finished task, or None when the task must be (re)done."""
        m = self.marker(glass, stage)
        if not m.is_file():
            return None
        try:
            info = json.loads(m.read_text())
            out = m.parent / info["output"]
            if not out.is_file() or sha256_file(out) != info["sha256"]:
                return None
        except (ValueError, KeyError, OSError):
            return None
        return info

    def commit_task(self, glass: int, stage: str, output: Path, seconds: float, summary: dict) -> dict:
        """Write the marker of a task whose result is already in place at ``output``."""
        info = {
            "glass": glass,
            "stage": stage,
            "output": output.name,
            "sha256": sha256_file(output),
            "seconds": round(seconds, 3),
            "summary": summary,
            "finished": time.time(),
        }
        atomic_write_text(self.marker(glass, stage), json.dumps(info, indent=1))
        return info

    # -- log ------------------------------------------------------------------------
    def log(self, event: str, **fields) -> None:
        """Append one event line to the campaign log (a torn last line is skipped on read)."""
        rec = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "event": event, **fields}
        with open(self.log_path, "a") as fh:
            fh.write(json.dumps(rec, default=str) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def read_log(self) -> list[dict]:
        if not self.log_path.is_file():
            return []
        out = []
        for line in self.log_path.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:  # torn line from a SIGKILL mid-write
                continue
        return out
