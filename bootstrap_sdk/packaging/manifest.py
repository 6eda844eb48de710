"""The manifest written next to each zip: what it is, and how to publish it.

It carries the sha256 and sizes, the compatible runtimes and architectures, the ready
``aws lambda publish-layer-version`` command line, and a CloudFormation and a SAM
snippet, so that CI can publish and verify without re-deriving anything.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shlex
from pathlib import Path
from typing import Dict, List

from .checks import DIRECT_UPLOAD_LIMIT


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


def _publish_command(name: str, description: str, license: str, zip_path: Path, zipped: int,
                     runtimes: List[str], architectures: List[str]) -> str:
    words = ["aws", "lambda", "publish-layer-version", "--layer-name", name, "--description", description]
    if license:
        words += ["--license-info", license]
    words += ["--compatible-runtimes"] + runtimes + ["--compatible-architectures"] + architectures
    if zipped > DIRECT_UPLOAD_LIMIT:
        words += ["--content", "S3Bucket=YOUR_BUCKET,S3Key=%s" % zip_path.name]
    else:
        words += ["--zip-file", "fileb://%s" % zip_path]
    return " ".join(shlex.quote(w) for w in words)


def layer_manifest(*, name: str, description: str, license: str, zip_path: Path, sha256: str, zipped_bytes: int,
                   unzipped_bytes: int, budget_left: int, runtimes: List[str], architectures: List[str], python: str,
                   files: int, bundled_libraries: List[str], warnings: List[str]) -> Dict[str, object]:
    logical = "".join(part.capitalize() for part in name.replace("_", "-").split("-") if part) or "RuntimeLayer"

    def snippet(resource_type: str, content: List[str], extra: List[str]) -> str:
        lines = ["%s:" % logical, "  Type: %s" % resource_type, "  Properties:", "    LayerName: %s" % name,
                 "    Description: %s" % json.dumps(description)] + content
        lines += ["    CompatibleRuntimes:"] + ["      - %s" % r for r in runtimes]
        lines += ["    CompatibleArchitectures:"] + ["      - %s" % a for a in architectures]
        if license:
            lines.append("    LicenseInfo: %s" % json.dumps(license))
        return "\n".join(lines + extra) + "\n"

    return {
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
        "permission_command_example": (
            "aws lambda add-layer-version-permission --layer-name %s --version-number VERSION "
            "--statement-id share --action lambda:GetLayerVersion --principal ACCOUNT_ID" % shlex.quote(name)),
        "cloudformation": snippet("AWS::Lambda::LayerVersion",
                                  ["    Content:", "      S3Bucket: YOUR_BUCKET", "      S3Key: %s" % zip_path.name], []),
        "sam": snippet("AWS::Serverless::LayerVersion", ["    ContentUri: %s" % zip_path],
                       ["    RetentionPolicy: Retain"]),
        "warnings": warnings,
    }


def function_manifest(zip_path: Path, sha256: str, zipped: int, unzipped: int, files: int,
                      warnings: List[str]) -> Dict[str, object]:
    return {
        "kind": "function",
        "zip": str(zip_path),
        "sha256": sha256,
        "code_sha256_base64": base64.b64encode(bytes.fromhex(sha256)).decode(),
        "zipped_bytes": zipped,
        "unzipped_bytes": unzipped,
        "files": files,
        "update_command": "aws lambda update-function-code --function-name YOUR_FUNCTION --zip-file fileb://%s"
                          % shlex.quote(str(zip_path)),
        "warnings": warnings,
    }
