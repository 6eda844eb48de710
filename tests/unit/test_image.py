"""make-runtime-image (packaging/image.py, cli.py, docker_context.py): OCI images without Docker, read by skopeo."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shlex
import shutil
import stat
import subprocess
import tarfile
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any, Dict, List, NamedTuple, Optional

import pytest
from hand_made_images import put, sha256, tar_of
import yaml

from native import gcc
from bootstrap_sdk.packaging import elf, image
from bootstrap_sdk.packaging.checks import IMAGE_LIMIT, NO_OS, Findings, megabytes
from bootstrap_sdk.packaging.cli import make_runtime_image
from bootstrap_sdk.packaging.function_zip import build_function_zip
from bootstrap_sdk.packaging.oci import GOARCH, OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_LAYER_TAR, OCI_MANIFEST
from bootstrap_sdk.packaging.options import ImageOptions, LayerOptions, host_arch

EPOCH = 1700000000
CREATED = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(EPOCH))
ARCH = host_arch()
OTHER = "arm64" if ARCH == "x86_64" else "x86_64"
HANDLER = "app.handler"
ERROR = "make-runtime-image: error: "
LAMBDA_ENV = ["PATH=/usr/local/bin:/usr/bin/:/bin:/opt/bin",
              "LD_LIBRARY_PATH=/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib",
              "LAMBDA_TASK_ROOT=/var/task", "LAMBDA_RUNTIME_DIR=/var/runtime"]
GREETING = "hello from the base image\n"
OVERSIZE = 11 << 30  # a sparse file: 11 GiB claimed, nothing on disk
APP = "def handler(event, context):\n    return event\n"


# -- the tools and the command ----------------------------------------------------------

def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail("%s is not on PATH: these tests read the images with it (scripts/setup.sh installs it)" % name)
    return found


def run(name: str, *args: str) -> str:
    done = subprocess.run([tool(name)] + list(args), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, "%s %s failed (%d): %s" % (name, " ".join(args), done.returncode, done.stderr)
    return done.stdout


def skopeo(*args: str) -> Any:
    return json.loads(run("skopeo", "inspect", *args))


class Run(NamedTuple):
    code: int
    stdout: str
    stderr: str
    output: Path

    @property
    def manifest_path(self) -> Path:
        return self.output.with_name(self.output.stem + ".manifest.json")

    @property
    def manifest(self) -> Dict[str, Any]:
        loaded: Dict[str, Any] = json.loads(self.manifest_path.read_text())
        return loaded

    def ref(self) -> str:
        return ("oci:%s:latest" if self.output.is_dir() else "oci-archive:%s") % self.output


def run_cli(argv: List[str]) -> Run:
    """make-runtime-image in-process: (exit code, stdout, stderr, the -o given); argparse's exit counts."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = make_runtime_image(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    output = Path(argv[argv.index("-o") + 1]) if "-o" in argv else Path()
    return Run(code, out.getvalue(), err.getvalue(), output)


def build(output: Path, *argv: str) -> Run:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOURCE_DATE_EPOCH", str(EPOCH))
        done = run_cli(["-o", str(output)] + list(argv))
    assert done.code == 0, done.stderr
    return done


def refused(tmp_path: Path, *argv: str) -> List[str]:
    """The problems of a build that must exit 3 and write nothing, one error line each."""
    out = tmp_path / "out"
    done = run_cli(["-o", str(out / "image.tar"), "-q"] + list(argv))
    assert done.code == 3, done.stderr
    assert done.stdout == ""
    assert not out.exists() or list(out.iterdir()) == [], "nothing written: no archive, no manifest JSON"
    lines = done.stderr.splitlines()
    assert lines and all(line.startswith(ERROR) for line in lines), done.stderr
    return [line[len(ERROR):] for line in lines]


def unpack(image_ref: Path, bundle: Path) -> Path:
    """umoci's rootless unpack of an archive (extracted with tar first) or a layout: the bundle."""
    layout = image_ref
    if not image_ref.is_dir():
        layout = bundle.with_name(bundle.name + "-layout")
        layout.mkdir()
        run("tar", "-xf", str(image_ref), "-C", str(layout))
    run("umoci", "unpack", "--rootless", "--image", "%s:latest" % layout, str(bundle))
    return bundle


def archive_json(archive: Path, name: str) -> Dict[str, Any]:
    with tarfile.open(archive) as opened:
        member = opened.extractfile(name)
        assert member is not None, name
        loaded: Dict[str, Any] = json.loads(member.read())
        return loaded


# -- inputs: function code, programs, base images ------------------------------------------

def function_dir(path: Path, text: str = APP) -> Path:
    path.mkdir(parents=True)
    (path / "app.py").write_text(text)
    (path / "app.py").chmod(0o644)
    return path


def foreign(program: Path, path: Path) -> Path:
    """A copy of ``program`` whose ELF header says it is for the other architecture."""
    data = bytearray(program.read_bytes())
    data[18:20] = (183 if ARCH == "x86_64" else 62).to_bytes(2, "little")
    path.write_bytes(bytes(data))
    path.chmod(0o755)
    return path


def json_bytes(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def base_layer() -> bytes:
    """An uncompressed tar: etc/ and etc/base-greeting."""
    directory = tarfile.TarInfo("etc")
    directory.type, directory.mode, directory.mtime = tarfile.DIRTYPE, 0o755, EPOCH
    data = GREETING.encode()
    greeting = tarfile.TarInfo("etc/base-greeting")
    greeting.size, greeting.mode, greeting.mtime = len(data), 0o644, EPOCH
    return tar_of([(directory, None), (greeting, data)])


def write_base(layout: Path, architecture: str = GOARCH[ARCH], layers: Optional[List[Dict[str, Any]]] = None,
               diff_ids: Optional[List[str]] = None, index_media_type: str = OCI_MANIFEST) -> Dict[str, Any]:
    """An OCI layout written by hand: one gzip layer (or ``layers``), its config, manifest and index.json;
    the manifest's descriptor."""
    if layers is None:
        raw = base_layer()
        layers, diff_ids = [put(layout, gzip.compress(raw, mtime=0), OCI_LAYER_GZIP)], [sha256(raw)]
    config = {"architecture": architecture, "os": "linux",
              "config": {"Env": ["FOO=bar", "PATH=/base/bin"], "Cmd": ["/bin/sh"], "Labels": {"base": "yes"},
                         "Healthcheck": {"Test": ["CMD", "/bin/true"]}},
              "rootfs": {"type": "layers", "diff_ids": diff_ids},
              "history": [{"created": CREATED, "created_by": "the test's base"}]}
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": put(layout, json_bytes(config), OCI_CONFIG), "layers": layers}
    descriptor = put(layout, json_bytes(manifest), OCI_MANIFEST)
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        dict(descriptor, mediaType=index_media_type, annotations={"org.opencontainers.image.ref.name": "latest"})]}
    (layout / "index.json").write_bytes(json_bytes(index))
    return manifest


def archive_of(layout: Path, archive: Path) -> Path:
    """The layout as an oci-archive tar, as skopeo writes one."""
    with tarfile.open(archive, "w") as tar:
        for name in ("oci-layout", "index.json", "blobs"):
            tar.add(layout / name, arcname=name)
    return archive


class Inputs(NamedTuple):
    function: Path
    changed: Path
    zipped: Path
    entry: Path            # a function whose own bootstrap is the entrypoint
    program: Path          # a tiny ELF program for this machine
    base: Path             # an OCI layout
    base_archive: Path     # the same, as an oci-archive
    base_manifest: Dict[str, Any]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Inputs:
    root = tmp_path_factory.mktemp("inputs")
    function = function_dir(root / "function")
    changed = function_dir(root / "changed", APP.replace("return event", "return {'changed': event}"))
    zipped = root / "function.zip"
    build_function_zip(function, zipped, handler=HANDLER)
    entry = function_dir(root / "entry")
    (entry / "bootstrap").write_text("#!/opt/bin/env-free\nexit 0\n")
    (entry / "bootstrap").chmod(0o755)
    program = gcc(root / "prog", "int main(void) { return 0; }\n")
    base = root / "base"
    base_manifest = write_base(base)
    return Inputs(function, changed, zipped, entry, program, base, archive_of(base, root / "base.tar"),
                  base_manifest)


class Images(NamedTuple):
    runtime: Run    # no function, no handler, --json
    app: Run        # a Python handler's directory, -q
    again: Run      # the same inputs, another path
    changed: Run    # app.py changed
    zipped: Run     # the same code as a function zip


@pytest.fixture(scope="module")
def images(tmp_path_factory, inputs) -> Images:
    out = tmp_path_factory.mktemp("images")
    function = ["--function", str(inputs.function), "--handler", HANDLER, "-q"]
    app = build(out / "one" / "app.tar", *function)
    again = build(out / "two" / "app.tar", *function)
    changed = build(out / "changed" / "app.tar", "--function", str(inputs.changed), "--handler", HANDLER, "-q")
    zipped = build(out / "zipped" / "app.tar", "--function", str(inputs.zipped), "--handler", HANDLER, "-q")
    runtime = build(out / "runtime" / "runtime.tar", "--json")
    return Images(runtime, app, again, changed, zipped)


@pytest.fixture(scope="module")
def based(tmp_path_factory, inputs) -> Dict[str, Run]:
    """The function over the base: given as a layout directory, and as an oci-archive."""
    out = tmp_path_factory.mktemp("based")
    function = ["--function", str(inputs.function), "--handler", HANDLER, "-q"]
    return {"layout": build(out / "layout" / "app.tar", "--base", str(inputs.base), *function),
            "archive": build(out / "archive" / "app.tar", "--base", str(inputs.base_archive), *function)}


@pytest.fixture(scope="module")
def with_rie(tmp_path_factory, inputs) -> Run:
    """An OCI layout directory with the RIE, and the function's own bootstrap as the entrypoint."""
    out = tmp_path_factory.mktemp("rie")
    return build(out / "app", "--layout", "--with-rie", str(inputs.program), "--function", str(inputs.entry),
                 "--handler", HANDLER, "--entrypoint", "/var/task/bootstrap", "-q")


# -- what skopeo and umoci read ----------------------------------------------------------

@pytest.mark.parametrize("which", ["runtime", "app"])
def test_skopeo_reads_architecture_os_layers_env_and_the_config(images, which):
    built = getattr(images, which)
    manifest = built.manifest
    seen = skopeo(built.ref())
    assert (seen["Architecture"], seen["Os"]) == (GOARCH[ARCH], "linux")
    assert seen["Digest"] == manifest["manifest_digest"]
    assert seen["Layers"] == [layer["digest"] for layer in manifest["layers"]]
    assert seen["Env"] == LAMBDA_ENV
    assert seen["Created"] == CREATED
    raw = json.loads(run("skopeo", "inspect", "--raw", built.ref()))
    assert raw["mediaType"] == OCI_MANIFEST and "manifests" not in raw
    assert raw["config"]["digest"] == manifest["config_digest"]
    assert [(layer["mediaType"], layer["digest"], layer["size"]) for layer in raw["layers"]] == [
        (OCI_LAYER_GZIP, layer["digest"], layer["size"]) for layer in manifest["layers"]]
    config = skopeo("--config", built.ref())
    cmd = [HANDLER] if which == "app" else []
    expected = {"Env": LAMBDA_ENV, "Entrypoint": ["/opt/bootstrap"], "Cmd": cmd, "WorkingDir": "/var/task"}
    assert dict(config["config"], Cmd=config["config"].get("Cmd", [])) == expected  # skopeo omits an empty Cmd
    assert archive_json(built.output, "blobs/sha256/" + manifest["config_digest"][7:])["config"] == expected
    assert (config["architecture"], config["os"]) == (GOARCH[ARCH], "linux")
    assert config["rootfs"]["diff_ids"] == [layer["diff_id"] for layer in manifest["layers"]]
    assert [layer["kind"] for layer in manifest["layers"]] == (["runtime", "function"] if cmd else ["runtime"])


def test_umoci_unpacks_the_function_image_into_a_runnable_bundle(images, tmp_path):
    bundle = unpack(images.app.output, tmp_path / "bundle")
    process = json.loads((bundle / "config.json").read_text())["process"]
    assert process["args"] == ["/opt/bootstrap", HANDLER]
    assert process["cwd"] == "/var/task"
    assert "LAMBDA_TASK_ROOT=/var/task" in process["env"]
    rootfs = bundle / "rootfs"
    bootstrap = rootfs / "opt" / "bootstrap"
    assert bootstrap.is_file() and bootstrap.stat().st_mode & 0o111 == 0o111
    assert bootstrap.read_text().startswith("#!/opt/bootstrap-sdk/python/bin/python")
    assert (rootfs / "var" / "task" / "app.py").read_text() == APP
    assert stat.S_IMODE((rootfs / "tmp").stat().st_mode) == 0o1777
    assert (rootfs / "var" / "runtime").is_dir()


def test_the_archive_holds_one_image_manifest_never_an_index(images):
    archive = images.app.output
    with tarfile.open(archive) as opened:
        names = sorted(opened.getnames())
    manifest = images.app.manifest
    digests = [manifest["manifest_digest"], manifest["config_digest"]] + [
        layer["digest"] for layer in manifest["layers"]]
    assert names == sorted(["oci-layout", "index.json", "blobs", "blobs/sha256"] + ["blobs/sha256/" + d[7:]
                                                                                     for d in digests])
    index = archive_json(archive, "index.json")
    [descriptor] = index["manifests"]
    assert descriptor["mediaType"] == OCI_MANIFEST
    assert descriptor["digest"] == manifest["manifest_digest"]
    assert descriptor["annotations"] == {"org.opencontainers.image.ref.name": "latest"}
    with tarfile.open(archive) as opened:
        member = opened.extractfile("blobs/sha256/" + descriptor["digest"][7:])
        assert member is not None
        data = member.read()
    assert sha256(data) == descriptor["digest"] and len(data) == descriptor["size"] == manifest["manifest_bytes"]
    body = json.loads(data)
    assert "manifests" not in body
    assert body["mediaType"] == manifest["manifest_media_type"] == OCI_MANIFEST
    assert body["schemaVersion"] == 2 and body["config"]["mediaType"] == OCI_CONFIG


# -- reproducible ------------------------------------------------------------------------

def test_two_builds_of_the_same_inputs_are_byte_identical(images):
    one, two = images.app, images.again
    assert one.output != two.output
    assert one.output.read_bytes() == two.output.read_bytes()
    for key in ("manifest_digest", "config_digest", "layers", "manifest_bytes"):
        assert one.manifest[key] == two.manifest[key], key


def test_a_changed_function_file_changes_only_the_function_layer(images):
    before, after = images.app.manifest, images.changed.manifest
    assert [layer["kind"] for layer in after["layers"]] == ["runtime", "function"]
    assert after["layers"][0] == before["layers"][0], "the runtime layer, and its digest, stay as they were"
    assert after["layers"][1]["digest"] != before["layers"][1]["digest"]
    assert after["manifest_digest"] != before["manifest_digest"]
    assert after["config_digest"] != before["config_digest"]


def test_a_function_zip_gives_the_same_image_as_its_directory(images):
    assert images.zipped.manifest["manifest_digest"] == images.app.manifest["manifest_digest"]
    assert images.zipped.output.read_bytes() == images.app.output.read_bytes()


# -- a base image ------------------------------------------------------------------------

def test_a_base_s_layers_stay_under_the_new_ones(based, inputs):
    [base_layer_descriptor] = inputs.base_manifest["layers"]
    for built in based.values():
        manifest = built.manifest
        assert [layer["kind"] for layer in manifest["layers"]] == ["base", "runtime", "function"]
        assert manifest["layers"][0]["digest"] == base_layer_descriptor["digest"]
        raw = json.loads(run("skopeo", "inspect", "--raw", built.ref()))
        assert raw["layers"][0] == base_layer_descriptor
        assert [layer["digest"] for layer in raw["layers"]] == [layer["digest"] for layer in manifest["layers"]]
        config = skopeo("--config", built.ref())
        assert config["rootfs"]["diff_ids"][0] == sha256(base_layer())
        assert config["rootfs"]["diff_ids"] == [layer["diff_id"] for layer in manifest["layers"]]
        assert config["config"]["Env"] == ["FOO=bar"] + [LAMBDA_ENV[0]] + LAMBDA_ENV[1:]
        assert config["config"]["Labels"] == {"base": "yes"}
        assert "Healthcheck" not in config["config"], "Lambda runs no health check: the base's is dropped"
        assert (config["config"]["Entrypoint"], config["config"]["Cmd"]) == (["/opt/bootstrap"], [HANDLER])
        assert [h["created_by"] for h in config["history"]] == [
            "the test's base", "make-runtime-image: the runtime (/opt)", "make-runtime-image: the function (/var/task)"]
        assert manifest["base"] == "--base %s" % (inputs.base if built is based["layout"] else inputs.base_archive)
    assert based["layout"].output.read_bytes() == based["archive"].output.read_bytes()


def test_umoci_shows_the_base_s_file_beside_the_runtime(based, tmp_path):
    rootfs = unpack(based["archive"].output, tmp_path / "bundle") / "rootfs"
    assert (rootfs / "etc" / "base-greeting").read_text() == GREETING
    assert (rootfs / "opt" / "bootstrap").stat().st_mode & 0o111 == 0o111
    assert (rootfs / "var" / "task" / "app.py").read_text() == APP


# -- --layout, --with-rie, --entrypoint ---------------------------------------------------------

def test_a_layout_with_the_rie_and_the_function_s_own_bootstrap(with_rie, inputs, tmp_path):
    layout = with_rie.output
    assert sorted(p.name for p in layout.iterdir()) == ["blobs", "index.json", "oci-layout"]
    manifest = with_rie.manifest
    assert with_rie.manifest_path == layout.with_name("app.manifest.json")
    assert manifest["format"] == "oci" and manifest["entrypoint"] == ["/var/task/bootstrap"]
    assert manifest["push_command"].startswith("skopeo copy --preserve-digests oci:%s:latest docker://" % layout)
    assert [layer["kind"] for layer in manifest["layers"]] == ["runtime", "rie", "function"]
    assert skopeo(with_rie.ref())["Digest"] == manifest["manifest_digest"]
    bundle = unpack(layout, tmp_path / "bundle")
    process = json.loads((bundle / "config.json").read_text())["process"]
    assert process["args"] == ["/var/task/bootstrap", HANDLER]
    rie = bundle / "rootfs" / "usr" / "local" / "bin" / "aws-lambda-rie"
    assert rie.read_bytes() == inputs.program.read_bytes()
    assert stat.S_IMODE(rie.stat().st_mode) == 0o755


def test_an_empty_directory_takes_a_layout(tmp_path):
    target = tmp_path / "layout"
    target.mkdir()
    done = build(target, "--layout", "--handler", HANDLER, "-q")
    assert (done.stdout, done.stderr) == ("", "")
    assert skopeo(done.ref())["Digest"] == done.manifest["manifest_digest"]


def test_a_layout_into_a_non_empty_directory_is_refused_and_it_is_left_alone(tmp_path):
    target = tmp_path / "layout"
    target.mkdir()
    (target / "keep.txt").write_text("mine\n")
    done = run_cli(["-o", str(target), "--layout", "-q"])
    assert (done.code, done.stdout) == (3, "")
    assert done.stderr.splitlines() == [ERROR + "-o %s: an OCI layout is written into a new or empty directory"
                                        % target]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["layout"] and os.listdir(target) == ["keep.txt"]


def test_a_directory_given_as_the_archive_is_refused_before_the_build(tmp_path):
    done = run_cli(["-o", str(tmp_path), "-q"])
    assert (done.code, done.stdout) == (3, "")
    assert done.stderr.splitlines() == [ERROR + "%s is a directory: -o takes the archive's file name, e.g. %s"
                                        % (tmp_path, tmp_path / "image.tar")]
    assert list(tmp_path.iterdir()) == []


# -- refusals: exit 3, every problem listed, nothing written ------------------------------------

def test_a_function_program_for_another_architecture_is_refused(inputs, tmp_path):
    code = function_dir(tmp_path / "code")
    foreign(inputs.program, code / "tool")
    assert refused(tmp_path, "--function", str(code), "--handler", HANDLER) == [
        "--function %s: tool is built for %s, not %s (%s): rebuild it for %s or choose --arch"
        % (code, elf.MACHINES[OTHER], ARCH, elf.MACHINES[ARCH], ARCH)]


def missing_entrypoint(path: str) -> str:
    return ("the entrypoint %s is not an executable file in the image: Lambda would fail with "
            "Runtime.InvalidEntrypoint (the runtime's is /opt/bootstrap; a bootstrap in the function's code is "
            "/var/task/bootstrap)" % path)


def test_a_missing_entrypoint_is_refused(inputs, tmp_path):
    assert refused(tmp_path, "--function", str(inputs.function), "--handler", HANDLER,
                   "--entrypoint", "/var/task/bootstrap") == [missing_entrypoint("/var/task/bootstrap")]


def test_an_entrypoint_that_is_not_executable_is_refused(tmp_path):
    code = function_dir(tmp_path / "code")
    (code / "bootstrap").write_text("#!/opt/bin/run\n")
    (code / "bootstrap").chmod(0o644)
    assert refused(tmp_path, "--function", str(code), "--handler", HANDLER, "--entrypoint",
                   "/var/task/bootstrap") == [
        "the entrypoint /var/task/bootstrap is not executable by everyone (mode 644): Lambda would fail with "
        "Runtime.InvalidEntrypoint; chmod 755 it"]


def oversize_base(layout: Path) -> Path:
    """A base whose one layer is a plain tar over Lambda's 10 GB: a sparse file, never written."""
    hexpart = hashlib.sha256(b"a sparse layer").hexdigest()
    (layout / "blobs" / "sha256").mkdir(parents=True)
    sparse = layout / "blobs" / "sha256" / hexpart
    sparse.touch()
    os.truncate(sparse, OVERSIZE)
    write_base(layout, layers=[{"mediaType": OCI_LAYER_TAR, "digest": "sha256:" + hexpart, "size": OVERSIZE}],
               diff_ids=["sha256:" + hexpart])
    assert sparse.stat().st_blocks == 0, "sparse"
    return layout


def oversize_problem(layout: Path) -> str:
    return ("--base %s: its layers hold %s as stored, over Lambda's %s limit for an image"
            % (layout, megabytes(OVERSIZE), megabytes(IMAGE_LIMIT)))


def test_a_base_over_10_gb_is_refused_from_its_descriptors(tmp_path):
    layout = oversize_base(tmp_path / "base")
    assert refused(tmp_path, "--base", str(layout)) == [oversize_problem(layout)]


def test_a_base_over_10_gb_is_refused_without_reading_its_layer(tmp_path):
    layout = oversize_base(tmp_path / "base")
    options = ImageOptions(output=tmp_path / "x.tar", layer=LayerOptions(output=tmp_path / "x.zip"), base=layout)
    findings = Findings()
    (tmp_path / "scratch").mkdir()
    assert image._read_base(options, tmp_path / "scratch", findings) is None
    # The layer's digest is not its sparse bytes': had it been read, that would be reported too.
    assert findings.errors == [oversize_problem(layout)]


def test_an_index_given_as_base_is_refused(tmp_path):
    layout = tmp_path / "base"
    write_base(layout, index_media_type=OCI_INDEX)
    assert refused(tmp_path, "--base", str(layout)) == [
        "--base %s: it is an image index (a multi-architecture list), not an image: Lambda takes one image "
        "manifest; export one architecture (skopeo copy --override-arch %s docker://IMAGE oci-archive:base.tar)"
        % (layout, GOARCH[ARCH])]


def test_a_base_for_another_architecture_is_refused(tmp_path):
    layout = tmp_path / "base"
    write_base(layout, architecture=GOARCH[OTHER])
    assert refused(tmp_path, "--base", str(layout)) == [
        "--base %s is for linux/%s, not linux/%s (--arch %s): every layer of an image runs on one architecture"
        % (layout, GOARCH[OTHER], GOARCH[ARCH], ARCH)]


def test_system_libc_without_a_base_is_refused(tmp_path):
    assert refused(tmp_path, "--system-libc") == [
        "--system-libc needs a --base that brings glibc: an image from scratch has only what the runtime bundles"]


def test_an_rie_for_another_architecture_is_refused(inputs, tmp_path):
    rie = foreign(inputs.program, tmp_path / "aws-lambda-rie")
    assert refused(tmp_path, "--with-rie", str(rie)) == [
        "--with-rie %s is built for %s, not %s (%s): build the RIE for %s"
        % (rie, elf.MACHINES[OTHER], ARCH, elf.MACHINES[ARCH], ARCH)]


def test_every_problem_is_listed_in_one_run(inputs, tmp_path):
    code = function_dir(tmp_path / "code")
    foreign(inputs.program, code / "tool")
    rie = foreign(inputs.program, tmp_path / "aws-lambda-rie")
    base = tmp_path / "base"
    write_base(base, architecture=GOARCH[OTHER])
    problems = refused(tmp_path, "--function", str(code), "--handler", HANDLER, "--entrypoint", "/var/task/bootstrap",
                       "--with-rie", str(rie), "--base", str(base))
    assert sorted(problems) == sorted([
        "--base %s is for linux/%s, not linux/%s (--arch %s): every layer of an image runs on one architecture"
        % (base, GOARCH[OTHER], GOARCH[ARCH], ARCH),
        "--function %s: tool is built for %s, not %s (%s): rebuild it for %s or choose --arch"
        % (code, elf.MACHINES[OTHER], ARCH, elf.MACHINES[ARCH], ARCH),
        "--with-rie %s is built for %s, not %s (%s): build the RIE for %s"
        % (rie, elf.MACHINES[OTHER], ARCH, elf.MACHINES[ARCH], ARCH),
        missing_entrypoint("/var/task/bootstrap")])


# -- the manifest JSON -------------------------------------------------------------------

def lint(text: str) -> List[str]:
    """cfn-lint's findings (errors and warnings), as tests/integration/test_templates.py gets them."""
    from cfnlint.api import ManualArgs, lint as cfn_lint

    return ["%s %s (line %d)" % (m.rule.id, m.message, m.linenumber)
            for m in cfn_lint(text, config=ManualArgs(regions=["us-east-1"]))]


def test_the_manifest_json_has_the_digests_and_the_commands(images):
    built = images.app
    manifest = built.manifest
    digest = skopeo(built.ref())["Digest"]
    assert manifest["kind"] == "image" and manifest["format"] == "oci-archive"
    assert manifest["manifest_digest"] == digest
    assert (manifest["architecture"], manifest["tag"]) == (ARCH, "latest")
    assert (manifest["entrypoint"], manifest["cmd"], manifest["working_dir"]) == (
        ["/opt/bootstrap"], [HANDLER], "/var/task")
    assert manifest["compressed_bytes"] == sum(layer["size"] for layer in manifest["layers"])
    assert manifest["uncompressed_bytes"] == sum(layer["unpacked_size"] for layer in manifest["layers"])
    assert manifest["push_command"].startswith("skopeo copy --preserve-digests oci-archive:%s:latest docker://"
                                               % built.output)
    create = manifest["create_function_command"]
    assert "--package-type Image" in create and "ImageUri=" in create and "@" + digest in create
    assert "--architectures %s" % ARCH in create
    assert """--image-config '{"Command":["app.handler"]}'""" in create
    update = manifest["update_function_command"]
    assert update.startswith("aws lambda update-function-code ") and "--image-uri " in update
    assert update.endswith("@" + digest)
    assert manifest["warnings"] == []


def test_a_push_command_s_source_is_what_skopeo_copies(images, tmp_path):
    """The push command's source, copied to a local layout as it would be pushed: same digest."""
    words = shlex.split(images.app.manifest["push_command"])
    assert words[:3] == ["skopeo", "copy", "--preserve-digests"]
    source = words[3]
    assert source == "oci-archive:%s:latest" % images.app.output
    run("skopeo", "--insecure-policy", "copy", "--quiet", "--preserve-digests", source, "oci:%s:latest"
        % (tmp_path / "copy"))
    assert skopeo("oci:%s:latest" % (tmp_path / "copy"))["Digest"] == images.app.manifest["manifest_digest"]


@pytest.mark.parametrize("which", ["cloudformation", "sam"])
def test_the_templates_pin_the_image_and_lint_clean(images, which):
    manifest = images.app.manifest
    text = manifest[which]
    template = yaml.safe_load(text)
    [function] = [r for r in template["Resources"].values() if r["Type"].endswith("::Function")]
    properties = function["Properties"]
    assert properties["PackageType"] == "Image"
    assert properties["Architectures"] == [ARCH]
    assert properties["ImageConfig"] == {"EntryPoint": ["/opt/bootstrap"], "WorkingDirectory": "/var/task",
                                         "Command": [HANDLER]}
    uri = properties["Code"]["ImageUri"] if which == "cloudformation" else properties["ImageUri"]
    assert uri["Fn::Sub"].endswith("/${Repository}@" + manifest["manifest_digest"])
    assert "Handler" not in properties and "Runtime" not in properties and "Layers" not in properties
    findings = lint(text)
    assert findings == [], "cfn-lint:\n  %s\n\n%s" % ("\n  ".join(findings), text)


# -- the command line --------------------------------------------------------------------

def test_help_exits_0_and_names_the_image_options():
    done = run_cli(["--help"])
    assert done.code == 0 and done.stderr == ""
    for option in ("--base", "--with-rie", "--docker-context", "--layout", "--entrypoint"):
        assert option in done.stdout, option


def test_quiet_prints_nothing_on_success(images):
    assert (images.app.stdout, images.app.stderr) == ("", "")
    assert (images.again.stdout, images.again.stderr) == ("", "")


def test_json_prints_the_manifest_and_no_handler_is_warned_about(images):
    built = images.runtime
    assert json.loads(built.stdout) == built.manifest
    assert built.manifest["cmd"] == [] and "--image-config" not in built.manifest["create_function_command"]
    warning = ("make-runtime-image: warning: no --handler: the image's Cmd is empty, so the runtime fails init with "
               "Runtime.MalformedHandlerName unless the function's ImageConfig sets Command")
    assert warning in built.stderr.splitlines()
    assert built.manifest["warnings"] == [warning[len("make-runtime-image: warning: "):]]


def test_a_plain_build_prints_the_archive_its_digest_and_the_push_command(inputs, tmp_path):
    done = build(tmp_path / "app.tar", "--function", str(inputs.function), "--handler", HANDLER)
    assert done.stdout.splitlines() == [str(tmp_path / "app.tar"), "manifest %s" % done.manifest["manifest_digest"],
                                        "push with:", "  %s" % done.manifest["push_command"]]
    last = done.stderr.splitlines()[-1]
    assert "] image: %s (" % done.output in last and last.endswith(" 2 layers); manifest %s" % done.manifest_path)


def test_output_and_docker_context_together_are_a_usage_error(tmp_path):
    done = run_cli(["-o", str(tmp_path / "a.tar"), "--docker-context", str(tmp_path / "ctx")])
    assert done.code == 2 and done.stdout == ""
    assert "not allowed with argument" in done.stderr.splitlines()[-1]
    assert list(tmp_path.iterdir()) == []


def test_neither_output_nor_docker_context_is_a_usage_error(tmp_path):
    done = run_cli(["--function", str(tmp_path)])
    assert done.code == 2
    assert done.stderr.splitlines()[-1] == (
        "make-runtime-image: error: one of the arguments -o/--output --docker-context is required")


# -- --docker-context ------------------------------------------------------------------------

@pytest.mark.parametrize("base", ["scratch", "provided"])
def test_a_docker_context_holds_the_dockerfile_the_runtime_the_code_and_tmp(inputs, tmp_path, base):
    context = tmp_path / "context"
    done = run_cli(["--docker-context", str(context), "--docker-base", base, "--function", str(inputs.function),
                    "--handler", HANDLER, "-q"])
    assert (done.code, done.stdout, done.stderr) == (0, "", "")
    assert sorted(p.name for p in context.iterdir()) == ["Dockerfile", "opt", "task", "tmp"]
    lines = (context / "Dockerfile").read_text().splitlines()
    instructions = [line for line in lines if line and not line.startswith(("#", " "))]
    cmd = 'CMD ["%s"]' % HANDLER
    if base == "scratch":
        assert instructions == ["FROM scratch", "COPY opt/ /opt/", "COPY tmp/ /tmp/", "COPY task/ /var/task/",
                                "ENV PATH=%s \\" % LAMBDA_ENV[0][5:], "WORKDIR /var/task",
                                'ENTRYPOINT ["/opt/bootstrap"]', cmd]
        assert "    LD_LIBRARY_PATH=%s \\" % LAMBDA_ENV[1][16:] in lines
    else:
        assert instructions == ["FROM public.ecr.aws/lambda/provided:al2023", "COPY opt/ /opt/",
                                "COPY opt/bootstrap /var/runtime/bootstrap", "COPY task/ /var/task/", cmd]
    assert "#   docker build --platform linux/%s -t IMAGE ." % GOARCH[ARCH] in lines
    bootstrap = context / "opt" / "bootstrap"
    assert bootstrap.is_file() and bootstrap.stat().st_mode & 0o111 == 0o111
    assert (context / "opt" / "bootstrap-sdk" / "python" / "bin").is_dir()
    assert (context / "task" / "app.py").read_text() == APP
    assert stat.S_IMODE((context / "tmp").stat().st_mode) == 0o1777


def test_a_non_empty_docker_context_is_refused(inputs, tmp_path):
    context = tmp_path / "context"
    context.mkdir()
    (context / "keep.txt").write_text("mine\n")
    done = run_cli(["--docker-context", str(context), "--function", str(inputs.function), "--handler", HANDLER,
                    "-q"])
    assert (done.code, done.stdout) == (3, "")
    assert done.stderr.splitlines() == [ERROR + "--docker-context %s: give a new or empty directory" % context]
    assert [p.name for p in context.iterdir()] == ["keep.txt"]


def test_from_scratch_what_leans_on_the_os_is_refused_on_a_base_only_warned_about(inputs, tmp_path):
    """No OS in an image from scratch: a program linked against the OS's glibc, or a #!/bin/sh
    script, cannot run there; on a base that brings an OS they are the warnings a zip gets."""
    code = function_dir(tmp_path / "code")
    shutil.copy(inputs.program, code / "tool")
    (code / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (code / "run.sh").chmod(0o755)
    problems = refused(tmp_path, "--function", str(code), "--handler", HANDLER)
    loader = elf.read_elf(str(inputs.program)).interpreter
    assert sorted(problems) == sorted([
        "--function %s: run.sh starts with '#!/bin/sh': provided.al2023 has it, but it is all the OS userland such "
        "a script may count on there; run-lambda-local's sandbox has none, so run it there with --os-userland, or "
        "bundle an interpreter and point the #! line at it%s" % (code, NO_OS),
        "--function %s: tool is linked against the OS's glibc (loader %s): Lambda would fail to start it with "
        "\"No such file or directory\"%s" % (code, loader, NO_OS)])
    on_base = run_cli(["-o", str(tmp_path / "based" / "app.tar"), "-q", "--function", str(code), "--handler",
                       HANDLER, "--base", str(inputs.base)])
    assert on_base.code == 0, on_base.stderr
    assert "tool is linked against the OS's glibc" in on_base.stderr and "run.sh starts with '#!/bin/sh'" in \
        on_base.stderr
    assert "error" not in on_base.stderr
