"""options (packaging/options.py): the host's architecture, LayerOptions' defaults, --include pairs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bootstrap_sdk.packaging import elf
from bootstrap_sdk.packaging.checks import BuildError
from bootstrap_sdk.packaging.options import LayerOptions, host_arch, include_pairs
from bootstrap_sdk.packaging.stage import validate


def test_host_arch_is_a_lambda_architecture_matching_the_hosts_binaries():
    arch = host_arch()
    assert arch in ("x86_64", "arm64")
    running = elf.read_elf(sys.executable)
    assert running is not None
    assert elf.MACHINES[arch] == running.machine, "the host's own interpreter is built for host_arch()"


def test_layer_options_defaults(tmp_path):
    options = LayerOptions(output=tmp_path / "layer.zip")
    assert options.runtime == "provided.al2023"
    assert options.arch == host_arch()
    assert options.stdlib == "minimal" and options.python is None and options.bootstrap is None
    assert not options.system_libc
    assert options.name == "bootstrap-sdk-runtime" and options.license == ""
    assert (options.executables, options.includes, options.library_paths, options.stdlib_modules,
            options.stub_libraries) == ([], [], [], [], [])
    other = LayerOptions(output=tmp_path / "other.zip")
    options.executables.append(Path("/bin/true"))
    options.stub_libraries.append("libx.so")
    assert other.executables == [] and other.stub_libraries == [], "no list is shared between instances"
    assert validate(options) == []


@pytest.mark.parametrize("value, pair", [
    ("data/table.txt", (Path("data/table.txt"), "table.txt")),
    ("data/tables/", (Path("data/tables"), "tables")),
    ("data/tables:share/tables", (Path("data/tables"), "share/tables")),
    ("/abs/tool.cfg:etc/tool.cfg", (Path("/abs/tool.cfg"), "etc/tool.cfg")),
    ("a:b:c", (Path("a"), "b:c")),
])
def test_include_pairs(value, pair):
    assert include_pairs([value]) == [pair]


def test_include_pairs_keep_their_order():
    assert include_pairs(["b:x", "a"]) == [(Path("b"), "x"), (Path("a"), "a")]
    assert include_pairs([]) == []


def test_bad_include_destinations_are_refused_by_validate(tmp_path):
    source = tmp_path / "f.txt"
    source.write_text("x")
    options = LayerOptions(output=tmp_path / "l.zip",
                           includes=include_pairs(["%s:" % source, "%s:/etc/f" % source, "%s:a/../../f" % source,
                                                   "%s:a\\b" % source, "%s:share/f" % source]))
    with pytest.raises(BuildError) as caught:
        validate(options)
    assert caught.value.problems == [
        "'': layer paths are relative to the layer's root (/opt), like bin/tool",
        "'/etc/f': layer paths are relative to the layer's root (/opt), like bin/tool",
        "'a/../../f': '..' would leave the layer",
        "'a\\\\b': layer paths are relative to the layer's root (/opt), like bin/tool",
    ]
