"""The import-layer contract of the three packages, checked on the source (ast), imports inside
functions included:

    etm (physics)  <-  pelsim core  <-  analysis  <-  pelsim.campaign  <-  CLIs

A module may import only from its own layer or the layers left of it (the CLIs are
``etm.cli``, ``pelsim.cli.*`` and ``pelsim.__main__``). There is no import cycle among the
modules, and no feature is looked up by name: no ``importlib`` and no ``getattr``/``hasattr``
on an imported module (the one exception is the campaign runner's plug-in, the stages module a
campaign file names in ``campaign.stages_module``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("etm", "pelsim", "analysis")
#: the documented plug-in: a campaign file names its stages module (docs/campaigns.md)
PLUGIN_LOADERS = {"pelsim.campaign.runner"}


def _modules() -> dict[str, Path]:
    mods = {}
    for pkg in PACKAGES:
        for f in (ROOT / pkg).rglob("*.py"):
            parts = f.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            mods[name] = f
    return mods


MODULES = _modules()


def _resolve(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(name: str, path: Path):
    """(imported module, line, module-level alias names) for every import in the file."""
    tree = ast.parse(path.read_text(), str(path))
    pkg = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, node.lineno, a.asname or a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            for a in node.names:
                yield f"{base}.{a.name}", node.lineno, a.asname or a.name


def _graph() -> nx.DiGraph:
    G = nx.DiGraph()
    G.add_nodes_from(MODULES)
    for name, path in MODULES.items():
        for target, _, _ in _imports(name, path):
            t = _resolve(target)
            if t and t != name:
                G.add_edge(name, t)
    return G


def layer(module: str) -> int:
    if module in ("etm.cli", "pelsim.__main__") or module.startswith("pelsim.cli"):
        return 4
    if module.startswith("pelsim.campaign"):
        return 3
    if module.startswith("analysis"):
        return 2
    if module.startswith("pelsim"):
        return 1
    return 0  # etm


def test_layers_point_one_way():
    bad = [
        f"{a} (layer {layer(a)}) imports {b} (layer {layer(b)})"
        for a, b in _graph().edges
        if layer(b) > layer(a)
    ]
    assert not bad, "\n".join(bad)


def test_no_import_cycles():
    cycles = [sorted(c) for c in nx.strongly_connected_components(_graph()) if len(c) > 1]
    assert not cycles, cycles


def _lookups(name: str, source: str) -> list[str]:
    """importlib dispatch, __import__, and getattr/hasattr on one of our modules, in ``source``."""
    tree = ast.parse(source)
    ours = set()  # names bound to one of our modules
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            ours |= {a.asname or a.name for a in node.names if f"{base}.{a.name}" in MODULES}
        elif isinstance(node, ast.Import):
            ours |= {a.asname or a.name.split(".")[0] for a in node.names if _resolve(a.name)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name == "importlib" for a in node.names):
            found.append(f"line {node.lineno}: import importlib")
        if isinstance(node, ast.ImportFrom) and node.module == "importlib":
            if any(a.name not in ("resources", "metadata") for a in node.names):
                found.append(f"line {node.lineno}: from importlib import ...")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args:
            fn, first = node.func.id, node.args[0]
            if fn == "__import__" or (
                fn in ("getattr", "hasattr") and isinstance(first, ast.Name) and first.id in ours
            ):
                found.append(f"line {node.lineno}: {fn}({ast.unparse(first)}, ...)")
    return found


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_feature_looked_up_by_name(name):
    if name in PLUGIN_LOADERS:
        return
    found = _lookups(name, MODULES[name].read_text())
    assert not found, f"{name}: " + "; ".join(found)


def test_the_contract_can_fail():
    """The checks see imports inside functions, a back edge (analysis -> campaign) and look-ups."""
    src = "def f():\n    from pelsim.campaign.store import CampaignStore\n"
    targets = [n.module for n in ast.walk(ast.parse(src)) if isinstance(n, ast.ImportFrom)]
    assert targets == ["pelsim.campaign.store"]
    assert layer("pelsim.campaign.store") > layer("analysis.report")
    assert layer("etm.cli") > layer("pelsim.campaign.stages") > layer("analysis.bridge") > layer("etm.echo")
    bad = "from analysis import bridge\nimport importlib\ndef g():\n    return hasattr(bridge, 'x')\n"
    assert len(_lookups("analysis.report", bad)) == 2
    ok = "from importlib import resources\nx = getattr(object(), 'y')\n"
    assert _lookups("analysis.report", ok) == []
