"""Files of the toolkit: the one atomic write, and CSV / JSON column tables.

* :func:`atomic_path` - a temporary path beside the target, moved onto it with ``os.replace``
  (atomic on POSIX) when the ``with`` block succeeds, removed when it fails; a SIGKILL at any
  moment leaves the old file or the new one, never a torn one. **A missing parent folder is
  created** (``mkdir -p``), for every caller alike (``etm --out``, figures, the campaign
  store, pelsim's extxyz / LAMMPS writers, the report). The temporary name is
  ``<stem>.tmp-<12 hex><suffix>`` (:data:`TMP_TAG`; the campaign store removes leftovers on
  resume). A folder that cannot be created or written raises
  :class:`~etm.errors.EnvironmentFailure` (exit 3 in the CLIs).
* :func:`atomic_write_text` - text through :func:`atomic_path`.
* :func:`table_text` / :func:`read_csv_columns` - the column tables of the ``etm`` CLI
  (header row + rows of shortest round-trip floats, or JSON rows) and their reader.

This is the lowest layer (it imports only :mod:`etm.errors`): pelsim, analysis and the CLIs all
write through it.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import uuid
from pathlib import Path

import numpy as np

from etm.errors import EnvironmentFailure, InputError

TMP_TAG = ".tmp-"


@contextlib.contextmanager
def atomic_path(final: str | Path, suffix: str | None = None):
    """Yield a temporary :class:`~pathlib.Path` beside ``final``; on success move it onto ``final``.

    The parent folder is created if missing. ``suffix``: the temporary file's suffix (default
    ``final``'s, so that writers that infer the format from the name still work). Nothing is
    left behind when the block raises. OSErrors of the folder, the sync or the rename become
    :class:`EnvironmentFailure` (one line); errors of the block itself pass unchanged.
    """
    final = Path(final)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        msg = f"cannot create output folder {str(final.parent)!r}: {exc.strerror}"
        raise EnvironmentFailure(msg) from None
    sfx = final.suffix if suffix is None else suffix
    tmp = final.with_name(f"{final.stem}{TMP_TAG}{uuid.uuid4().hex[:12]}{sfx}")
    try:
        yield tmp
        if tmp.exists():
            try:
                with open(tmp, "rb") as fh:
                    os.fsync(fh.fileno())
                os.replace(tmp, final)
            except OSError as exc:
                raise EnvironmentFailure(f"cannot write {str(final)!r}: {exc.strerror}") from None
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_text(final: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8, newlines as given) to ``final`` atomically; see :func:`atomic_path`."""
    with atomic_path(final) as tmp:
        try:
            with open(tmp, "w", encoding="utf-8", newline="") as fh:
                fh.write(text)
        except OSError as exc:
            raise EnvironmentFailure(f"cannot write {str(final)!r}: {exc.strerror}") from None


def _fmt(x) -> str:
    """Shortest round-trip text of a float (so the CSV carries full float64 precision)."""
    return repr(float(x))


def table_text(columns: dict[str, np.ndarray], fmt: str = "csv") -> str:
    """CSV (header row + rows) or JSON (list of row objects) text of a column table."""
    names = list(columns)
    arrays = [np.asarray(columns[n], dtype=np.float64).ravel() for n in names]
    n = arrays[0].size if arrays else 0
    if fmt == "json":
        rows = [{name: float(a[i]) for name, a in zip(names, arrays, strict=True)} for i in range(n)]
        return json.dumps(rows, indent=1) + "\n"
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(names)
    for i in range(n):
        w.writerow([_fmt(a[i]) for a in arrays])
    return buf.getvalue()


def read_csv_columns(path: str) -> dict[str, np.ndarray]:
    """Read a CSV with a header row into float64 columns; InputError on any problem."""
    if not os.path.isfile(path):
        raise InputError(f"file not found: {path}")
    with open(path, newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.reader(fh) if r and not r[0].lstrip().startswith("#")]
    if len(rows) < 2:
        raise InputError(f"{path}: needs a header row and at least one data row")
    header = [h.strip() for h in rows[0]]
    data = {h: [] for h in header}
    for lineno, r in enumerate(rows[1:], start=2):
        if len(r) != len(header):
            raise InputError(f"{path}: row {lineno} has {len(r)} fields, header has {len(header)}")
        for h, v in zip(header, r, strict=True):
            try:
                data[h].append(float(v))
            except ValueError:
                raise InputError(f"{path}: row {lineno}, column {h!r}: {v!r} is not a number") from None
    return {h: np.asarray(v, dtype=np.float64) for h, v in data.items()}
