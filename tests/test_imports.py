"""Every goplan module imports on its own, and no goplan modules import each other in a cycle.

The import graph is read from the source with ast: an edge M -> N for every `import N`, `from N import x`
or `from P import N` statement of M whose N is a goplan module, wherever the statement stands (at the
top, in a try block, or inside a function, where it runs later). For `from P import x` the edge goes to
the module P.x where there is one, else to P. Python also imports every package above a module before
the module itself; those implicit edges are not in the graph: a package's `__init__` that imports its own
modules is how a package re-exports their names, and it stays cycle-free as long as those modules import
each other by their full module names, never the package.

Then a fresh interpreter imports the modules in dependency order (each after the modules it imports),
each one after every goplan module was dropped from sys.modules again, so that each module is the first
goplan module its interpreter imports: its own imports must bring in everything it needs.
"""
from __future__ import annotations

import ast
import graphlib
import json
import subprocess
import sys
from pathlib import Path

import goplan

PACKAGE = "goplan"
SOURCE_ROOT = Path(goplan.__file__).resolve().parent.parent
# the packages whose modules must import every goplan module at the top, none inside a function
NO_LAZY_GOPLAN_IMPORTS = ("goplan.tasks", "goplan.data")
IMPORT_TIMEOUT_S = 120  # generous: the whole walk takes a few seconds

# Run in the fresh interpreter: import each module (argv: a JSON list of names) with no goplan module
# loaded yet; print a JSON list of [module, error] for those that failed.
IMPORT_EACH = """
import importlib, json, sys, traceback
failures = []
for name in json.loads(sys.argv[1]):
    for loaded in [m for m in sys.modules if m == "goplan" or m.startswith("goplan.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except BaseException:
        failures.append([name, traceback.format_exc()])
print(json.dumps(failures))
"""


def _modules() -> dict[str, tuple[Path, bool]]:
    """Every goplan module name -> (its file, whether it is a package's __init__)."""
    found = {}
    for path in sorted((SOURCE_ROOT / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(SOURCE_ROOT).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        found[".".join(parts)] = (path, is_package)
    return found


MODULES = _modules()


def _imports(name: str) -> list[tuple[str, bool]]:
    """(goplan module imported, whether the statement stands inside a function) for each import of `name`."""
    path, is_package = MODULES[name]
    package = name if is_package else name.rpartition(".")[0]
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                found.extend((alias.name, inner) for alias in child.names if alias.name in MODULES)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:  # relative: resolve against this module's package
                    anchor = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join(anchor + ([child.module] if child.module else []))
                for alias in child.names:
                    if f"{base}.{alias.name}" in MODULES:
                        found.append((f"{base}.{alias.name}", inner))
                    elif base in MODULES:
                        found.append((base, inner))
            visit(child, inner)

    visit(ast.parse(path.read_text(), filename=str(path)), False)
    return [(target, lazy) for target, lazy in found if target != name]


IMPORTS = {name: _imports(name) for name in MODULES}


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        return exc.args[1]
    return None


def test_the_graph_covers_the_package():
    assert {"goplan", "goplan.tasks.registry", "goplan.tasks.fetch.env", "goplan.data.collect.api",
            "goplan.data.formats"} <= set(MODULES)
    assert ("goplan.tasks.registry", False) in IMPORTS["goplan.tasks.point"]


def test_no_import_cycle_at_the_top_of_modules():
    graph = {name: {target for target, lazy in IMPORTS[name] if not lazy} for name in MODULES}
    assert _find_cycle(graph) is None, " -> ".join(_find_cycle(graph))


def test_no_import_cycle_even_through_imports_inside_functions():
    graph = {name: {target for target, _ in IMPORTS[name]} for name in MODULES}
    assert _find_cycle(graph) is None, " -> ".join(_find_cycle(graph))


def test_tasks_and_data_import_goplan_modules_only_at_the_top():
    lazy = {name: sorted(target for target, inner in IMPORTS[name] if inner)
            for name in MODULES if name.startswith(NO_LAZY_GOPLAN_IMPORTS)}
    assert not {name: targets for name, targets in lazy.items() if targets}


def test_every_module_imports_on_its_own_in_dependency_order():
    graph = {name: {target for target, _ in IMPORTS[name]} for name in MODULES}
    order = list(graphlib.TopologicalSorter(graph).static_order())
    assert set(order) == set(MODULES)
    done = subprocess.run([sys.executable, "-c", IMPORT_EACH, json.dumps(order)], capture_output=True, text=True,
                          timeout=IMPORT_TIMEOUT_S, check=True)
    failures = json.loads(done.stdout.strip().splitlines()[-1])
    assert not failures, "\n".join(f"{name}:\n{error}" for name, error in failures)
