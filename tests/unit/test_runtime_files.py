"""runtime_files: the explicit list of what ships in a layer matches what the runtime imports."""

from __future__ import annotations

from test_imports import all_modules, imports_of

from bootstrap_sdk.packaging.runtime_files import (RUNTIME_FILES, SDK_DIR, runtime_modules, runtime_sources,
                                                   vendored_sources)

TOOLING = ("bootstrap_sdk.packaging", "bootstrap_sdk.local", "bootstrap_sdk.copybook.cli")


def test_every_listed_file_exists():
    missing = [str(path) for path in runtime_sources() if not path.is_file()]
    assert not missing, missing


def test_the_list_holds_the_whole_runtime_and_no_tooling():
    modules = all_modules()
    runtime = {name for name in modules if not name.startswith(TOOLING)}
    assert set(runtime_modules()) == runtime, "add new runtime modules to RUNTIME_FILES"
    assert not [name for name in RUNTIME_FILES if name.startswith(("packaging/", "local/", "copybook/cli"))]
    assert "py.typed" in RUNTIME_FILES and (SDK_DIR / "py.typed").is_file()


def test_what_the_runtime_can_import_ships():
    """Follow the imports from the entry points: every module reached is in the list."""
    modules = all_modules()
    names = set(modules)
    shipped = set(runtime_modules())
    seen, queue = set(), ["bootstrap_sdk", "bootstrap_sdk.__main__", "bootstrap_sdk.entry"]
    while queue:
        name = queue.pop()
        if name in seen:
            continue
        seen.add(name)
        queue.extend(imports_of(name, modules[name], names))
    assert seen <= shipped, sorted(seen - shipped)
    assert not [name for name in seen if name.startswith(TOOLING)]


def test_the_vendored_files_are_the_packages_own_with_its_licence():
    """ebcdic's cp1047 ships beside the runtime, with the licence it is distributed under."""
    found = {name: path for path, name in vendored_sources()}
    assert set(found) == {"ebcdic/__init__.py", "ebcdic/_version.py", "ebcdic/cp1047.py", "ebcdic/LICENSE.txt"}
    assert all(path.is_file() for path in found.values())
    assert "Redistribution" in found["ebcdic/LICENSE.txt"].read_text()
