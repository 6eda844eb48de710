"""Every template the project emits, checked by the tools teams deploy with.

- cfn-lint (its Python API, the rules its CLI runs): no error and no warning, on
  examples/cobol/template.yaml and on the layer and function manifests' CloudFormation and
  SAM templates from real builds;
- SAM's translator (aws-sam-translator, what CloudFormation's transform runs): each SAM
  template becomes CloudFormation that itself passes cfn-lint. cfn-lint checks SAM
  resources against SAM's own schema, which is looser than the resources they become:
  the Lambda function's Handler pattern, for one, is only checked after the transform;
- the SAM CLI (.tools/sam, scripts/install-sam.sh): ``sam build`` of the COBOL example
  through its Makefile, and what it built, zipped as ``sam deploy`` zips it, run in the
  Lambda-shaped sandbox under the real RIE.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest

from bootstrap_sdk.packaging.checks import DIRECT_UPLOAD_LIMIT
from bootstrap_sdk.packaging.manifest import function_manifest, layer_manifest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "cobol"
VENV_BIN = Path(sys.executable).parent  # make-runtime-layer and make-function-zip live here
SAM = ROOT / ".tools" / "sam" / "bin" / "sam"
SAM_PYTHON = ROOT / ".tools" / "sam" / "bin" / "python"
PROGRAMS = ["PAYROLL", "PAYBATCH"]
FUNCTIONS = {"Payroll": "payroll", "Paybatch": "paybatch", "Paycalc": "paycalc", "Accounts": "accounts"}  # the template's logical IDs: functions.json's names


# -- the tools ---------------------------------------------------------------------------

def lint(text: str) -> List[str]:
    """cfn-lint's findings (errors and warnings; informational ones are off, as in its CLI)."""
    from cfnlint.api import ManualArgs
    from cfnlint.api import lint as cfn_lint

    return ["%s %s (line %d)" % (m.rule.id, m.message, m.linenumber)
            for m in cfn_lint(text, config=ManualArgs(regions=["us-east-1"]))]


def assert_lints_clean(text: str, known: Tuple[str, ...] = ()) -> None:
    findings = [f for f in lint(text) if not f.startswith(known)] if known else lint(text)
    numbered = "\n".join("%4d  %s" % (n, line) for n, line in enumerate(text.splitlines(), 1))
    assert findings == [], "cfn-lint:\n  %s\n\ntemplate:\n%s" % ("\n  ".join(findings), numbered)


def load(text: str) -> Dict[str, Any]:
    """A template as CloudFormation reads it (cfn-lint's loader knows the !Ref tags)."""
    from cfnlint.decode.cfn_yaml import loads

    return json.loads(json.dumps(loads(text)))  # plain dicts and strings, no line-number wrappers


def packaged(template: Dict[str, Any]) -> Dict[str, Any]:
    """What ``sam package`` makes of a SAM template: local CodeUri/ContentUri become S3 URIs."""
    result = copy.deepcopy(template)
    sections = [result.get("Globals", {}).get("Function", {})]
    sections += [resource.get("Properties", {}) for resource in result["Resources"].values()]
    for properties in sections:
        for key in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(key), str) and not properties[key].startswith("s3://"):
                properties[key] = "s3://deploy-bucket/%s.zip" % Path(properties[key]).name.replace(".zip", "")
    return result


class NoNetworkPolicies:
    """The managed-policy loader SAM's translator asks for policies named without an ARN; it
    would ask IAM. These templates name none (SAM's own role uses the ARN): nothing to load."""

    def load(self) -> Dict[str, str]:
        return {}


def transform(template: Dict[str, Any], parameters: Dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> str:
    """The CloudFormation SAM's translator makes of a template, as JSON text."""
    from samtranslator.translator.transform import transform as sam_transform

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # its pseudo-parameters need a region, not a network
    translated = sam_transform(packaged(template), dict(parameters), NoNetworkPolicies())  # type: ignore[arg-type]
    assert "Transform" not in translated and not any(
        str(r["Type"]).startswith("AWS::Serverless::") for r in translated["Resources"].values())
    return json.dumps(translated, indent=2)


# -- the manifests, from real builds -------------------------------------------------------

def run_tool(*argv: str) -> None:
    done = subprocess.run([str(VENV_BIN / argv[0])] + list(argv[1:]), capture_output=True, text=True)
    assert done.returncode == 0, "%s failed:\n%s%s" % (argv[0], done.stdout, done.stderr)


@pytest.fixture(scope="module")
def manifests(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Dict[str, Any]]:
    """A runtime-only layer and the COBOL function zip, built by the commands themselves;
    their manifests, and the same over the 50 MB direct-upload limit."""
    out = tmp_path_factory.mktemp("templates")
    out.chmod(0o755)
    run_tool("make-runtime-layer", "-q", "-o", str(out / "runtime.zip"), "--license", "Apache-2.0")
    function_dir = out / "function"
    function_dir.mkdir()
    for program in PROGRAMS:
        subprocess.run(["cobc", "-m", "-O", "-I", str(EXAMPLE / "copybooks"), "-o",
                        str(function_dir / (program + ".so")), str(EXAMPLE / "src" / (program + ".cob"))], check=True)
    shutil.copytree(EXAMPLE / "copybooks", function_dir / "copybooks")
    run_tool("make-function-zip", "-q", str(function_dir), "-o", str(out / "payroll-function.zip"))
    layer = json.loads((out / "runtime.manifest.json").read_text())
    function = json.loads((out / "payroll-function.manifest.json").read_text())
    over = DIRECT_UPLOAD_LIMIT + 1
    big_layer = layer_manifest(
        name=layer["name"], description=layer["description"], license=layer["license"],
        zip_path=Path(layer["zip"]), sha256=layer["sha256"], zipped_bytes=over,
        unzipped_bytes=layer["unzipped_bytes"], budget_left=layer["unzipped_budget_left_bytes"],
        runtimes=layer["compatible_runtimes"], architectures=layer["compatible_architectures"],
        python=layer["python"], files=layer["files"], bundled_libraries=layer["bundled_libraries"], warnings=[])
    big_function = function_manifest(Path(function["zip"]), function["sha256"], over, function["unzipped_bytes"],
                                     function["files"], [])
    assert "S3Bucket=" in big_layer["publish_command"] and "--s3-bucket" in big_function["update_command"]
    return {"layer": layer, "layer-over-50MB": big_layer, "function": function, "function-over-50MB": big_function}


MANIFESTS = ["layer", "layer-over-50MB", "function", "function-over-50MB"]
# What the function templates need at deploy time, as a user would give it.
PARAMETERS = {"Handler": "app.handler", "Layers": "arn:aws:lambda:us-east-1:123456789012:layer:runtime:1"}


@pytest.mark.parametrize("kind", ["cloudformation", "sam"])
@pytest.mark.parametrize("name", MANIFESTS)
def test_the_manifests_templates_lint_clean(manifests, name, kind):
    text = manifests[name][kind]
    assert_lints_clean(text)
    template = load(text)
    assert {"AWSTemplateFormatVersion", "Resources", "Outputs"} <= set(template)
    if kind == "cloudformation":
        assert {"S3Bucket", "S3Key"} <= set(template["Parameters"])


@pytest.mark.parametrize("name", MANIFESTS)
def test_the_manifests_sam_templates_become_clean_cloudformation(manifests, name, monkeypatch):
    for parameters in (PARAMETERS, {"Handler": "app.handler"}):  # with layers, and without
        assert_lints_clean(transform(load(manifests[name]["sam"]), parameters, monkeypatch))


def test_the_manifests_templates_name_the_zip_they_describe(manifests):
    for name in MANIFESTS:
        manifest = manifests[name]
        zip_path = Path(manifest["zip"])
        sam = load(manifest["sam"])
        (resource,) = sam["Resources"].values()
        uri = resource["Properties"].get("ContentUri") or resource["Properties"]["CodeUri"]
        assert Path(uri) == zip_path.absolute() and Path(uri).is_file()
        assert load(manifest["cloudformation"])["Parameters"]["S3Key"]["Default"] == zip_path.name
    for small, big in (("layer", "layer-over-50MB"), ("function", "function-over-50MB")):
        assert manifests[small]["cloudformation"] == manifests[big]["cloudformation"]
        assert manifests[small]["sam"] == manifests[big]["sam"]


def test_the_lint_fails_on_a_broken_template(manifests, monkeypatch):
    """The checks above cannot pass vacuously: a property CloudFormation does not know, an
    invalid value, or a SAM property SAM does not know, is found."""
    broken = load(manifests["layer"]["cloudformation"])
    (resource,) = broken["Resources"].values()
    resource["Properties"]["Bogus"] = 1
    assert any(f.startswith("E3002 ") and "Bogus" in f for f in lint(json.dumps(broken, indent=2)))
    function = load(manifests["function"]["cloudformation"])
    function["Parameters"]["Runtime"]["Default"] = "cobol85"
    function["Resources"]["PayrollFunction"]["Properties"]["Runtime"] = "cobol85"
    assert any(f.startswith("E3030 ") and "cobol85" in f for f in lint(json.dumps(function, indent=2)))
    from samtranslator.model.exceptions import InvalidDocumentException

    sam = load(manifests["function"]["sam"])
    sam["Resources"]["PayrollFunction"]["Properties"]["Bogus"] = 1
    with pytest.raises(InvalidDocumentException):
        transform(sam, PARAMETERS, monkeypatch)
    assert any("Bogus" in f for f in lint(json.dumps(sam, indent=2)))


# -- the COBOL example's SAM template ---------------------------------------------------

def cobol_template() -> Dict[str, Any]:
    return load((EXAMPLE / "template.yaml").read_text())


def handlers() -> Dict[str, str]:
    return {name: cobol_template()["Resources"][name]["Properties"]["Handler"] for name in FUNCTIONS}


def test_the_cobol_template_lints_clean():
    assert_lints_clean((EXAMPLE / "template.yaml").read_text())


def test_the_cobol_template_becomes_clean_cloudformation(monkeypatch):
    text = transform(cobol_template(), {}, monkeypatch)
    assert_lints_clean(text)
    resources = json.loads(text)["Resources"]
    (layer,) = [k for k, r in resources.items() if r["Type"] == "AWS::Lambda::LayerVersion"]  # CobolRuntime<hash>
    for name in FUNCTIONS:
        properties = resources[name]["Properties"]
        assert properties["Runtime"] == "provided.al2023" and properties["Architectures"] == ["x86_64"]
        assert properties["Layers"] == [{"Ref": layer}]


def test_the_cobol_handlers_are_ones_lambda_accepts(monkeypatch):
    """Lambda's API refuses a Handler with white space (pattern [^\\s]+, at most 128
    characters); cfn-lint says so (E3031) only once SAM has transformed the template."""
    import botocore.loaders

    pattern = botocore.loaders.create_loader().load_service_model("lambda", "service-2")["shapes"]["Handler"]
    refused = {name: handler for name, handler in handlers().items()
               if not re.fullmatch(pattern["pattern"], handler) or len(handler) > pattern["max"]}
    findings = [f for f in lint(transform(cobol_template(), {}, monkeypatch)) if f.startswith("E3031")]
    assert (refused, findings) == ({}, [])
    assert set(handlers().values()) == {"cobcrun", "PAYCALC"}
    spaced = cobol_template()  # the check itself: a command line as Handler is caught
    spaced["Resources"]["Payroll"]["Properties"]["Handler"] = "cobcrun -M /var/task/ PAYROLL"
    assert any(f.startswith("E3031") for f in lint(transform(spaced, {}, monkeypatch)))


def test_the_cobol_template_says_what_functions_json_says():
    """Handler, environment, and the layer and build method for both functions."""
    config = json.loads((EXAMPLE / "functions.json").read_text())
    template = cobol_template()
    for logical, name in FUNCTIONS.items():
        function = template["Resources"][logical]
        assert function["Type"] == "AWS::Serverless::Function"
        assert function["Properties"]["Handler"] == config[name]["handler"]
        assert function["Properties"]["Environment"]["Variables"] == config[name]["environment"]
        assert function["Metadata"] == {"BuildMethod": "makefile"}
    assert set(config) == set(FUNCTIONS.values())
    globals_ = template["Globals"]["Function"]
    assert (globals_["Runtime"], globals_["Architectures"], globals_["Layers"]) == (
        "provided.al2023", ["x86_64"], [{"Ref": "CobolRuntime"}])
    layer = template["Resources"]["CobolRuntime"]
    assert layer["Metadata"] == {"BuildMethod": "makefile", "BuildArchitecture": "x86_64"}
    assert set(template["Outputs"]) == {"CobolRuntimeLayerArn"} | {"%sFunctionArn" % name for name in FUNCTIONS}
    makefile = (EXAMPLE / "Makefile").read_text()
    for logical in ["CobolRuntime"] + list(FUNCTIONS):
        assert re.search(r"^(build-\w+ )*build-%s\b.*:" % logical, makefile, re.M), logical


# -- sam build, and what it built run as Lambda runs it ---------------------------------

def names_under(top: Path) -> List[str]:
    return sorted(str(p.relative_to(top)) for p in top.rglob("*"))


@pytest.fixture(scope="module")
def sam_built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """``sam build`` of examples/cobol/template.yaml, into a temporary directory."""
    if not os.access(SAM, os.X_OK):
        pytest.fail("the SAM CLI is not installed at %s: run bash scripts/install-sam.sh" % SAM, pytrace=False)
    assert (VENV_BIN / "make-runtime-layer").exists(), "the project's .venv/bin has no make-runtime-layer"
    work = tmp_path_factory.mktemp("sam")
    home = work / "home"
    home.mkdir()
    env = dict(os.environ, SAM_CLI_TELEMETRY="0", HOME=str(home), PATH="%s:%s" % (VENV_BIN, os.environ["PATH"]))
    before = names_under(EXAMPLE)
    started = time.monotonic()
    done = subprocess.run([str(SAM), "build", "--template-file", str(EXAMPLE / "template.yaml"),
                           "--build-dir", str(work / "build"), "--cache-dir", str(work / "cache")],
                          cwd=str(work), env=env, capture_output=True, text=True, timeout=900)
    seconds = time.monotonic() - started
    print("\nsam build: %.1f s" % seconds)
    assert done.returncode == 0, "sam build failed:\n%s\n%s" % (done.stdout, done.stderr)
    assert names_under(EXAMPLE) == before, "sam build wrote into examples/cobol (.aws-sam?)"
    yield work / "build"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_sam_build_lays_out_the_layer_and_the_functions(sam_built):
    layer = sam_built / "CobolRuntime"
    assert mode(layer / "bootstrap") == 0o755 and (layer / "bootstrap").read_bytes().startswith(b"#!/opt/")
    assert mode(layer / "bin" / "cobcrun") == 0o755
    assert (layer / "bootstrap-sdk" / "lib" / "libcob.so.4").is_file()
    assert (layer / "bootstrap-sdk" / "lib" / "libicudata.so.72").stat().st_size < 1 << 20, "ICU's 30 MB data is a stub"
    for name in FUNCTIONS:
        function = sam_built / name
        for program in PROGRAMS:
            assert mode(function / (program + ".so")) == 0o755
            assert mode(function / "src" / (program + ".cob")) == 0o644
        copybooks = sorted(p.name for p in (function / "copybooks").iterdir())
        assert copybooks == sorted(p.name for p in (EXAMPLE / "copybooks").iterdir())
        assert {mode(p) for p in (function / "copybooks").iterdir()} == {0o644}
        assert mode(function / "copybooks") == 0o755
    built = load((sam_built / "template.yaml").read_text())
    assert built["Resources"]["CobolRuntime"]["Properties"]["ContentUri"] == "CobolRuntime"
    assert {built["Resources"][name]["Properties"]["CodeUri"] for name in FUNCTIONS} == set(FUNCTIONS)


def sam_zip(directory: Path, out: Path) -> Path:
    """The zip ``sam deploy`` uploads for a built directory (its own zip method: links
    followed, its entry order, modes kept and made readable)."""
    code = ("import sys\nfrom samcli.lib.package.utils import make_zip_with_lambda_permissions as z\n"
            "print(z(sys.argv[1], sys.argv[2]))")
    done = subprocess.run([str(SAM_PYTHON), "-c", code, str(out), str(directory)], capture_output=True, text=True,
                          check=True)
    return Path(done.stdout.strip())


def function_environment(built: Dict[str, Any], name: str) -> Tuple[Dict[str, str], int, int]:
    """What Lambda would give the function: the built template's settings, Globals first."""
    properties = dict(built["Globals"]["Function"], **built["Resources"][name]["Properties"])
    env = dict(properties["Environment"]["Variables"], _HANDLER=properties["Handler"],
               AWS_LAMBDA_FUNCTION_NAME=FUNCTIONS[name])
    return env, int(properties["MemorySize"]), int(properties["Timeout"])


@pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox needs root (chroot, mount namespaces)")
def test_what_sam_built_runs_as_lambda_runs_it(sam_built, tmp_path):
    from bootstrap_sdk.local.sandbox import Sandbox, lay_out

    zips = tmp_path / "zips"
    zips.mkdir()
    layer = sam_zip(sam_built / "CobolRuntime", zips / "layer")
    built = load((sam_built / "template.yaml").read_text())
    good_week = (EXAMPLE / "events" / "good-week.json").read_bytes()
    batch = (EXAMPLE / "events" / "batch.json").read_bytes()
    for name, event in (("Payroll", good_week), ("Paybatch", batch)):
        root = lay_out(tmp_path / ("root-" + name), [layer], sam_zip(sam_built / name, zips / name))
        env, memory, timeout = function_environment(built, name)
        with Sandbox(root, env, memory_mb=memory, timeout_s=timeout) as sandbox:
            result = sandbox.invoke(event)
        assert result.status == 200, result.body
        answer = json.loads(result.body)
        if name == "Payroll":
            assert answer["status"] == "OK" and answer["emp_id"] == "E00017", answer
            assert answer["gross_pay"] == 1193.2 and answer["tax"] == 220.74
        else:
            assert [r["status"] for r in answer] == ["OK", "OK", "OK", "E4"], answer
