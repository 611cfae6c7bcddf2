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


def test_the_layers_are_folders_whose_docstring_lists_their_modules():
    import arxiv_reco

    for layer in ("papers", "pairs", "labels", "training", "vectors", "index", "reader"):
        init = PKG / layer / "__init__.py"
        tree = ast.parse(init.read_text())
        # a layer exports nothing itself: a name is imported from the module that makes it
        assert all(isinstance(n, ast.Expr) for n in tree.body), f"{layer}/__init__.py holds more than its docstring"
        doc = ast.get_docstring(tree)
        for module in sorted(p.stem for p in (PKG / layer).glob("*.py") if p.stem != "__init__"):
            assert f"``{module}``" in doc, f"{layer}'s docstring does not list its module {module}"
    assert len(arxiv_reco.__all__) <= 40
    flat = [p.name for p in PKG.glob("*.py")]
    assert sorted(flat) == ["__init__.py", "__main__.py", "artifacts.py", "config.py", "dates.py", "hub.py", "lazy.py",
                            "options.py", "pipeline.py", "plots.py"]


def test_each_top_level_name_is_the_object_its_module_defines_and_tools_see_the_same():
    import importlib
    import subprocess
    import sys

    import arxiv_reco

    init = ast.parse((PKG / "__init__.py").read_text())
    seen = {}  # what IDEs and type checkers read: the TYPE_CHECKING imports
    for node in ast.walk(init):
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            for imp in node.body:
                seen.update({a.name: imp.module for a in imp.names})
    assert sorted(seen) == sorted(arxiv_reco.__all__)
    for name, module in seen.items():
        assert getattr(arxiv_reco, name) is getattr(importlib.import_module(f"arxiv_reco.{module}"), name), name
    # and in a fresh process that imported every module first (a submodule must never bind over a name)
    code = ("import importlib, pkgutil, arxiv_reco\n"
            "for m in pkgutil.walk_packages(arxiv_reco.__path__, 'arxiv_reco.'):\n"
            "    m.name.endswith(('app', '__main__')) or importlib.import_module(m.name)\n"
            "print(sorted(n for n in arxiv_reco.__all__ if type(getattr(arxiv_reco, n)).__name__ == 'module'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("doc", sorted([REPO / "README.md", *(REPO / "docs").glob("*.md")]), ids=lambda p: p.name)
def test_every_relative_link_resolves(doc):
    text = re.sub(r"```.*?```", "", doc.read_text(), flags=re.S)  # links in code blocks are examples
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        path = (doc.parent / target.split("#")[0]).resolve()
        assert path.exists(), f"{doc.name} links to {target}, which does not exist"


def _names_a_real_object(dotted: str) -> bool:
    import importlib

    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for part in parts[cut:]:
            if not hasattr(obj, part):
                return False
            obj = getattr(obj, part)
        return True
    return False


def test_every_dotted_arxiv_reco_name_in_code_and_docs_is_real():
    # modules move between layers; a docstring or a page that still names the old place misleads
    files = [*PKG.rglob("*.py"), *(REPO / "docs").glob("*.md"), REPO / "README.md", *(REPO / "bench").glob("*.py"),
             *(REPO / "notebooks").glob("*.ipynb")]
    stale = set()
    for path in files:
        for m in re.finditer(r"(?<![\w/.])arxiv_reco(?:\.[A-Za-z_]\w*)+", path.read_text()):
            name = m.group(0)
            if not name.endswith(".json") and not _names_a_real_object(name):  # arxiv_reco.json: a file's name
                stale.add(f"{path.relative_to(REPO)}: {name}")
    assert not stale, sorted(stale)


# the commands import their step's modules when they run, so `arxiv-reco --help` and `import arxiv_reco` stay fast
LAZY_BY_DESIGN = {"arxiv_reco.cli.steps", "arxiv_reco.cli.reader", "arxiv_reco.cli.common", "arxiv_reco.pipeline"}
PATCHED = {"load_model", "resolve_model"}  # test_hostile replaces them where defined: a model loaded too early shows


def _at_the_top(files: dict[str, Path]) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Each module's own modules and third-party packages imported when it is imported."""
    import sys

    own, third = {}, {}
    for module, path in files.items():
        own[module], third[module] = set(), set()
        for node in ast.parse(path.read_text()).body:  # the module's own statements: not functions, not TYPE_CHECKING
            if isinstance(node, ast.Import):
                third[module] |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module != "__future__":
                target = _resolve(module, node, path.name == "__init__.py")
                if target.startswith("arxiv_reco"):
                    parts = target.split(".")
                    own[module] |= {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
                    own[module] |= {f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in files}
                else:
                    third[module].add(target.split(".")[0])
        third[module] -= set(sys.stdlib_module_names)
        own[module] = {m for m in own[module] if m in files and m != module}
    return own, third


def test_own_modules_are_imported_at_the_top_unless_a_heavy_library_or_a_cycle_says_otherwise():
    files = _modules(PKG)
    own, third = _at_the_top(files)

    def closure(m, seen):
        if m in seen:
            return set()
        seen.add(m)
        return third[m].union(*(closure(d, seen) for d in own[m]))

    def reaches(a, b, seen):
        return a == b or (a not in seen and not seen.add(a) and any(reaches(d, b, seen) for d in own[a]))

    late = []
    for module, path in files.items():
        if module in LAZY_BY_DESIGN:
            continue
        tree = ast.parse(path.read_text())
        for fn in ast.walk(tree):
            for node in getattr(fn, "body", []) if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef) else []:
                if not (isinstance(node, ast.ImportFrom) and node.level):
                    continue
                target = _resolve(module, node, path.name == "__init__.py")
                names = {a.name for a in node.names}
                dests = {f"{target}.{n}" if f"{target}.{n}" in files else target for n in names}
                heavier = any(closure(d, set()) - closure(module, set()) for d in dests)
                cycle = any(reaches(d, module, set()) for d in dests)
                if not (heavier or cycle or names & PATCHED):
                    late.append(f"{path.relative_to(REPO)}:{node.lineno} imports {target} inside {fn.name}")
    assert late == [], "import these at the top of the module:\n" + "\n".join(late)


def test_every_name_of_the_top_level_surface_has_a_one_line_example():
    import inspect

    import arxiv_reco

    bare = [n for n in arxiv_reco.__all__ if ">>>" not in (inspect.getdoc(getattr(arxiv_reco, n)) or "")]
    assert bare == [], f"these have no example in their docstring: {bare}"
