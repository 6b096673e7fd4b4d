"""The layout of ``wholebody.experts``: every module imports on its own, the sub-packages depend
one way only (runtime <- detect, landmarks <- assemble), and no modules import each other.

Imports are read from the source (``ast``), lazy ones inside functions included: a lazy import
hides a circle from Python but not from a reader.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import wholebody

EXPERTS = Path(wholebody.__file__).resolve().parent / "experts"
PREFIX = "wholebody.experts"

# Sub-package -> sub-packages it must never import.  ``landmarks`` may use a detector (the face
# mesh's fallback face detector); a detector never needs a landmark model.
FORBIDDEN = {
    "runtime": {"detect", "landmarks", "assemble"},
    "detect": {"landmarks", "assemble"},
    "landmarks": {"assemble"},
}
# Top-level modules shared by everyone: they import no sub-package at module level or lazily.
SHARED = {"crops"}


def module_name(path: Path) -> str:
    parts = path.relative_to(EXPERTS.parent.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def all_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(EXPERTS.rglob("*.py"))}


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """The ``wholebody.experts`` modules that ``path`` imports anywhere in its code."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # ``from pkg import sub`` imports the module ``pkg.sub`` when it is one.
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(name for name in names if name in known and name.startswith(PREFIX + "."))
    return found


def import_graph() -> dict[str, set[str]]:
    modules = all_modules()
    known = set(modules)
    return {name: imported_modules(path, known) - {name} for name, path in modules.items()}


def sub_package(module: str) -> str:
    return module.split(".")[2] if module.count(".") >= 2 else ""


def test_the_four_sub_packages_exist_and_no_flat_leftovers():
    subs = {path.name for path in EXPERTS.iterdir() if (path / "__init__.py").is_file()}
    assert subs == {"runtime", "detect", "landmarks", "assemble"}
    flat = {path.stem for path in EXPERTS.glob("*.py")}
    assert flat == {"__init__", "crops", "benchmark"}, "new expert modules belong in a sub-package"


def test_sub_packages_depend_one_way_only():
    wrong = []
    for module, imports in import_graph().items():
        own = sub_package(module)
        banned = FORBIDDEN.get(own, set()) | (set(FORBIDDEN["runtime"]) | {"runtime"} if own in SHARED else set())
        wrong += [f"{module} imports {target}" for target in sorted(imports) if sub_package(target) in banned]
    assert not wrong, "import direction broken:\n" + "\n".join(wrong)


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, circles = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return circles


def test_circle_finder_sees_a_lazy_circle():
    # The detector of the test below must see the kind of circle the old layout had.
    assert _circles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]


def test_no_module_circles_lazy_imports_included():
    # Package __init__ modules import nothing from their children except the experts package's lazy
    # ``WholeBodyEstimator``; leave it out so it does not count as a circle with the estimator.
    graph = {name: {target for target in imports if target != PREFIX} for name, imports in import_graph().items()}
    assert _circles(graph) == []


ISOLATED_IMPORTS = """
import importlib, json, sys
failures = {}
for name in NAMES:
    for loaded in [m for m in sys.modules if m == "wholebody" or m.startswith("wholebody.")]:
        del sys.modules[loaded]  # each module first, as if in its own interpreter
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as err:
        if (err.name or "").startswith("wholebody"):
            failures[name] = repr(err)
    except Exception as err:
        failures[name] = repr(err)
from wholebody.experts import WholeBodyEstimator
from wholebody.experts.assemble.estimator import WholeBodyEstimator as Direct
assert WholeBodyEstimator is Direct
print(json.dumps(failures))
"""


def test_every_module_imports_first_and_alone():
    """Each module imported first, with no other ``wholebody`` module loaded (one subprocess; only
    third-party modules stay cached between imports, which keeps this fast on a small machine)."""
    names = sorted(all_modules())
    code = ISOLATED_IMPORTS.replace("NAMES", repr(names))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          cwd=EXPERTS.parent.parent)
    assert done.returncode == 0, done.stderr[-3000:]
    failures = json.loads(done.stdout.strip().splitlines()[-1])
    assert failures == {}, failures


@pytest.mark.parametrize("package", ["runtime", "detect", "landmarks", "assemble"])
def test_importing_a_sub_package_loads_none_of_its_modules(package):
    done = subprocess.run([sys.executable, "-c", f"import sys, {PREFIX}.{package}; "
                           f"print(sorted(m for m in sys.modules if m.startswith('{PREFIX}.{package}.')))"],
                          capture_output=True, text=True, timeout=120, cwd=EXPERTS.parent.parent)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"
