"""The package's plan, read from its imports: no circle, nothing pointing back up.

The tiers are docs/architecture.md's, lowest first. A module may import from its own
tier and the tiers below; every import counts, deferred ones inside functions included,
because a deferred import that points up is a circle waiting for its first call.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, List, Set

import pytest
from cold_start import COLD_START_RUNTIME, COLD_START_STDLIB, imported_modules

PACKAGE = Path(__file__).resolve().parents[2] / "bootstrap_sdk"

TIERS = [
    ("foundation", ["settings", "environment", "json_text", "errors", "logs", "http_connection"]),
    ("invoke", ["context", "payload", "runtime_api", "streaming", "extensions", "shutdown"]),
    ("copybook", ["copybook"]),
    ("adapter", ["adapter"]),
    ("loop", ["invoke_loop", "workers", "python_handler"]),
    ("entry", ["entry", "__init__", "__main__"]),
    ("packaging", ["packaging"]),
    ("local", ["local"]),
]


def module_name(path: Path) -> str:
    parts = ["bootstrap_sdk"] + list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> Dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str, path: Path, modules: Set[str]) -> Set[str]:
    """The package's own modules that ``name`` imports, anywhere in its body."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: Set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("bootstrap_sdk"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("bootstrap_sdk"):
                continue
            for alias in node.names:  # `from . import logs` imports the module bootstrap_sdk.logs
                submodule = target + "." + alias.name
                found.add(submodule if submodule in modules else target)
    found.discard(name)
    return {m for m in found if m in modules}


def tier_of(name: str) -> int:
    first = name.split(".")[1] if "." in name else "__init__"
    for index, (_, members) in enumerate(TIERS):
        if first in members:
            return index
    raise AssertionError("%s is in no tier: add it to docs/architecture.md and TIERS" % name)


@pytest.fixture(scope="module")
def graph() -> Dict[str, Set[str]]:
    modules = all_modules()
    return {name: imports_of(name, path, set(modules)) for name, path in modules.items()}


def test_every_module_has_a_tier(graph):
    for name in graph:
        tier_of(name)


def test_no_import_points_back_up(graph):
    upward = ["%s (%s) imports %s (%s)" % (name, TIERS[tier_of(name)][0], target, TIERS[tier_of(target)][0])
              for name, targets in sorted(graph.items()) for target in sorted(targets)
              if tier_of(target) > tier_of(name)]
    assert not upward, "\n".join(upward)


def test_no_import_circle(graph):
    """Depth-first search for a back edge; the message is the circle itself."""
    state: Dict[str, int] = {}
    path: List[str] = []

    def visit(name: str) -> None:
        state[name] = 1
        path.append(name)
        for target in sorted(graph[name]):
            if state.get(target) == 1:
                circle = path[path.index(target):] + [target]
                raise AssertionError("import circle: " + " -> ".join(circle))
            if target not in state:
                visit(target)
        path.pop()
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)


def test_a_cold_start_imports_only_what_the_first_invoke_needs():
    """A Python handler's cold start imports the entry, then the handler's loader, as a bootstrap does."""
    started = imported_modules("pass")  # the interpreter's own
    imported = imported_modules("import bootstrap_sdk.entry, bootstrap_sdk.python_handler, "
                                "bootstrap_sdk.adapter.command") - started
    assert imported - COLD_START_STDLIB - COLD_START_RUNTIME == set(), "new on the cold-start path"
    assert COLD_START_RUNTIME <= imported  # the list is the runtime's, not a guess


def test_the_import_closure_check_sees_a_heavy_import():
    """So that a green run of the check above means something."""
    assert {"json", "re", "enum"} <= imported_modules("import json")


def test_the_checker_sees_a_circle_and_an_upward_import(tmp_path):
    """The reader of imports is itself tested on a made-up package, so a green run means something."""
    global PACKAGE
    saved = PACKAGE
    fake = tmp_path / "bootstrap_sdk"
    (fake / "adapter").mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "errors.py").write_text("from .adapter import executable\n")
    (fake / "adapter" / "__init__.py").write_text("")
    (fake / "adapter" / "executable.py").write_text("def f():\n    from .. import errors\n")
    try:
        PACKAGE = fake
        modules = all_modules()
        graph = {name: imports_of(name, path, set(modules)) for name, path in modules.items()}
        assert graph["bootstrap_sdk.errors"] == {"bootstrap_sdk.adapter.executable"}
        assert graph["bootstrap_sdk.adapter.executable"] == {"bootstrap_sdk.errors"}
        with pytest.raises(AssertionError, match="imports bootstrap_sdk.adapter.executable"):
            test_no_import_points_back_up(graph)
        with pytest.raises(AssertionError, match="import circle"):
            test_no_import_circle(graph)
    finally:
        PACKAGE = saved
