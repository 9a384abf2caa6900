"""The campaign output directory: atomic writes, task markers, the log.

Layout of a campaign directory ``OUT/``::

    OUT/campaign.json          validated config, input-file digests, the campaign hash; written
                               first (the commit point of a new campaign); a resume must match it
    OUT/campaign.toml          the config as given (copied once, after campaign.json)
    OUT/campaign.lock          flock()ed by the run that owns the directory; holds its pid and host
    OUT/log.jsonl              one JSON event per line: start (versions, hash), task, merge, end
    OUT/tasks/g0000/<stage>.<ext>        result of task (glass 0, stage)
    OUT/tasks/g0000/<stage>.done.json    marker: written last, after the result, atomically
    OUT/catalogue.h5           all task catalogues merged (rebuilt from the task results)
    OUT/analysis/              distributions and predictions (JSON + NPZ)
    OUT/report/report.md       the report, with its PNGs beside it
    OUT/final.done.json        marker: merge and finalize complete (catalogue sha256); removed
                               before a merge starts, so a run killed in merge or finalize is not done

A task counts as finished only when its marker exists, the result named in it
exists and its sha256 matches; anything else is redone. Every file is written to a
temporary name in the same directory and moved into place with ``os.replace``
(:func:`etm.io.atomic_path`, the toolkit's one atomic write), which is atomic on POSIX,
so a SIGKILL at any moment leaves either the old file or the new one, never a torn one.
Leftover temporary files are removed on resume, by the run that holds the directory's
lock (:meth:`CampaignStore.lock`), never by another one.

A new campaign directory is claimed by writing ``campaign.json`` before anything else of
its own, so a kill at any point of the first claim leaves either a directory that holds
only the lock file and temporaries (claimed afresh by the next run) or a campaign.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import platform
import socket
import sys
import time
from pathlib import Path

from etm.io import TMP_TAG, atomic_path, atomic_write_text
from pelsim.errors import InputError, environment_failure

__all__ = ["TMP_TAG", "CampaignStore", "atomic_path", "atomic_write_text", "sha256_file", "versions"]

LOCK_NAME = "campaign.lock"
FINAL_MARKER = "final.done.json"


def _fsync(fh, name) -> None:
    """fsync, naming the file in the error (a full disk often answers only here)."""
    try:
        os.fsync(fh.fileno())
    except OSError as exc:
        if exc.filename is None:
            raise OSError(exc.errno, exc.strerror, str(name)) from None
        raise


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

    # -- the directory and its lock ---------------------------------------------------
    @property
    def lock_path(self) -> Path:
        return self.root / LOCK_NAME

    def check_target(self, toml_text: str | None = None) -> None:
        """Refuse (InputError, nothing written) an output path that is a file or not a campaign.

        ``toml_text``: the config about to be claimed (a leftover campaign.toml must equal it).
        """
        if self.root.exists() and not self.root.is_dir():
            raise InputError(f"{self.root} is a file, not a directory (a campaign is a directory)")
        if self.root.is_dir() and not (self.root / "campaign.json").exists():
            self._unclaimed_leftovers(toml_text)

    def lock(self) -> None:
        """Take the directory's exclusive lock, creating the directory; held until :meth:`unlock`.

        ``fcntl.flock`` on ``campaign.lock``: released by the kernel when the process ends,
        however it ends (SIGKILL included), so a stale lock is impossible. A second run on the
        same directory gets InputError naming the holder's pid and host. On a network file
        system flock needs NFSv4 (or Linux's NFS emulation of it).
        """
        self.check_target()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise environment_failure(exc, "creating the campaign directory") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = _read_holder(fd)
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise InputError(self._in_use(holder)) from None
            raise environment_failure(exc, "locking the campaign directory") from None
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode())
        except OSError as exc:
            os.close(fd)
            raise environment_failure(exc, "writing the campaign lock") from None
        self._lock_fd = fd

    def unlock(self) -> None:
        fd = getattr(self, "_lock_fd", None)
        if fd is not None:
            self._lock_fd = None
            os.close(fd)

    def _in_use(self, holder: str) -> str:
        return f"{self.root} is in use by another run ({holder}); wait for it to end or stop it"

    def check_free(self) -> None:
        """Refuse (InputError) a directory whose lock another process holds; reads only."""
        holder = self.holder()
        if holder is not None:
            raise InputError(self._in_use(holder))

    def holder(self) -> str | None:
        """'pid N on HOST' when another process holds the lock, else None (reads only)."""
        try:
            fd = os.open(self.lock_path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return _read_holder(fd)
        finally:
            os.close(fd)
        return None

    def _require_lock(self, what: str) -> None:
        if getattr(self, "_lock_fd", None) is None:
            raise RuntimeError(f"CampaignStore.{what} needs the directory's lock (CampaignStore.lock)")

    # -- identity -------------------------------------------------------------------
    def _unclaimed_leftovers(self, toml_text: str | None) -> None:
        """Raise unless the directory holds nothing but what a killed first claim leaves."""
        left = [p for p in self.root.iterdir() if p.name != LOCK_NAME and TMP_TAG not in p.name]
        toml = self.root / "campaign.toml"
        if left == [toml] and (toml_text is None or toml.read_text() == toml_text):
            left = []  # an older pelsim wrote campaign.toml first and was killed before campaign.json
        if left:
            raise InputError(f"{self.root} exists and is not a campaign directory; refusing to write there")

    def verify(self, cfg_hash: str, cfg_json: str | None = None, inputs: dict | None = None) -> bool:
        """True if the directory holds this campaign, False if it holds none; reads only.

        Raises InputError naming the difference when it holds another campaign: the changed
        input files when only they differ, else the two config hashes.
        """
        meta = self.root / "campaign.json"
        if not meta.exists():
            return False
        old = self.read_meta()
        if old["hash"] == cfg_hash:
            return True
        old_inputs = old.get("inputs") or {}
        if cfg_json is not None and old["config"] == json.loads(cfg_json) and old_inputs:
            changed = [f for f in old_inputs if (inputs or {}).get(f) != old_inputs[f]]
            if changed:
                raise InputError(
                    f"input file{'s' if len(changed) > 1 else ''} {', '.join(changed)} changed since "
                    f"the campaign in {self.root} started (sha256 {old_inputs[changed[0]][:12]} -> "
                    f"{(inputs or {}).get(changed[0], 'missing')[:12]}); restore "
                    f"{'them' if len(changed) > 1 else 'it'} or use a new --out directory"
                )
        raise InputError(
            f"{self.root} holds a different campaign (config hash {old['hash'][:12]} "
            f"!= {cfg_hash[:12]}); use a new --out directory"
        )

    def claim(self, cfg_json: str, cfg_hash: str, toml_text: str, inputs: dict | None = None) -> bool:
        """Create the campaign in the (locked) directory or check that it holds the same one.

        Returns True when resuming. Raises InputError (nothing written) if the directory
        holds another campaign or something that is not a campaign. ``campaign.json`` is
        written first: it is the commit point; everything before it is redone by the next run.
        """
        self._require_lock("claim")
        toml = self.root / "campaign.toml"
        if self.verify(cfg_hash, cfg_json, inputs):
            self.clean_temporaries()
            if not toml.is_file():  # killed between the two writes of the first claim
                atomic_write_text(toml, toml_text)
            return True
        self._unclaimed_leftovers(toml_text)
        self.clean_temporaries()
        meta = {"hash": cfg_hash, "config": json.loads(cfg_json), "inputs": inputs or {}}
        atomic_write_text(self.root / "campaign.json", json.dumps(meta, indent=2))
        atomic_write_text(toml, toml_text)
        return False

    def read_meta(self) -> dict:
        meta = self.root / "campaign.json"
        if not meta.is_file():
            raise InputError(f"{self.root} is not a campaign directory (no campaign.json)")
        try:
            data = json.loads(meta.read_text())
        except (ValueError, UnicodeDecodeError):
            raise InputError(f"{meta} is corrupt (not JSON); use a new --out directory") from None
        if not isinstance(data, dict):
            raise InputError(f"{meta} is corrupt (not a JSON object)")
        for key, kind in (("hash", str), ("config", dict)):
            if not isinstance(data.get(key), kind):
                raise InputError(f"{meta} is corrupt (no '{key}'); use a new --out directory")
        return data

    def clean_temporaries(self) -> int:
        """Remove leftover temporaries (of killed runs); only under the lock, as a live run's
        temporaries would otherwise go too."""
        self._require_lock("clean_temporaries")
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

    # -- merge and finalize ---------------------------------------------------------------
    @property
    def final_marker(self) -> Path:
        return self.root / FINAL_MARKER

    def clear_final(self) -> None:
        """Before a merge: the campaign is not finished until :meth:`commit_final` runs again."""
        with contextlib.suppress(FileNotFoundError):
            self.final_marker.unlink()

    def commit_final(self, finalized: bool, summary: dict) -> None:
        info = {
            "catalogue_sha256": sha256_file(self.catalogue_path),
            "finalized": bool(finalized),
            "summary": summary,
            "finished": time.time(),
        }
        atomic_write_text(self.final_marker, json.dumps(info, indent=1, default=str))

    def final_state(self) -> dict | None:
        """The final marker if it is valid for the catalogue in place, else None."""
        try:
            info = json.loads(self.final_marker.read_text())
            if sha256_file(self.catalogue_path) != info["catalogue_sha256"]:
                return None
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return info

    # -- log ------------------------------------------------------------------------
    def log(self, event: str, **fields) -> None:
        """Append one event line to the campaign log (a torn last line is skipped on read)."""
        rec = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "event": event, **fields}
        with open(self.log_path, "a") as fh:
            fh.write(json.dumps(rec, default=str) + "\n")
            fh.flush()
            _fsync(fh, self.log_path)

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


def _read_holder(fd: int) -> str:
    """The 'pid N on HOST' a lock holder wrote into the lock file (retries once: it may be writing)."""
    for _ in range(2):
        try:
            text = os.pread(fd, 200, 0).decode(errors="replace").strip()
        except OSError:
            text = ""
        if text:
            return text
        time.sleep(0.2)
    return "pid unknown"
