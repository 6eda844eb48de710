"""run-lambda-local's architecture (local/cli.py, image_root.image_architecture, rie.find_rie):
told from the inputs alone, zips read member by member for their ELF headers (hand-made
zips with fake ones), an image from its config; inputs that disagree refused, each named."""

from __future__ import annotations

import io
import json
import os
import struct
import tarfile
import zipfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import List, Tuple

import pytest
from hand_made_images import put, sha256, tar_of

from bootstrap_sdk.local import cli, rie
from bootstrap_sdk.local.cli import detect_arch, dir_archs, zip_archs
from bootstrap_sdk.local.image_root import image_architecture
from bootstrap_sdk.packaging.checks import BuildError
from bootstrap_sdk.packaging.options import host_arch

EM_X86_64, EM_AARCH64 = 62, 183


def elf(machine: int, e_type: int = 2, size: int = 256) -> bytes:
    """An ELF file's first bytes, for ``machine``: all that is read of it."""
    head = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8) + struct.pack("<HH", e_type, machine)
    return head + bytes(size - len(head))


def make_zip(path: Path, entries: List[Tuple[str, bytes]], mode: int = 0o100755) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.create_system, info.external_attr = 3, mode << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return path


PYTHON_ONLY = [("app.py", b"def handler(event, context):\n    return event\n" * 4)]


# -- zips and directories ----------------------------------------------------------------------

def test_a_zip_says_its_architecture_by_its_elf_files(tmp_path):
    arm = make_zip(tmp_path / "arm.zip", [("bootstrap", elf(EM_AARCH64)), ("lib/libx.so.1", elf(EM_AARCH64, 3))])
    assert zip_archs(arm) == {"arm64": "bootstrap"}
    x86 = make_zip(tmp_path / "x86.zip", PYTHON_ONLY + [("bin/cat", elf(EM_X86_64))])
    assert zip_archs(x86) == {"x86_64": "bin/cat"}
    assert zip_archs(make_zip(tmp_path / "none.zip", PYTHON_ONLY)) == {}
    mixed = make_zip(tmp_path / "mixed.zip", [("bin/a", elf(EM_AARCH64)), ("bin/b", elf(EM_X86_64))])
    assert zip_archs(mixed) == {"arm64": "bin/a", "x86_64": "bin/b"}


def test_what_is_no_program_says_nothing(tmp_path):
    """Object files, 32-bit ARM, files too short to be ELF, and symlinks are no evidence."""
    odd = make_zip(tmp_path / "odd.zip", [("x.o", elf(EM_AARCH64, 1)), ("arm32", elf(40)), ("short", elf(62)[:40])])
    assert zip_archs(odd) == {}
    link = make_zip(tmp_path / "link.zip", [("link", elf(EM_AARCH64))], mode=0o120777)
    assert zip_archs(link) == {}


def test_a_program_is_named_rather_than_a_library(tmp_path):
    layer = make_zip(tmp_path / "layer.zip", [("lib/ld-linux-aarch64.so.1", elf(EM_AARCH64, 3)),
                                               ("python/bin/python3.11", elf(EM_AARCH64, 3))])
    assert zip_archs(layer) == {"arm64": "python/bin/python3.11"}


def test_a_damaged_zip_says_nothing_here(tmp_path):
    """Laying it out refuses it, with its own words."""
    (tmp_path / "bad.zip").write_bytes(b"PK\x03\x04 not a zip")
    assert zip_archs(tmp_path / "bad.zip") == {}


def test_a_directory_is_read_the_same_way(tmp_path):
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "tool").write_bytes(elf(EM_AARCH64))
    (tmp_path / "app.py").write_text("x = 1\n" * 20)
    os.symlink("/bin/true", str(tmp_path / "host-program"))  # a link is never followed
    assert dir_archs(tmp_path) == {"arm64": os.path.join("bin", "tool")}


# -- the inputs together ----------------------------------------------------------------------------

def test_inputs_without_elf_take_the_others_architecture():
    assert detect_arch([("--layer a.zip", {"arm64": "bootstrap"}), ("--function f.zip", {})]) == "arm64"
    assert detect_arch([("--layer a.zip", {}), ("--function f.zip", {"x86_64": "bin/cat"})]) == "x86_64"
    assert detect_arch([("--layer a.zip", {}), ("--function f.zip", {})]) == host_arch()
    assert detect_arch([]) == host_arch()


def test_inputs_of_two_architectures_are_refused_each_named():
    with pytest.raises(BuildError) as caught:
        detect_arch([("--layer a.zip", {"arm64": "bootstrap-sdk/python/bin/python3.11"}),
                     ("--layer b.zip", {}), ("--layer c.zip", {"x86_64": "bin/jq"}),
                     ("--function f.zip", {"x86_64": "bin/cat"})])
    assert caught.value.problems == [
        "--layer a.zip is arm64 (bootstrap-sdk/python/bin/python3.11) but --layer c.zip is x86_64 (bin/jq): "
        "Lambda runs a function on one architecture; build them all for one (make-runtime-layer/make-function-zip "
        "--arch)",
        "--layer a.zip is arm64 (bootstrap-sdk/python/bin/python3.11) but --function f.zip is x86_64 (bin/cat): "
        "Lambda runs a function on one architecture; build them all for one (make-runtime-layer/make-function-zip "
        "--arch)"]


def test_an_input_of_two_architectures_is_refused():
    with pytest.raises(BuildError) as caught:
        detect_arch([("--layer a.zip", {"arm64": "bin/a", "x86_64": "bin/b"}), ("--function f.zip", {})])
    assert caught.value.problems == ["--layer a.zip holds programs for arm64 (bin/a) and for x86_64 (bin/b): "
                                     "Lambda runs a function on one architecture"]


def test_run_lambda_local_refuses_mixed_zips_before_anything_is_laid_out(tmp_path, monkeypatch):
    """Exit 3, both inputs named, before anything needs root."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    layer = make_zip(tmp_path / "layer.zip", [("bootstrap", elf(EM_AARCH64))])
    function = make_zip(tmp_path / "function.zip", PYTHON_ONLY + [("bin/cat", elf(EM_X86_64))])
    (tmp_path / "event.json").write_text("{}")
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli.main(["--layer", str(layer), "--function", str(function), "--handler", "app.handler",
                         "--event", str(tmp_path / "event.json")])
    assert code == 3, err.getvalue()
    assert ("run-lambda-local: error: --layer %s is arm64 (bootstrap) but --function %s is x86_64 (bin/cat): "
            "Lambda runs a function on one architecture" % (layer, function)) in err.getvalue()
    assert "Traceback" not in err.getvalue() and out.getvalue() == ""


def test_os_userland_is_refused_with_another_machines_code(tmp_path, monkeypatch):
    """This machine's /usr cannot serve arm64 code: said before anything needs root."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(cli, "host_arch", lambda: "x86_64")
    layer = make_zip(tmp_path / "layer.zip", [("bootstrap", elf(EM_AARCH64))])
    (tmp_path / "event.json").write_text("{}")
    err = io.StringIO()
    with redirect_stdout(io.StringIO()), redirect_stderr(err):
        code = cli.main(["--layer", str(layer), "--os-userland", "--event", str(tmp_path / "event.json")])
    assert code == 2, err.getvalue()
    assert "run-lambda-local: error: --os-userland with arm64 code: this machine's /usr, /bin and /lib are" in (
        err.getvalue())


# -- images -----------------------------------------------------------------------------------------

def image_layout(path: Path, goarch: str, images: int = 1) -> Path:
    layer = tar_of([])
    (path / "blobs").mkdir(parents=True)
    config = put(path, json.dumps({"architecture": goarch, "os": "linux",
                                   "rootfs": {"type": "layers", "diff_ids": [sha256(layer)]}}).encode(),
                 "application/vnd.oci.image.config.v1+json")
    manifest = put(path, json.dumps({"schemaVersion": 2, "config": config, "layers": [
        put(path, layer, "application/vnd.oci.image.layer.v1.tar")]}).encode(),
        "application/vnd.oci.image.manifest.v1+json")
    (path / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [manifest] * images}))
    (path / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    return path


def test_an_images_architecture_is_its_configs(tmp_path):
    arm = image_layout(tmp_path / "arm", "arm64")
    assert image_architecture(arm) == "arm64"
    assert image_architecture(image_layout(tmp_path / "amd", "amd64")) == "x86_64"
    assert image_architecture(image_layout(tmp_path / "s390x", "s390x")) == "s390x"
    with tarfile.open(tmp_path / "arm.tar", "w") as archive:  # an oci-archive, as skopeo writes one
        archive.add(str(arm), arcname=".")
    assert image_architecture(tmp_path / "arm.tar") == "arm64"


def test_an_image_that_cannot_say_is_left_to_unpack_image(tmp_path):
    assert image_architecture(image_layout(tmp_path / "two", "arm64", images=2)) is None  # an index of two
    assert image_architecture(tmp_path / "absent") is None
    (tmp_path / "junk.tar").write_bytes(b"not a tar")
    assert image_architecture(tmp_path / "junk.tar") is None


# -- the RIE for the architecture ---------------------------------------------------------------------

def test_the_rie_found_must_be_built_for_the_architecture(tmp_path, monkeypatch):
    monkeypatch.setattr(rie, "host_arch", lambda: "x86_64")
    arm_rie, x86_rie = tmp_path / "arm-rie", tmp_path / "x86-rie"
    for path, machine in ((arm_rie, EM_AARCH64), (x86_rie, EM_X86_64)):
        path.write_bytes(elf(machine))
        path.chmod(0o755)
    monkeypatch.setenv("BOOTSTRAP_SDK_RIE_ARM64", str(arm_rie))
    assert rie.find_rie("arm64") == str(arm_rie)
    monkeypatch.setenv("BOOTSTRAP_SDK_RIE_ARM64", str(x86_rie))
    with pytest.raises(rie.RieNotFound, match="x86-rie is built for x86_64, not arm64"):
        rie.find_rie("arm64")
    monkeypatch.setenv("BOOTSTRAP_SDK_RIE", str(arm_rie))
    with pytest.raises(rie.RieNotFound, match="arm-rie is built for arm64, not x86_64"):
        rie.find_rie()
    with pytest.raises(rie.RieNotFound, match="no aws-lambda-rie for s390x"):
        rie.find_rie("s390x")


def test_a_missing_arm64_rie_points_at_install_rie(tmp_path, monkeypatch):
    monkeypatch.setattr(rie, "host_arch", lambda: "x86_64")
    monkeypatch.setattr(rie, "REPO_ROOT", tmp_path)
    monkeypatch.delenv("BOOTSTRAP_SDK_RIE_ARM64", raising=False)
    with pytest.raises(rie.RieNotFound) as caught:
        rie.find_rie("arm64")
    assert str(caught.value) == (
        "aws-lambda-rie for arm64 not found (looked at $BOOTSTRAP_SDK_RIE_ARM64 and %s); install it with "
        "scripts/install-rie.sh, which builds it for arm64 too" % (tmp_path / ".tools" / "bin" / "arm64" /
                                                                     "aws-lambda-rie"))
