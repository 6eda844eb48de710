"""python_handler: a Python ``_HANDLER`` string and what it resolves to."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from bootstrap_sdk.errors import InitError
from bootstrap_sdk.python_handler import layer_paths, load_handler, split_handler


@pytest.mark.parametrize("handler, expected", [
    ("app.handler", ("app", "handler")),
    ("pkg.sub.mod.fn", ("pkg.sub.mod", "fn")),
    ("dir/mod.fn", ("dir.mod", "fn")),
    (" app.handler ", ("app", "handler")),
])
def test_split_handler_accepts(handler, expected):
    assert split_handler(handler) == expected


@pytest.mark.parametrize("handler", ["", "app", "app.", ".fn", "a..fn", "a b.fn", "app.fn()", "1app.fn", "app.fn;rm -rf /"])
def test_split_handler_rejects_with_a_clear_error(handler):
    with pytest.raises(InitError) as caught:
        split_handler(handler)
    assert caught.value.error_type == "Runtime.MalformedHandlerName"
    if handler:
        assert repr(handler) in caught.value.message
    else:  # nothing to quote: say it is missing, and where Lambda reads it from
        assert caught.value.message.startswith("No handler: _HANDLER is empty")
        assert "Handler setting" in caught.value.message


# -- the import path and import errors ----------------------------------------------------------

PACKAGE_ROOT = Path(__file__).resolve().parents[2]

# A fresh interpreter whose standard library is only what the test laid out, as in a layer built
# with --stdlib minimal: the runtime is imported first, then sys.path is cut down to that library.
LAYER_STDLIB_RUN = r'''
import json, sys
sys.path.insert(0, sys.argv[1])
from bootstrap_sdk.errors import InitError
from bootstrap_sdk.python_handler import load_handler
sys.path[:] = [sys.argv[2]]
try:
    load_handler("app.handler", sys.argv[3], opt_root=sys.argv[4])
except InitError as exc:
    print(json.dumps([exc.error_type, exc.message]))
'''


@pytest.fixture
def restored_imports() -> Iterator[None]:
    """load_handler puts directories on sys.path and imports modules: undo both."""
    saved_path, saved_modules = list(sys.path), set(sys.modules)
    try:
        yield
    finally:
        sys.path[:] = saved_path
        for name in set(sys.modules) - saved_modules:
            del sys.modules[name]


@pytest.mark.parametrize("statement, missing", [
    ("import colorsys", "colorsys"),
    ("import urllib.request", "urllib.request"),  # the layer has urllib, not urllib.request
    ("from xml.dom import minidom", "xml"),
    ("import no_such_module_anywhere", None),  # not the standard library's: no advice
])
def test_a_standard_library_module_the_layer_left_out_says_how_to_add_it(tmp_path, statement, missing):
    task, stdlib = tmp_path / "task", tmp_path / "stdlib"
    (stdlib / "urllib").mkdir(parents=True)
    (stdlib / "urllib" / "__init__.py").write_text("")
    task.mkdir()
    (task / "app.py").write_text("%s\n\ndef handler(event, context):\n    return 1\n" % statement)
    done = subprocess.run([sys.executable, "-I", "-S", "-c", LAYER_STDLIB_RUN, str(PACKAGE_ROOT), str(stdlib),
                           str(task), str(tmp_path / "no-opt")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    error_type, message = json.loads(done.stdout)
    assert error_type == "Runtime.ImportModuleError"
    named = missing or "no_such_module_anywhere"
    expected = "Unable to import module 'app': No module named '%s' (looked in %s)" % (named, task)
    if missing and sys.version_info >= (3, 10):
        expected += ("; %s is in Python's standard library, but not in this layer's: rebuild the layer with "
                     "make-runtime-layer --stdlib-module %s (or --stdlib full)" % (missing, missing))
    assert message == expected  # before 3.10 there is no sys.stdlib_module_names, and no advice


def test_layer_directories_come_right_after_the_task_root(tmp_path, restored_imports):
    """The managed runtime's layout: /opt/python/lib/pythonX.Y/site-packages, then /opt/python."""
    tag = uuid.uuid4().hex[:12]
    task, opt = tmp_path / "task", tmp_path / "opt"
    site = opt / "python" / "lib" / ("python%d.%d" % sys.version_info[:2]) / "site-packages"
    site.mkdir(parents=True)
    task.mkdir()
    # The same module in all three places: the first on the path wins, as in the managed runtime.
    for where, text in ((task, "task"), (site, "site-packages"), (opt / "python", "python")):
        (where / ("shadow_%s.py" % tag)).write_text("WHERE = %r\n" % text)
    (site / ("dep_%s.py" % tag)).write_text("WHERE = 'site-packages'\n")
    (opt / "python" / ("top_%s.py" % tag)).write_text("WHERE = 'python'\n")
    (opt / "python" / "lib" / "python2.7" / "site-packages").mkdir(parents=True)  # another version's: unused
    (task / ("app_%s.py" % tag)).write_text(
        "import dep_{0}, shadow_{0}, top_{0}\n\n"
        "def handler(event, context):\n"
        "    return dep_{0}.WHERE, top_{0}.WHERE, shadow_{0}.WHERE\n".format(tag))
    handler = load_handler("app_%s.handler" % tag, str(task), opt_root=str(opt))
    assert handler({}, None) == ("site-packages", "python", "task")
    at = sys.path.index(str(task))
    assert sys.path[at:at + 3] == [str(task), str(site), str(opt / "python")]
    assert str(opt / "python" / "lib" / "python2.7" / "site-packages") not in sys.path
    assert layer_paths(str(tmp_path / "no-opt")) == []
    (site / ("dep_%s.py" % tag)).unlink()
    sys.modules.pop("app_%s" % tag)
    sys.modules.pop("dep_%s" % tag)
    with pytest.raises(InitError) as caught:  # a module missing everywhere: where was looked
        load_handler("app_%s.handler" % tag, str(task), opt_root=str(opt))
    assert "(looked in %s, %s, %s)" % (task, site, opt / "python") in caught.value.message
