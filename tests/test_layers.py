"""The code's shape, checked: layers import each other through public names only, nobody reaches
into another object's private attributes, no import cycle, benchmarks build configurations and
never patch the package, and every relative link of the docs resolves."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PKG = REPO / "arxiv_reco"


def _modules(root: Path) -> dict[str, Path]:
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _resolve(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _own_privates(tree: ast.AST) -> set[str]:
    """Private attribute names this module's own classes keep (self._x / cls._x / names it defines)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
            names.add(node.attr)
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        if isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return {n for n in names if _private(n)}


def _violations(files: dict[str, Path]) -> list[str]:
    found = []
    for path in files.values():
        tree = ast.parse(path.read_text(), str(path))
        own = _own_privates(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module != "__future__":
                found += [f"{path.relative_to(REPO)}:{node.lineno} imports {a.name}" for a in node.names if _private(a.name)]
            elif (isinstance(node, ast.Attribute) and _private(node.attr) and node.attr not in own
                  and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))):
                found.append(f"{path.relative_to(REPO)}:{node.lineno} reaches into .{node.attr}")
    return found


def test_no_module_uses_another_modules_private_names():
    assert _violations(_modules(PKG)) == []


def test_benchmarks_use_public_names_and_never_patch_the_package():
    bench = {f"bench.{p.stem}": p for p in (REPO / "bench").glob("*.py")}
    assert _violations(bench) == []
    for path in bench.values():
        tree = ast.parse(path.read_text())
        imported = {a.asname or a.name.split(".")[0] for n in ast.walk(tree)
                    if isinstance(n, ast.Import | ast.ImportFrom) and (getattr(n, "module", "") or "").startswith("arxiv_reco")
                    for a in n.names} | {"arxiv_reco"}
        for node in ast.walk(tree):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AugAssign) else []
            for t in targets:
                root = t
                while isinstance(root, ast.Attribute | ast.Subscript):
                    root = root.value
                assert not (t is not root and isinstance(root, ast.Name) and root.id in imported), \
                    f"{path.name}:{node.lineno} assigns into the package ({ast.unparse(t)})"
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "setattr":
                raise AssertionError(f"{path.name}:{node.lineno} patches with setattr")
        assert "sys.path" not in path.read_text(), f"{path.name} imports through sys.path"


def _graph() -> dict[str, set[str]]:
    files = _modules(PKG)
    graph = {m: set() for m in files}
    for module, path in files.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                target = _resolve(module, node, is_package)
                for a in node.names:
                    full = f"{target}.{a.name}"
                    dest = full if full in files else target if target in files else None
                    if dest and dest != module and not (is_package and dest.startswith(module + ".")):
                        graph[module].add(dest)
    return graph


def test_no_import_cycles_between_modules():
    graph = _graph()
    # a package's __init__ only re-exports its modules lazily: not an edge back into them
    state, cycles = {}, []

    def visit(m, stack):
        state[m] = 1
        for d in graph[m]:
            if d.endswith("__init__") or d == "arxiv_reco":
                continue
            if state.get(d) == 1:
                cycles.append(stack[stack.index(d):] + [d])
            elif d not in state:
                visit(d, stack + [d])
        state[m] = 2

    for m in graph:
        if m not in state:
            visit(m, [m])
    assert cycles == []


def test_the_layers_are_folders_with_small_public_surfaces():
    import importlib

    import arxiv_reco

    for layer in ("papers", "pairs", "labels", "training", "vectors", "index", "reader", "cli"):
        assert (PKG / layer / "__init__.py").exists()
    for layer in ("papers", "pairs", "labels", "training", "vectors", "index", "reader"):
        surface = importlib.import_module(f"arxiv_reco.{layer}").__all__
        assert 0 < len(surface) <= 20
        for name in surface:
            getattr(importlib.import_module(f"arxiv_reco.{layer}"), name)
    assert len(arxiv_reco.__all__) <= 40
    flat = [p.name for p in PKG.glob("*.py")]
    assert sorted(flat) == ["__init__.py", "__main__.py", "artifacts.py", "config.py", "hub.py", "lazy.py", "options.py",
                            "pipeline.py", "plots.py"]


@pytest.mark.parametrize("doc", sorted([REPO / "README.md", *(REPO / "docs").glob("*.md")]), ids=lambda p: p.name)
def test_every_relative_link_resolves(doc):
    text = re.sub(r"```.*?```", "", doc.read_text(), flags=re.S)  # links in code blocks are examples
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        path = (doc.parent / target.split("#")[0]).resolve()
        assert path.exists(), f"{doc.name} links to {target}, which does not exist"
