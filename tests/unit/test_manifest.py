"""manifest (packaging/manifest.py): sha256, sizes, the commands and the CloudFormation/SAM templates.

The templates are also linted with cfn-lint and transformed with SAM's translator, from
real builds, in tests/integration/test_templates.py.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any, Dict, List

import yaml
from hypothesis import given
from hypothesis import strategies as st

from bootstrap_sdk.packaging.checks import DIRECT_UPLOAD_LIMIT, UNZIPPED_LIMIT
from bootstrap_sdk.packaging.manifest import (function_manifest, layer_manifest, manifest_path_for, sha256_of,
                                              write_manifest)
from bootstrap_sdk.packaging.options import host_arch
from bootstrap_sdk.packaging.zipper import write_zip

BUCKET_WORD = '"${S3_BUCKET:?set S3_BUCKET to the S3 bucket that holds the zip}"'


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


def manifest_for(zip_path: Path, **overrides: object) -> Dict[str, object]:
    fields: Dict[str, object] = dict(
        name="my_fine-layer", description='COBOL "batch" runtime\nsecond line', license="Apache-2.0",
        zip_path=zip_path, sha256=sha256_of(zip_path), zipped_bytes=zip_path.stat().st_size,
        unzipped_bytes=13_000_000, budget_left=UNZIPPED_LIMIT - 13_000_000, runtimes=["provided.al2023"],
        architectures=["x86_64"], python="3.11", files=236, bundled_libraries=["libc.so.6", "libz.so.1"],
        warnings=["w1"])
    fields.update(overrides)
    return layer_manifest(**fields)  # type: ignore[arg-type]


def template(text: object) -> Dict[str, Any]:
    assert isinstance(text, str) and text.endswith("\n")
    loaded = yaml.safe_load(text)
    assert isinstance(loaded, dict)
    return loaded


def in_a_shell(command: object, **variables: str) -> subprocess.CompletedProcess:  # type: ignore[type-arg]
    """Run a manifest's command in bash with ``aws`` printing its arguments, NUL-separated."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    env.update(variables)
    return subprocess.run(["bash", "-c", "aws() { printf '%s\\0' \"$@\"; }\n" + str(command)], env=env,
                          capture_output=True, text=True)


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
    assert list(json.loads(text))[-1] == "warnings"


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
    ran = in_a_shell(manifest_for(zip_path)["publish_command"])
    assert ran.returncode == 0 and ran.stdout.split("\0")[:-1] == words[1:]
    without_license = shlex.split(str(manifest_for(zip_path, license="")["publish_command"]))
    assert "--license-info" not in without_license


def test_a_zip_over_the_direct_upload_limit_is_published_through_s3(tmp_path):
    zip_path = a_zip(tmp_path)
    at_limit = shlex.split(str(manifest_for(zip_path, zipped_bytes=DIRECT_UPLOAD_LIMIT)["publish_command"]))
    over = manifest_for(zip_path, zipped_bytes=DIRECT_UPLOAD_LIMIT + 1)
    assert at_limit[-2:] == ["--zip-file", "fileb://%s" % zip_path]
    assert shlex.split(str(over["publish_command"]))[-2:] == [
        "--content", "S3Bucket=${S3_BUCKET:?set S3_BUCKET to the S3 bucket that holds the zip},S3Key=runtime layer.zip"]
    ran = in_a_shell(over["publish_command"], S3_BUCKET="my-bucket")
    assert ran.returncode == 0
    assert ran.stdout.split("\0")[-3:-1] == ["--content", "S3Bucket=my-bucket,S3Key=runtime layer.zip"]
    upload = in_a_shell(over["upload_command"], S3_BUCKET="my-bucket")
    assert upload.stdout.split("\0")[:-1] == ["s3", "cp", str(zip_path), "s3://my-bucket/runtime layer.zip"]


def test_an_unset_variable_stops_the_command_and_says_how_to_set_it(tmp_path):
    zip_path = a_zip(tmp_path)
    layer = manifest_for(zip_path, zipped_bytes=DIRECT_UPLOAD_LIMIT + 1)
    function = function_manifest(zip_path, sha256_of(zip_path), 100, 200, 2, [])
    for command, variable in [(layer["publish_command"], "S3_BUCKET"), (layer["upload_command"], "S3_BUCKET"),
                              (layer["permission_command_example"], "LAYER_VERSION"),
                              (function["update_command"], "FUNCTION_NAME"),
                              (function["upload_command"], "S3_BUCKET")]:
        ran = in_a_shell(command)
        assert ran.returncode != 0 and ran.stdout == "", command
        assert "%s: set %s to " % (variable, variable) in ran.stderr, ran.stderr
    permission = in_a_shell(layer["permission_command_example"], LAYER_VERSION="3", ACCOUNT_ID="123456789012")
    assert permission.stdout.split("\0")[:-1] == [
        "lambda", "add-layer-version-permission", "--layer-name", "my_fine-layer", "--version-number", "3",
        "--statement-id", "share", "--action", "lambda:GetLayerVersion", "--principal", "123456789012"]


def test_the_commands_hold_no_bare_placeholders_and_list_their_variables(tmp_path):
    zip_path = a_zip(tmp_path)
    reference = re.compile(r"\$\{([A-Z0-9_]+):\?set \1 to [^}$`\\!'\"]+\}")
    for manifest in (manifest_for(zip_path, zipped_bytes=DIRECT_UPLOAD_LIMIT + 1),
                     function_manifest(zip_path, sha256_of(zip_path), DIRECT_UPLOAD_LIMIT + 1, 200, 2, [])):
        commands = [str(v) for k, v in manifest.items() if k.endswith(("_command", "_command_example"))]
        assert len(commands) >= 2
        used = {name for command in commands for name in reference.findall(command)}
        assert used == set(manifest["command_variables"])  # type: ignore[arg-type]
        for command in commands:
            rest = reference.sub("", command)
            assert "$" not in rest, "every $ is a ${NAME:?...} reference: %s" % command
            assert not re.search(r"YOUR_|ACCOUNT_ID|VERSION\b|BUCKET\b|FUNCTION\b", rest), command
        assert "YOUR_" not in json.dumps(manifest)


def test_the_cloudformation_template_is_complete(tmp_path):
    zip_path = a_zip(tmp_path)
    manifest = manifest_for(zip_path, runtimes=["provided.al2023", "provided.al2"],
                            architectures=["x86_64", "arm64"])
    cfn = template(manifest["cloudformation"])
    assert cfn["AWSTemplateFormatVersion"] == "2010-09-09" and "Transform" not in cfn
    assert set(cfn["Parameters"]) == {"S3Bucket", "S3Key"}
    assert "Default" not in cfn["Parameters"]["S3Bucket"], "the bucket cannot be known: no default"
    assert cfn["Parameters"]["S3Key"]["Default"] == "runtime layer.zip"
    assert list(cfn["Resources"]) == ["MyFineLayer"]
    layer = cfn["Resources"]["MyFineLayer"]
    assert layer["Type"] == "AWS::Lambda::LayerVersion"
    assert layer["Properties"] == {
        "LayerName": "my_fine-layer", "Description": 'COBOL "batch" runtime\nsecond line',
        "CompatibleRuntimes": ["provided.al2023", "provided.al2"], "CompatibleArchitectures": ["x86_64", "arm64"],
        "LicenseInfo": "Apache-2.0", "Content": {"S3Bucket": {"Ref": "S3Bucket"}, "S3Key": {"Ref": "S3Key"}}}
    assert cfn["Outputs"]["LayerVersionArn"]["Value"] == {"Ref": "MyFineLayer"}
    described = [line for line in str(manifest["cloudformation"]).splitlines() if "Description: \"COBOL" in line]
    assert len(described) == 1, "a multi-line description stays on one (quoted) line"


def test_the_sam_template_is_complete(tmp_path):
    zip_path = a_zip(tmp_path)
    sam = template(manifest_for(zip_path)["sam"])
    assert sam["Transform"] == "AWS::Serverless-2016-10-31"
    layer = sam["Resources"]["MyFineLayer"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Properties"]["ContentUri"] == str(zip_path.absolute())
    assert layer["Properties"]["RetentionPolicy"] == "Retain"
    assert layer["Properties"]["CompatibleArchitectures"] == ["x86_64"]
    assert sam["Outputs"]["LayerVersionArn"]["Value"] == {"Ref": "MyFineLayer"}
    no_license = manifest_for(zip_path, license="")
    assert "LicenseInfo" not in str(no_license["cloudformation"]) + str(no_license["sam"])


def test_the_templates_are_the_same_under_and_over_the_direct_upload_limit(tmp_path):
    zip_path = a_zip(tmp_path)
    under, over = manifest_for(zip_path), manifest_for(zip_path, zipped_bytes=DIRECT_UPLOAD_LIMIT + 1)
    assert (under["cloudformation"], under["sam"]) == (over["cloudformation"], over["sam"])


def test_logical_ids_come_from_the_name_and_never_collide_with_a_parameter(tmp_path):
    zip_path = a_zip(tmp_path)
    assert list(template(manifest_for(zip_path, name="--")["cloudformation"])["Resources"]) == ["RuntimeLayer"]
    assert list(template(manifest_for(zip_path, name="bootstrap-sdk-runtime")["sam"])["Resources"]) == [
        "BootstrapSdkRuntime"]
    assert list(template(manifest_for(zip_path, name="s3-bucket")["cloudformation"])["Resources"]) == [
        "S3BucketResource"]
    handler = tmp_path / "handler.zip"
    handler.write_bytes(zip_path.read_bytes())
    cfn = template(function_manifest(handler, sha256_of(handler), 10, 10, 1, [])["cloudformation"])
    assert sorted(cfn["Resources"]) == ["HandlerResource", "HandlerResourceRole"]


@given(st.text(max_size=40))
def test_any_text_survives_the_yaml(description):
    zip_path = Path("/b/x%s.zip" % description[:5].replace("/", "_"))
    manifest = layer_manifest(
        name="x", description=description, license=description, zip_path=zip_path,
        sha256="00" * 32, zipped_bytes=1, unzipped_bytes=1, budget_left=1, runtimes=["provided.al2023"],
        architectures=["x86_64"], python="3.11", files=1, bundled_libraries=[], warnings=[])
    for key in ("cloudformation", "sam"):
        properties = template(manifest[key])["Resources"]["X"]["Properties"]
        assert properties["Description"] == description
        assert properties.get("LicenseInfo", "") == description
    assert template(manifest["sam"])["Resources"]["X"]["Properties"]["ContentUri"] == str(zip_path)
    assert template(manifest["cloudformation"])["Parameters"]["S3Key"]["Default"] == zip_path.name


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
    assert words[:5] == ["aws", "lambda", "update-function-code", "--function-name",
                         "${FUNCTION_NAME:?set FUNCTION_NAME to the name of your function}"]
    assert words[-2:] == ["--zip-file", "fileb://%s" % zip_path]
    ran = in_a_shell(manifest["update_command"], FUNCTION_NAME="payroll")
    assert ran.stdout.split("\0")[2:4] == ["--function-name", "payroll"]
    over = function_manifest(zip_path, sha256_of(zip_path), DIRECT_UPLOAD_LIMIT + 1, 4106, 2, [])
    ran = in_a_shell(over["update_command"], FUNCTION_NAME="payroll", S3_BUCKET="b")
    assert ran.stdout.split("\0")[-5:-1] == ["--s3-bucket", "b", "--s3-key", "function.zip"]


def function_templates(manifest: Dict[str, object]) -> List[Dict[str, Any]]:
    return [template(manifest["cloudformation"]), template(manifest["sam"])]


def test_the_function_templates_take_handler_runtime_and_layers_as_parameters(tmp_path):
    zip_path = a_zip(tmp_path, "payroll-function.zip")
    manifest = function_manifest(zip_path, sha256_of(zip_path), 100, 200, 2, [])
    cfn, sam = function_templates(manifest)
    for document, kind in ((cfn, "AWS::Lambda::Function"), (sam, "AWS::Serverless::Function")):
        function = document["Resources"]["PayrollFunction"]
        assert function["Type"] == kind
        properties = function["Properties"]
        assert properties["Handler"] == {"Ref": "Handler"} and "Default" not in document["Parameters"]["Handler"]
        assert properties["Runtime"] == {"Ref": "Runtime"}
        assert document["Parameters"]["Runtime"]["Default"] == "provided.al2023"
        assert properties["Layers"] == {"Fn::If": ["HasLayers", {"Ref": "Layers"}, {"Ref": "AWS::NoValue"}]}
        assert document["Parameters"]["Layers"]["Type"] == "CommaDelimitedList"
        assert properties["Architectures"] == [host_arch()]
        assert set(document["Outputs"]) == {"FunctionName", "FunctionArn"}
    assert cfn["Resources"]["PayrollFunction"]["Properties"]["Code"] == {"S3Bucket": {"Ref": "S3Bucket"},
                                                                         "S3Key": {"Ref": "S3Key"}}
    assert cfn["Parameters"]["S3Key"]["Default"] == "payroll-function.zip"
    assert cfn["Resources"]["PayrollFunctionRole"]["Type"] == "AWS::IAM::Role"
    assert sam["Resources"]["PayrollFunction"]["Properties"]["CodeUri"] == str(zip_path.absolute())
    arm = function_manifest(zip_path, sha256_of(zip_path), 100, 200, 2, [], runtime="provided.al2",
                            architecture="arm64")
    for document in function_templates(arm):
        assert document["Resources"]["PayrollFunction"]["Properties"]["Architectures"] == ["arm64"]
        assert document["Parameters"]["Runtime"]["Default"] == "provided.al2"
