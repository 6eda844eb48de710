"""The manifest written next to each zip: what it is, and how to publish it.

It carries the sha256 and sizes, the compatible runtimes and architectures, the ready
``aws`` command lines, and complete CloudFormation and SAM templates (YAML text), so that
CI can publish and verify without re-deriving anything.

What cannot be known at build time is never a placeholder a user could paste by
mistake: in the templates it is a Parameter (the S3 bucket, the handler, the layers), in
the commands a shell variable that stops the command, naming itself, when unset
(``"${S3_BUCKET:?set S3_BUCKET to ...}"``); ``command_variables`` lists those.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Dict, Iterable, List, Optional, Sequence

from .checks import DIRECT_UPLOAD_LIMIT
from .options import ImageOptions, host_arch

if TYPE_CHECKING:
    from .oci import Blob

Template = Dict[str, object]

SAM_TRANSFORM = "AWS::Serverless-2016-10-31"
BASIC_EXECUTION_POLICY = "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
# What each shell variable in the commands stands for (no quote, '$', '`', '\' or '!':
# the text sits inside a double-quoted ${NAME:?text}).
VARIABLES = {
    "S3_BUCKET": "the S3 bucket that holds the zip",
    "LAYER_VERSION": "the version number publish-layer-version printed",
    "ACCOUNT_ID": "the 12-digit ID of the account to share the layer with",
    "FUNCTION_NAME": "the name of your function",
    "AWS_ACCOUNT_ID": "the 12-digit ID of the account whose ECR repository receives the image",
    "AWS_REGION": "the AWS Region of that repository and of the function",
    "ECR_REPOSITORY": "the name of the ECR repository",
    "ROLE_ARN": "the ARN of the function execution role",
}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def manifest_path_for(zip_path: Path) -> Path:
    return zip_path.with_name(zip_path.stem + ".manifest.json")


def write_manifest(zip_path: Path, manifest: Dict[str, object]) -> Path:
    path = manifest_path_for(zip_path)
    path.write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n")
    return path


# -- shell commands ---------------------------------------------------------------------

class _Shell(str):
    """A word already written for the shell: never quoted again."""


def _variable(name: str, before: str = "", after: str = "") -> _Shell:
    """A shell word: the variable's value (between ``before`` and ``after``), or the
    command stops, saying how to set it."""
    return _Shell('"%s${%s:?set %s to %s}%s"' % (before, name, name, VARIABLES[name], after))


def _command(*words: str) -> str:
    return " ".join(w if isinstance(w, _Shell) else shlex.quote(w) for w in words)


def _upload_command(zip_path: Path) -> str:
    destination = _Shell(_variable("S3_BUCKET", "s3://", "/") + shlex.quote(zip_path.name))
    return _command("aws", "s3", "cp", str(zip_path), destination)


def _publish_command(name: str, description: str, license: str, zip_path: Path, zipped: int,
                     runtimes: List[str], architectures: List[str]) -> str:
    words = ["aws", "lambda", "publish-layer-version", "--layer-name", name, "--description", description]
    if license:
        words += ["--license-info", license]
    words += ["--compatible-runtimes"] + runtimes + ["--compatible-architectures"] + architectures
    if zipped > DIRECT_UPLOAD_LIMIT:
        words += ["--content", _Shell("S3Bucket=" + _variable("S3_BUCKET") + shlex.quote(",S3Key=" + zip_path.name))]
    else:
        words += ["--zip-file", "fileb://%s" % zip_path]
    return _command(*words)


# -- templates --------------------------------------------------------------------------

_PLAIN = re.compile(r"[A-Za-z_/][A-Za-z0-9_./:-]*")
_YAML_WORDS = {"y", "n", "yes", "no", "true", "false", "on", "off", "null"}


def _scalar(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    text = str(value)
    if _PLAIN.fullmatch(text) and not text.endswith(":") and text.lower() not in _YAML_WORDS:
        return text
    quoted = json.dumps(text, ensure_ascii=False)  # JSON's escapes are YAML's; the rest, \U
    return "".join(c if c.isprintable() else "\\U%08x" % ord(c) for c in quoted)


def _yaml(value: object, indent: str = "") -> List[str]:
    """Block YAML for the dicts, lists, strings and ints templates are made of."""
    lines: List[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                lines += ["%s%s:" % (indent, _scalar(key))] + _yaml(item, indent + "  ")
            else:
                empty = isinstance(item, (dict, list))  # {} or []
                lines.append("%s%s: %s" % (indent, _scalar(key), json.dumps(item) if empty else _scalar(item)))
    elif isinstance(value, list):
        for item in value:
            inner = _yaml(item, indent + "  ") if isinstance(item, (dict, list)) else [indent + "  " + _scalar(item)]
            lines += [indent + "- " + inner[0][len(indent) + 2:]] + inner[1:]
    return lines


def _render(template: Template, comment: str) -> str:
    return "\n".join(["# " + line for line in comment.splitlines()] + _yaml(template)) + "\n"


def logical_id(name: str, default: str, taken: Iterable[str] = ()) -> str:
    """A CloudFormation logical ID from a name: ``my_fine-layer`` is ``MyFineLayer``; one
    that a parameter has (they share a namespace) gets ``Resource`` added."""
    found = "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", name) if part) or default
    return found + "Resource" if found in taken else found


def _bucket_parameters(zip_path: Path) -> Template:
    return {"S3Bucket": {"Type": "String", "MinLength": 3, "MaxLength": 63,
                         "Description": "The S3 bucket you uploaded the zip to (the manifest's upload_command)"},
            "S3Key": {"Type": "String", "MinLength": 1, "Default": zip_path.name,
                      "Description": "The zip's key in that bucket"}}


def _layer_templates(name: str, properties: Template, zip_path: Path) -> Dict[str, str]:
    logical = logical_id(name, "RuntimeLayer", _bucket_parameters(zip_path))
    outputs = {"LayerVersionArn": {"Description": "The layer version's ARN, for a function's Layers",
                                   "Value": {"Ref": logical}}}
    cloudformation: Template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "A Lambda layer built by make-runtime-layer, published from a zip in S3",
        "Parameters": _bucket_parameters(zip_path),
        "Resources": {logical: {
            "Type": "AWS::Lambda::LayerVersion", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
            "Properties": dict(properties, Content={"S3Bucket": {"Ref": "S3Bucket"}, "S3Key": {"Ref": "S3Key"}})}},
        "Outputs": outputs}
    sam: Template = {
        "AWSTemplateFormatVersion": "2010-09-09", "Transform": SAM_TRANSFORM,
        "Description": "A Lambda layer built by make-runtime-layer",
        "Resources": {logical: {"Type": "AWS::Serverless::LayerVersion", "Properties": dict(
            properties, ContentUri=str(zip_path.absolute()), RetentionPolicy="Retain")}},
        "Outputs": outputs}
    return {"cloudformation": _render(cloudformation, "Upload the zip to S3 (upload_command), then: aws "
                                      "cloudformation deploy --template-file FILE --stack-name NAME "
                                      "--parameter-overrides S3Bucket=BUCKET"),
            "sam": _render(sam, "sam deploy uploads ContentUri, the zip as it is, to S3")}


def _function_outputs(logical: str) -> Template:
    return {"FunctionName": {"Value": {"Ref": logical}}, "FunctionArn": {"Value": {"Fn::GetAtt": [logical, "Arn"]}}}


def _execution_role() -> Template:
    """A role Lambda may assume, with the basic execution policy (logs)."""
    return {"Type": "AWS::IAM::Role", "Properties": {
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
        "ManagedPolicyArns": [{"Fn::Sub": BASIC_EXECUTION_POLICY}]}}


def _function_templates(zip_path: Path, runtime: str, architecture: str) -> Dict[str, str]:
    parameters: Template = {
        "Handler": {"Type": "String", "MinLength": 1, "MaxLength": 128,
                    "Description": "The handler (_HANDLER): module.function for Python, or the program to run"},
        "Runtime": {"Type": "String", "Default": runtime, "Description": "The runtime the zip was checked for"},
        "Layers": {"Type": "CommaDelimitedList", "Default": "",
                   "Description": "Layer version ARNs, in order (the runtime layer's LayerVersionArn); none if empty"},
        "MemorySize": {"Type": "Number", "Default": 256, "MinValue": 128, "MaxValue": 10240},
        "Timeout": {"Type": "Number", "Default": 30, "MinValue": 1, "MaxValue": 900}}
    logical = logical_id(zip_path.stem, "Function", list(parameters) + list(_bucket_parameters(zip_path)))
    properties: Template = {
        "Handler": {"Ref": "Handler"}, "Runtime": {"Ref": "Runtime"}, "Architectures": [architecture],
        "Layers": {"Fn::If": ["HasLayers", {"Ref": "Layers"}, {"Ref": "AWS::NoValue"}]},
        "MemorySize": {"Ref": "MemorySize"}, "Timeout": {"Ref": "Timeout"}}
    conditions = {"HasLayers": {"Fn::Not": [{"Fn::Equals": [{"Fn::Join": ["", {"Ref": "Layers"}]}, ""]}]}}
    outputs, role = _function_outputs(logical), _execution_role()
    cloudformation: Template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "A Lambda function whose code is a zip built by make-function-zip, in S3",
        "Parameters": dict(_bucket_parameters(zip_path), **parameters), "Conditions": conditions,
        "Resources": {logical + "Role": role, logical: {"Type": "AWS::Lambda::Function", "Properties": dict(
            properties, Code={"S3Bucket": {"Ref": "S3Bucket"}, "S3Key": {"Ref": "S3Key"}},
            Role={"Fn::GetAtt": [logical + "Role", "Arn"]})}},
        "Outputs": outputs}
    sam: Template = {
        "AWSTemplateFormatVersion": "2010-09-09", "Transform": SAM_TRANSFORM,
        "Description": "A Lambda function whose code is a zip built by make-function-zip",
        "Parameters": parameters, "Conditions": conditions,
        "Resources": {logical: {"Type": "AWS::Serverless::Function", "Properties": dict(
            properties, CodeUri=str(zip_path.absolute()))}},
        "Outputs": outputs}
    return {"cloudformation": _render(cloudformation, "Upload the zip to S3 (upload_command), then: aws "
                                      "cloudformation deploy --template-file FILE --stack-name NAME --capabilities "
                                      "CAPABILITY_IAM --parameter-overrides S3Bucket=BUCKET Handler=HANDLER "
                                      "Layers=ARN,..."),
            "sam": _render(sam, "sam deploy uploads CodeUri, the zip as it is, to S3")}


# -- the manifests ----------------------------------------------------------------------

def layer_manifest(*, name: str, description: str, license: str, zip_path: Path, sha256: str, zipped_bytes: int,
                   unzipped_bytes: int, budget_left: int, runtimes: List[str], architectures: List[str], python: str,
                   files: int, bundled_libraries: List[str], warnings: List[str]) -> Dict[str, object]:
    properties: Template = {"LayerName": name, "Description": description, "CompatibleRuntimes": runtimes,
                            "CompatibleArchitectures": architectures}
    if license:
        properties["LicenseInfo"] = license
    manifest: Dict[str, object] = {
        "kind": "layer",
        "name": name,
        "description": description,
        "license": license,
        "zip": str(zip_path),
        "sha256": sha256,
        # What Lambda reports as CodeSha256 for the published version.
        "code_sha256_base64": base64.b64encode(bytes.fromhex(sha256)).decode(),
        "zipped_bytes": zipped_bytes,
        "unzipped_bytes": unzipped_bytes,
        "unzipped_budget_left_bytes": budget_left,
        "compatible_runtimes": runtimes,
        "compatible_architectures": architectures,
        "python": python,
        "files": files,
        "bundled_libraries": bundled_libraries,
        "bootstrap": "/opt/bootstrap",
        "publish_command": _publish_command(name, description, license, zip_path, zipped_bytes, runtimes,
                                            architectures),
        "upload_command": _upload_command(zip_path),
        "permission_command_example": _command(
            "aws", "lambda", "add-layer-version-permission", "--layer-name", name, "--version-number",
            _variable("LAYER_VERSION"), "--statement-id", "share", "--action", "lambda:GetLayerVersion",
            "--principal", _variable("ACCOUNT_ID")),
        "command_variables": {k: VARIABLES[k] for k in ("S3_BUCKET", "LAYER_VERSION", "ACCOUNT_ID")},
    }
    manifest.update(_layer_templates(name, properties, zip_path))
    manifest["warnings"] = warnings
    return manifest


def function_manifest(zip_path: Path, sha256: str, zipped: int, unzipped: int, files: int, warnings: List[str],
                      runtime: str = "provided.al2023", architecture: Optional[str] = None) -> Dict[str, object]:
    if zipped > DIRECT_UPLOAD_LIMIT:
        code = ["--s3-bucket", _variable("S3_BUCKET"), "--s3-key", zip_path.name]
    else:
        code = ["--zip-file", "fileb://%s" % zip_path]
    manifest: Dict[str, object] = {
        "kind": "function",
        "zip": str(zip_path),
        "sha256": sha256,
        "code_sha256_base64": base64.b64encode(bytes.fromhex(sha256)).decode(),
        "zipped_bytes": zipped,
        "unzipped_bytes": unzipped,
        "files": files,
        "update_command": _command("aws", "lambda", "update-function-code", "--function-name",
                                   _variable("FUNCTION_NAME"), *code),
        "upload_command": _upload_command(zip_path),
        "command_variables": {k: VARIABLES[k] for k in ("S3_BUCKET", "FUNCTION_NAME")},
    }
    manifest.update(_function_templates(zip_path, runtime, architecture or host_arch()))
    manifest["warnings"] = warnings
    return manifest


# -- images -----------------------------------------------------------------------------

def _image_templates(name: str, repository_uri: str, command: List[str], entrypoint: str,
                     architecture: str) -> Dict[str, str]:
    """CloudFormation and SAM for a function from this image, pinned to its digest."""
    parameters: Template = {
        "Repository": {"Type": "String", "MinLength": 2, "MaxLength": 256,
                       "Description": "The ECR repository the image was pushed to (the manifest's push_command)"},
        "MemorySize": {"Type": "Number", "Default": 256, "MinValue": 128, "MaxValue": 10240},
        "Timeout": {"Type": "Number", "Default": 30, "MinValue": 1, "MaxValue": 900}}
    logical = logical_id(name, "Function", parameters)
    image_uri = {"Fn::Sub": repository_uri}
    image_config: Template = {"EntryPoint": [entrypoint], "WorkingDirectory": "/var/task"}
    if command:
        image_config["Command"] = command
    properties: Template = {"PackageType": "Image", "Architectures": [architecture], "ImageConfig": image_config,
                            "MemorySize": {"Ref": "MemorySize"}, "Timeout": {"Ref": "Timeout"}}
    outputs, role = _function_outputs(logical), _execution_role()
    cloudformation: Template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "A Lambda function from a container image built by make-runtime-image (image functions "
                       "take no layers)",
        "Parameters": parameters,
        "Resources": {logical + "Role": role, logical: {"Type": "AWS::Lambda::Function", "Properties": dict(
            properties, Code={"ImageUri": image_uri}, Role={"Fn::GetAtt": [logical + "Role", "Arn"]})}},
        "Outputs": outputs}
    sam: Template = {
        "AWSTemplateFormatVersion": "2010-09-09", "Transform": SAM_TRANSFORM,
        "Description": "A Lambda function from a container image built by make-runtime-image",
        "Parameters": parameters,
        "Resources": {logical: {"Type": "AWS::Serverless::Function", "Properties": dict(
            properties, ImageUri=image_uri)}},
        "Outputs": outputs}
    return {"cloudformation": _render(cloudformation, "Push the image first (push_command), then: aws cloudformation "
                                      "deploy --template-file FILE --stack-name NAME --capabilities CAPABILITY_IAM "
                                      "--parameter-overrides Repository=REPOSITORY"),
            "sam": _render(sam, "Push the image first (push_command), then: sam deploy --template-file FILE "
                                "--stack-name NAME --capabilities CAPABILITY_IAM --parameter-overrides "
                                "Repository=REPOSITORY")}


def image_manifest(*, options: ImageOptions, manifest_digest: str, manifest_size: int, config_digest: str,
                   layers: Sequence["Blob"], base: Optional[str], base_layers: int,
                   warnings: List[str]) -> Dict[str, object]:
    """What make-runtime-image built, and how to push and deploy it without a daemon."""
    output = options.output
    source = "oci:%s:%s" % (output, options.tag) if options.layout else "oci-archive:%s:%s" % (output, options.tag)
    registry = _variable("AWS_ACCOUNT_ID", after=".dkr.ecr.") + _variable("AWS_REGION", after=".amazonaws.com")
    repository = _Shell(registry + "/" + _variable("ECR_REPOSITORY"))
    pinned = _Shell(repository + "@" + manifest_digest)
    arch = options.layer.arch
    command = [options.handler] if options.handler else []
    kinds = ["base"] * base_layers + ["runtime"] + (["rie"] if options.rie else []) + (
        ["function"] if options.function else [])
    manifest: Dict[str, object] = {
        "kind": "image",
        "output": str(output),
        "format": "oci" if options.layout else "oci-archive",
        "tag": options.tag,
        "architecture": arch,
        "manifest_media_type": "application/vnd.oci.image.manifest.v1+json",
        "manifest_digest": manifest_digest,
        "manifest_bytes": manifest_size,
        "config_digest": config_digest,
        "layers": [{"kind": kind, "digest": layer.digest, "size": layer.size, "diff_id": layer.diff_id,
                    "unpacked_size": layer.unpacked_size} for kind, layer in zip(kinds, layers)],
        "compressed_bytes": sum(layer.size for layer in layers),
        "uncompressed_bytes": sum(layer.unpacked_size for layer in layers),
        "base": base,
        "entrypoint": [options.entrypoint],
        "cmd": command,
        "working_dir": "/var/task",
        "login_command": "aws ecr get-login-password --region %s | skopeo login --username AWS --password-stdin %s"
                         % (_variable("AWS_REGION"), registry),
        "push_command": _command("skopeo", "copy", "--preserve-digests", source,
                                 _Shell('docker://' + repository + ":" + shlex.quote(options.tag))),
        "create_function_command": _command(
            "aws", "lambda", "create-function", "--function-name", _variable("FUNCTION_NAME"), "--package-type",
            "Image", "--code", _Shell("ImageUri=" + pinned), "--role", _variable("ROLE_ARN"), "--architectures",
            arch, *(["--image-config", json.dumps({"Command": command}, separators=(",", ":"))] if command else [])),
        "update_function_command": _command(
            "aws", "lambda", "update-function-code", "--function-name", _variable("FUNCTION_NAME"), "--image-uri",
            pinned),
        "command_variables": {k: VARIABLES[k] for k in ("AWS_ACCOUNT_ID", "AWS_REGION", "ECR_REPOSITORY",
                                                         "FUNCTION_NAME", "ROLE_ARN")},
    }
    uri = "${AWS::AccountId}.dkr.ecr.${AWS::Region}.${AWS::URLSuffix}/${Repository}@" + manifest_digest
    manifest.update(_image_templates(output.name.split(".")[0] or "Function", uri, command, options.entrypoint,
                                     arch))
    manifest["warnings"] = warnings
    return manifest
