"""The package's shape: three layers with arrows one way (recipes -> training -> models; the library helpers
beside them import neither training nor recipes), no import cycle, no function-level import of a hf_argen module,
and functions of at most 80 lines, everywhere in the package."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "hf_argen"
LAYERS = {"hf_argen.models": 0, "hf_argen.training": 1, "hf_argen.recipes": 2, "hf_argen.cli": 3}


def _modules() -> dict[str, Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


MODULES = _modules()


def _targets(module: str, path: Path, node) -> list[str]:
    """The hf_argen modules an import statement in `module` names."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name in MODULES]
    base = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    if node.level:
        base = base[: len(base) - node.level + 1]
        name = ".".join(base + ([node.module] if node.module else []))
    else:
        name = node.module or ""
    found = [f"{name}.{a.name}" if f"{name}.{a.name}" in MODULES else name for a in node.names]
    return [t for t in found if t in MODULES]


def _imports() -> dict[str, set[str]]:
    graph = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text())
        graph[module] = {
            t for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom)) for t in _targets(module, path, n)
        }
    return graph


def _layer(module: str) -> int | None:
    return next((v for k, v in LAYERS.items() if module == k or module.startswith(k + ".")), None)


def test_layers_import_downwards_only():
    wrong = []
    for module, targets in _imports().items():
        for target in targets:
            here, there = _layer(module), _layer(target)
            if there is not None and (here is None and there >= 1 or here is not None and there > here):
                wrong.append(f"{module} -> {target}")
    assert not wrong, wrong


def test_no_import_cycles():
    graph, state, cycles = _imports(), {}, []

    def visit(module, trail):
        state[module] = "open"
        for target in sorted(graph.get(module, ())):
            if target.startswith(module + "."):  # a package importing its own submodules is no cycle
                continue
            if state.get(target) == "open":
                cycles.append(trail[trail.index(target) :] + [target])
            elif target not in state:
                visit(target, trail + [target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles, cycles


def _functions(relative: str):
    tree = ast.parse((PACKAGE.parent / relative).read_text())
    return [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]


FILES = sorted(str(p.relative_to(PACKAGE.parent)) for p in MODULES.values())


@pytest.mark.parametrize("relative", FILES)
def test_functions_are_at_most_80_lines(relative):
    long = [(f.name, f.end_lineno - f.lineno + 1) for f in _functions(relative) if f.end_lineno - f.lineno >= 80]
    assert not long, long


@pytest.mark.parametrize("relative", FILES)
def test_no_function_level_imports_of_hf_argen_modules(relative):
    module = next(m for m, p in MODULES.items() if str(p.relative_to(PACKAGE.parent)) == relative)
    hidden = [
        (function.name, node.lineno)
        for function in _functions(relative)
        for node in ast.walk(function)
        if isinstance(node, (ast.Import, ast.ImportFrom)) and _targets(module, MODULES[module], node)
    ]
    assert not hidden, hidden
