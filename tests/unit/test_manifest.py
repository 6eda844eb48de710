"""manifest (packaging/manifest.py): sha256, sizes, the publish command and the CFN/SAM snippets."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shlex
from pathlib import Path
from typing import Dict, List

from bootstrap_sdk.packaging.checks import DIRECT_UPLOAD_LIMIT, UNZIPPED_LIMIT
from bootstrap_sdk.packaging.manifest import (function_manifest, layer_manifest, manifest_path_for, sha256_of,
                                              write_manifest)
from bootstrap_sdk.packaging.zipper import write_zip


def a_zip(tmp_path: Path, name: str = "runtime layer.zip") -> Path:
    """A real zip (a path with a space: the commands must quote it)."""
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "bootstrap").write_text("#!/bin/sh\n")
    (tree / "data.bin").write_bytes(os.urandom(4096))
    output = tmp_path / "out dir" / name
    output.parent.mkdir()
    write_zip(tree, output)
    return output


def manifest_for(zip_path: Path, **overrides) -> Dict[str, object]:
    fields: Dict[str, object] = dict(
        name="my_fine-layer", description='COBOL "batch" runtime\nsecond line', license="Apache-2.0",
        zip_path=zip_path, sha256=sha256_of(zip_path), zipped_bytes=zip_path.stat().st_size,
        unzipped_bytes=13_000_000, budget_left=UNZIPPED_LIMIT - 13_000_000, runtimes=["provided.al2023"],
        architectures=["x86_64"], python="3.11", files=236, bundled_libraries=["libc.so.6", "libz.so.1"],
        warnings=["w1"])
    fields.update(overrides)
    return layer_manifest(**fields)  # type: ignore[arg-type]


def test_sha256_of_matches_hashlib_across_read_blocks(tmp_path):
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 * (1 << 20) + 17))
    assert sha256_of(big) == hashlib.sha256(big.read_bytes()).hexdigest()
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert sha256_of(empty) == hashlib.sha256(b"").hexdigest()


def test_the_manifest_sits_beside_the_zip(tmp_path):
    assert manifest_path_for(Path("/a/b/runtime.zip")) == Path("/a/b/runtime.manifest.json")
    assert manifest_path_for(Path("build/x.v2.zip")) == Path("build/x.v2.manifest.json")
    zip_path = a_zip(tmp_path)
    manifest = manifest_for(zip_path)
    written = write_manifest(zip_path, manifest)
    assert written == zip_path.with_name("runtime layer.manifest.json")
    text = written.read_text()
    assert text.endswith("}\n")
    assert json.loads(text) == json.loads(json.dumps(manifest))
    assert list(json.loads(text))[:3] == ["kind", "name", "description"], "keys keep their order"


def test_layer_manifest_describes_the_zip(tmp_path):
    zip_path = a_zip(tmp_path)
    digest = hashlib.sha256(zip_path.read_bytes())
    manifest = manifest_for(zip_path)
    assert manifest["kind"] == "layer" and manifest["zip"] == str(zip_path)
    assert manifest["sha256"] == digest.hexdigest()
    assert manifest["code_sha256_base64"] == base64.b64encode(digest.digest()).decode()
    assert manifest["zipped_bytes"] == zip_path.stat().st_size
    assert manifest["unzipped_bytes"] == 13_000_000
    assert manifest["unzipped_budget_left_bytes"] == UNZIPPED_LIMIT - 13_000_000
    assert manifest["compatible_runtimes"] == ["provided.al2023"]
    assert manifest["compatible_architectures"] == ["x86_64"]
    assert manifest["bootstrap"] == "/opt/bootstrap"
    assert manifest["bundled_libraries"] == ["libc.so.6", "libz.so.1"] and manifest["warnings"] == ["w1"]


def test_the_publish_command_round_trips_through_a_shell(tmp_path):
    zip_path = a_zip(tmp_path)
    words = shlex.split(str(manifest_for(zip_path)["publish_command"]))
    assert words == ["aws", "lambda", "publish-layer-version", "--layer-name", "my_fine-layer",
                     "--description", 'COBOL "batch" runtime\nsecond line', "--license-info", "Apache-2.0",
                     "--compatible-runtimes", "provided.al2023", "--compatible-architectures", "x86_64",
                     "--zip-file", "fileb://%s" % zip_path]
    without_license = shlex.split(str(manifest_for(zip_path, license="")["publish_command"]))
    assert "--license-info" not in without_license
    permission = shlex.split(str(manifest_for(zip_path)["permission_command_example"]))
    assert permission[:5] == ["aws", "lambda", "add-layer-version-permission", "--layer-name", "my_fine-layer"]


def test_a_zip_over_the_direct_upload_limit_is_published_through_s3(tmp_path):
    zip_path = a_zip(tmp_path)
    at_limit = shlex.split(str(manifest_for(zip_path, zipped_bytes=DIRECT_UPLOAD_LIMIT)["publish_command"]))
    over = shlex.split(str(manifest_for(zip_path, zipped_bytes=DIRECT_UPLOAD_LIMIT + 1)["publish_command"]))
    assert at_limit[-2:] == ["--zip-file", "fileb://%s" % zip_path]
    assert over[-2:] == ["--content", "S3Bucket=YOUR_BUCKET,S3Key=runtime layer.zip"]


def snippet_lines(text: object) -> List[str]:
    assert isinstance(text, str) and text.endswith("\n")
    return text.splitlines()


def test_the_cloudformation_and_sam_snippets_name_the_zip(tmp_path):
    zip_path = a_zip(tmp_path)
    manifest = manifest_for(zip_path, runtimes=["provided.al2023", "provided.al2"],
                            architectures=["x86_64", "arm64"])
    cfn = snippet_lines(manifest["cloudformation"])
    assert cfn[:3] == ["MyFineLayer:", "  Type: AWS::Lambda::LayerVersion", "  Properties:"]
    assert "    LayerName: my_fine-layer" in cfn
    assert "      S3Key: runtime layer.zip" in cfn and "      S3Bucket: YOUR_BUCKET" in cfn
    described = [line for line in cfn if line.startswith("    Description: ")]
    assert len(described) == 1, "a multi-line description stays on one (JSON-quoted) line"
    assert json.loads(described[0][len("    Description: "):]) == 'COBOL "batch" runtime\nsecond line'
    runtimes = cfn.index("    CompatibleRuntimes:")
    assert cfn[runtimes + 1:runtimes + 3] == ["      - provided.al2023", "      - provided.al2"]
    arches = cfn.index("    CompatibleArchitectures:")
    assert cfn[arches + 1:arches + 3] == ["      - x86_64", "      - arm64"]
    assert '    LicenseInfo: "Apache-2.0"' in cfn
    sam = snippet_lines(manifest["sam"])
    assert sam[:2] == ["MyFineLayer:", "  Type: AWS::Serverless::LayerVersion"]
    assert "    ContentUri: %s" % zip_path in sam
    assert sam[-1] == "    RetentionPolicy: Retain"
    no_license = manifest_for(zip_path, license="")
    assert "LicenseInfo" not in str(no_license["cloudformation"]) + str(no_license["sam"])


def test_a_name_without_letters_gets_a_default_logical_id(tmp_path):
    zip_path = a_zip(tmp_path)
    assert snippet_lines(manifest_for(zip_path, name="--")["cloudformation"])[0] == "RuntimeLayer:"
    assert snippet_lines(manifest_for(zip_path, name="bootstrap-sdk-runtime")["sam"])[0] == "BootstrapSdkRuntime:"


def test_function_manifest(tmp_path):
    zip_path = a_zip(tmp_path, "function.zip")
    digest = hashlib.sha256(zip_path.read_bytes())
    manifest = function_manifest(zip_path, sha256_of(zip_path), zip_path.stat().st_size, 4106, 2, [])
    assert manifest["kind"] == "function"
    assert manifest["sha256"] == digest.hexdigest()
    assert manifest["code_sha256_base64"] == base64.b64encode(digest.digest()).decode()
    assert (manifest["zipped_bytes"], manifest["unzipped_bytes"], manifest["files"]) == (
        zip_path.stat().st_size, 4106, 2)
    words = shlex.split(str(manifest["update_command"]))
    assert words[:3] == ["aws", "lambda", "update-function-code"]
    assert words[-2:] == ["--zip-file", "fileb://%s" % zip_path]
