"""Sysroots: paths resolved inside them, refused when they are for another architecture
or damaged, the message that says how to get one, and a second fetch that is offline."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

from arm64_sysroot import SYSROOT, needs_arm64_build
from bootstrap_sdk.packaging import sysroot as module
from bootstrap_sdk.packaging.checks import BuildError
from bootstrap_sdk.packaging.options import host_arch
from bootstrap_sdk.packaging.sysroot import Sysroot, SysrootError, open_sysroot, sysroot_for

OTHER = "arm64" if host_arch() == "x86_64" else "x86_64"
LOADER = {"arm64": "lib/ld-linux-aarch64.so.1", "x86_64": "lib64/ld-linux-x86-64.so.2"}


def tree(root: Path, arch: str = "arm64") -> Path:
    """A root of one's own: a loader reached through a relative link, as Debian lays it out."""
    (root / "lib" / "aarch64-linux-gnu").mkdir(parents=True)
    (root / "lib64").mkdir()
    (root / "lib" / "aarch64-linux-gnu" / "ld-linux-aarch64.so.1").write_bytes(b"\x7fELF loader")
    (root / "lib64" / "ld-linux-x86-64.so.2").write_bytes(b"\x7fELF loader")
    os.symlink("aarch64-linux-gnu/ld-linux-aarch64.so.1", root / "lib" / "ld-linux-aarch64.so.1")
    return root


def test_resolve_keeps_absolute_links_and_dotdot_inside_the_sysroot(tmp_path):
    root = tree(tmp_path / "root")
    (root / "usr" / "lib").mkdir(parents=True)
    os.symlink("/etc/passwd", root / "usr" / "lib" / "escape")
    os.symlink("../../../../../../etc/hostname", root / "usr" / "lib" / "climb")
    os.symlink("/lib/aarch64-linux-gnu", root / "usr" / "lib" / "multiarch")
    sysroot = Sysroot(root, "arm64")
    assert sysroot.resolve("/usr/lib/escape") == root / "etc" / "passwd"
    assert sysroot.resolve("usr/lib/climb") == root / "etc" / "hostname"
    assert sysroot.resolve("/usr/lib/multiarch/ld-linux-aarch64.so.1") == \
        root / "lib" / "aarch64-linux-gnu" / "ld-linux-aarch64.so.1"
    assert sysroot.resolve("/lib/ld-linux-aarch64.so.1").read_bytes() == b"\x7fELF loader"


def test_a_symlink_loop_is_an_error_not_a_hang(tmp_path):
    root = tree(tmp_path / "root")
    os.symlink("b", root / "a")
    os.symlink("a", root / "b")
    with pytest.raises(SysrootError, match="too many symlinks"):
        Sysroot(root, "arm64").resolve("/a/x")


def test_a_root_of_ones_own_is_checked_for_the_architectures_loader(tmp_path):
    root = tree(tmp_path / "root")
    assert open_sysroot(root, "arm64").root == root.resolve()
    (root / "lib" / "ld-linux-aarch64.so.1").unlink()
    with pytest.raises(SysrootError, match="has no /lib/ld-linux-aarch64.so.1: it is not a arm64 root"):
        open_sysroot(root, "arm64")


def test_a_fetched_sysroot_for_another_architecture_is_refused(tmp_path):
    tree(tmp_path / "root")
    (tmp_path / "sysroot.json").write_text(json.dumps({"arch": "x86_64", "packages": []}))
    with pytest.raises(SysrootError) as caught:
        open_sysroot(tmp_path, "arm64")
    assert str(caught.value) == ("--sysroot %s is for x86_64, not arm64: fetch one with `fetch-sysroot --arch arm64 "
                                 "DIR`" % tmp_path)
    (tmp_path / "sysroot.json").write_text("{not json")
    with pytest.raises(SysrootError, match="is damaged"):
        open_sysroot(tmp_path, "arm64")


def test_another_architecture_without_a_sysroot_says_how_to_get_one():
    with pytest.raises(BuildError) as caught:
        sysroot_for(OTHER, None)
    problem = caught.value.problems[0]
    assert problem.startswith("--arch %s on this %s machine needs --sysroot DIR" % (OTHER, host_arch()))
    assert "fetch-sysroot --arch %s DIR" % OTHER in problem and "dpkg --add-architecture" in problem
    assert sysroot_for(host_arch(), None) is None


def test_the_cobc_environment_targets_the_sysroot(tmp_path):
    root = tree(tmp_path / "root")
    (root / "usr" / "include" / "aarch64-linux-gnu").mkdir(parents=True)
    (root / "usr" / "lib" / "aarch64-linux-gnu").mkdir(parents=True)
    env = Sysroot(root, "arm64").cobc_environment()
    if host_arch() == "x86_64":
        assert env["COB_CC"] == "aarch64-linux-gnu-gcc"
    assert env["COB_CFLAGS"].split()[:3] == ["-pipe", "-I%s/usr/include" % root,
                                             "-I%s/usr/include/aarch64-linux-gnu" % root]
    assert "-L%s/usr/lib/aarch64-linux-gnu" % root in env["COB_LDFLAGS"].split()
    assert "/usr/include" not in env["COB_LDFLAGS"] and "-I/usr/include" not in env["COB_CFLAGS"].split()


def test_package_names_are_checked_before_apt_sees_them(tmp_path):
    with pytest.raises(SysrootError, match="not Debian package names: --option, a;b"):
        module.fetch_sysroot(tmp_path, "arm64", ["--option", "a;b"])


def cached_debs(dest: Path) -> Tuple[Dict[str, Any], List[Dict[str, Any]]]:
    """``dest`` as a first fetch leaves it, for the default packages alone (no dependencies):
    their .debs, copied from the tests' sysroot; that sysroot.json, and the packages kept."""
    (dest / "debs").mkdir(parents=True)
    fetched = json.loads((SYSROOT / "sysroot.json").read_text())
    keep = [p for p in fetched["packages"] if p["package"] in module.DEFAULT_PACKAGES + module.DEFAULT_PACKAGES_ONLY]
    for package in keep:
        shutil.copy(SYSROOT / "debs" / package["file"], dest / "debs" / package["file"])
    return fetched, keep


@needs_arm64_build
def test_a_second_fetch_is_offline(tmp_path, monkeypatch):
    """With the .debs and sysroot.json there, neither apt-cache nor apt-get is asked."""
    dest = tmp_path / "sysroot"
    fetched, keep = cached_debs(dest)
    (dest / "sysroot.json").write_text(json.dumps(dict(fetched, packages=keep)))

    def no_network(command, cwd=None):
        assert command[0] not in ("apt-get", "apt-cache"), command
        return real_run(command, cwd)

    real_run = module._run
    monkeypatch.setattr(module, "_run", no_network)
    lines = []
    sysroot = module.fetch_sysroot(dest, "arm64", progress=lines.append)
    assert lines[0] == "all %d packages already in %s (offline)" % (len(keep), dest / "debs")
    assert sysroot.resolve("/usr/bin/python3.11").is_file() and sysroot.resolve("/usr/bin/cobcrun").is_file()
    recorded = json.loads((dest / "sysroot.json").read_text())["packages"]
    assert [(p["package"], p["version"], p["sha256"]) for p in recorded] == \
        [(p["package"], p["version"], p["sha256"]) for p in sorted(keep, key=lambda p: p["package"])]


@needs_arm64_build
def test_a_deb_that_is_not_the_package_it_is_named_after_is_refused(tmp_path):
    dest = tmp_path / "sysroot"
    (dest / "debs").mkdir(parents=True)
    fetched = json.loads((SYSROOT / "sysroot.json").read_text())
    zlib = next(p for p in fetched["packages"] if p["package"] == "zlib1g")
    for name in module.DEFAULT_PACKAGES + module.DEFAULT_PACKAGES_ONLY:
        shutil.copy(SYSROOT / "debs" / zlib["file"], dest / "debs" / ("%s_1.0_arm64.deb" % name))
    (dest / "sysroot.json").write_text(json.dumps({"arch": "arm64", "packages": []}))
    with pytest.raises(SysrootError, match="is zlib1g for arm64, not"):
        module.fetch_sysroot(dest, "arm64")
    assert not (dest / "root").exists()


@needs_arm64_build
def test_the_sysroots_python_is_probed_under_emulation():
    from bootstrap_sdk.packaging.python_bundle import describe

    sysroot = open_sysroot(SYSROOT, "arm64")
    interpreter = describe(sysroot.python(), sysroot)
    assert interpreter.version == (3, 11) and interpreter.static_libpython
    assert interpreter.runner[0].endswith("qemu-aarch64-static") and interpreter.runner[1:] == ("-L", str(sysroot.root))
    assert interpreter.stdlib == str(sysroot.root / "usr" / "lib" / "python3.11")
    assert interpreter.dynload == str(sysroot.root / "usr" / "lib" / "python3.11" / "lib-dynload")
    machine = subprocess.run(interpreter.command("-I", "-S", "-c", "import os; print(os.uname().machine)"),
                             capture_output=True, text=True, check=True).stdout.strip()
    assert machine == "aarch64"


@needs_arm64_build
def test_a_sysroot_link_that_leads_out_of_it_is_a_problem_not_this_hosts_file(tmp_path):
    """An absolute link in a sysroot means the sysroot's root: a library reached only by
    following it on this host is named, never bundled."""
    import sys

    from native import gcc, shared
    from arm64_sysroot import CROSS_CC
    from bootstrap_sdk.packaging import python_bundle
    from bootstrap_sdk.packaging.bundle import bundle_libraries
    from bootstrap_sdk.packaging.options import LayerOptions
    from bootstrap_sdk.packaging.stage import Stage

    outside = tmp_path / "outside"
    outside.mkdir()
    shared(outside / "libgreet.so", "int greet(void) { return 7; }\n", "libgreet.so", cc=CROSS_CC)
    root = tree(tmp_path / "sysroot")
    (root / "usr" / "lib" / "aarch64-linux-gnu").mkdir(parents=True)
    os.symlink(str(outside / "libgreet.so"), root / "usr" / "lib" / "aarch64-linux-gnu" / "libgreet.so")
    program = gcc(tmp_path / "prog", "int greet(void);\nint main(void) { return greet(); }\n", "-L" + str(outside),
                  "-lgreet", cc=CROSS_CC)
    stage = Stage(tmp_path / "layer", python_bundle.describe(sys.executable), sysroot=Sysroot(root, "arm64"))
    stage.lib_dir.mkdir(parents=True)
    stage.add_elf_root("bin/prog", str(program))
    problems = bundle_libraries(stage, LayerOptions(output=tmp_path / "l.zip", arch="arm64", system_libc=True),
                                lambda line: None)
    assert problems == ["libgreet.so, which the layer needs, is %s: a link that leads out of the sysroot %s (inside "
                        "it, it names nothing)" % (root / "usr" / "lib" / "aarch64-linux-gnu" / "libgreet.so", root)]
    assert not (stage.lib_dir / "libgreet.so").exists()


@needs_arm64_build
def test_a_cached_deb_that_changed_since_it_was_fetched_is_refused(tmp_path):
    """Offline builds trust the .debs kept in DIR/debs only as they were when fetched."""
    dest = tmp_path / "sysroot"
    fetched, keep = cached_debs(dest)
    libc = next(p for p in keep if p["package"] == "libc6")
    (dest / "sysroot.json").write_text(json.dumps(dict(fetched, packages=[dict(p, sha256="0" * 64) if p is libc else p
                                                                          for p in keep])))
    with pytest.raises(SysrootError) as caught:
        module.fetch_sysroot(dest, "arm64")
    assert str(caught.value).startswith("%s changed since it was fetched (sha256 %s, recorded %s)"
                                        % (dest / "debs" / libc["file"], libc["sha256"], "0" * 64))
    assert not (dest / "root").exists()
