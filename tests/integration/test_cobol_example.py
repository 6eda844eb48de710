"""The COBOL worked example, built and run in the Lambda-shaped sandbox under the RIE.

Expected figures are computed here, independently, with Python's decimal (never floats),
from the rules the programs implement (examples/cobol/copybooks/PAYCALC.cpy).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox needs root (chroot, mount namespaces)")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "cobol"
sys.path.insert(0, str(EXAMPLE))

import build  # noqa: E402
import run  # noqa: E402

from bootstrap_sdk.local.image_root import unpack_image  # noqa: E402
from bootstrap_sdk.local.sandbox import Sandbox, lay_out, make_root  # noqa: E402
from bootstrap_sdk.packaging.options import host_arch  # noqa: E402

CENT = Decimal("0.01")


def expected_pay(employee: Dict[str, Any]) -> Dict[str, Any]:
    """PAYCALC's rules, written again in Python."""
    hours = [Decimal(str(h)) for h in employee["hours"]] + [Decimal(0)] * (7 - len(employee["hours"]))
    rate, tax_rate = Decimal(str(employee["hourly_rate"])), Decimal(str(employee["tax_rate"]))
    out = {"emp_id": employee["emp_id"], "status": "OK", "regular_hours": Decimal("0.0"),
           "overtime_hours": Decimal("0.0"), "gross_pay": Decimal("0.00"), "tax": Decimal("0.00"),
           "net_pay": Decimal("0.00"), "ytd_gross": Decimal("0.00"), "avg_daily_hours": Decimal("0.00"),
           "message": ""}

    def reject(status: str, message: str) -> Dict[str, Any]:
        return dict(out, status=status, message=message)

    if not employee["emp_id"].strip():
        return reject("E1", "EMPLOYEE ID IS MISSING")
    if rate == 0:
        return reject("E2", "HOURLY RATE IS ZERO")
    if employee["days_worked"] > 7:
        return reject("E3", "MORE THAN 7 DAYS WORKED")
    if any(h > 24 for h in hours):
        return reject("E4", "MORE THAN 24 HOURS IN ONE DAY")
    total = sum(hours)
    regular = min(total, Decimal(40))
    overtime = total - regular
    gross = (rate * regular + rate * Decimal("1.5") * overtime + Decimal(str(employee["adjustment"]))).quantize(
        CENT, ROUND_HALF_UP)
    if gross < 0:
        return dict(reject("E5", "GROSS PAY IS NEGATIVE"), regular_hours=regular, overtime_hours=overtime)
    tax = (gross * tax_rate).quantize(CENT, ROUND_HALF_UP)
    average = (total / employee["days_worked"]).quantize(CENT, ROUND_HALF_UP) if total else Decimal("0.00")
    return dict(out, regular_hours=regular, overtime_hours=overtime, gross_pay=gross, tax=tax, net_pay=gross - tax,
                ytd_gross=(Decimal(str(employee["ytd_gross"])) + gross).quantize(CENT), avg_daily_hours=average)


def decimal_json(body: bytes) -> Any:
    return json.loads(body, parse_float=Decimal, parse_int=Decimal)


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cobol")
    out.chmod(0o755)
    built = build.build(out)
    return lay_out(out / "root", [built["layer"]], built["function"])


@pytest.fixture(scope="module")
def payroll(root) -> Iterator[Sandbox]:
    with Sandbox(root, run.function_config("payroll")) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def paybatch(root) -> Iterator[Sandbox]:
    with Sandbox(root, run.function_config("paybatch")) as sandbox:
        yield sandbox


def event(name: str) -> Dict[str, Any]:
    return decimal_json((EXAMPLE / "events" / name).read_bytes())


def test_the_root_holds_only_what_lambda_gives(root):
    names = {p.name for p in root.iterdir()}
    assert names - {"dev", "proc"} == {"opt", "tmp", "var"}  # dev and proc: mount points, once a sandbox ran
    assert not (root / "usr").exists() and not (root / "lib").exists()
    assert (root / "var" / "task" / "PAYROLL.so").exists() and (root / "opt" / "bin" / "cobcrun").exists()


@pytest.mark.parametrize("name", ["good-week.json", "overtime.json"])
def test_sample_weeks_are_paid_right(payroll, name):
    employee = event(name)
    result = payroll.rie.invoke(_dumps(employee))
    assert decimal_json(result.body) == expected_pay(employee)


hours = st.decimals(min_value=0, max_value=24, places=1)
employees = st.fixed_dictionaries({
    "emp_id": st.from_regex(r"E[0-9]{5}", fullmatch=True),
    "emp_name": st.text(st.sampled_from("ABCDEFGHIJ KLMNOP"), max_size=24),
    "hourly_rate": st.decimals(min_value="0.01", max_value="999.99", places=2),
    "tax_rate": st.decimals(min_value=0, max_value="0.999", places=3),
    "adjustment": st.decimals(min_value="-99999.99", max_value="99999.99", places=2),
    "ytd_gross": st.decimals(min_value="-9999999.99", max_value="9999999.99", places=2),
    "days_worked": st.integers(1, 7),
    "hours": st.lists(hours, min_size=0, max_size=7),
}).filter(lambda e: len(e["hours"]) <= e["days_worked"])


def _dumps(value: Any) -> bytes:
    from bootstrap_sdk.payload import encode_result

    return encode_result(value)[0]


@given(employee=employees)
@example(employee={"emp_id": "E00001", "emp_name": "", "hourly_rate": Decimal("0.01"), "tax_rate": Decimal("0.5"),
                   "adjustment": 0, "ytd_gross": 0, "days_worked": 3, "hours": [3, 3, 3]})  # tax 0.045 → 0.05
@settings(max_examples=40)
def test_generated_weeks_match_an_independent_computation(payroll, employee):
    result = payroll.rie.invoke(_dumps(employee))
    body = decimal_json(result.body)
    want = expected_pay(employee)
    if want["status"] == "OK":
        assert body == want
    else:  # PAYROLL rejects the record: RETURN-CODE 8, the reason on stderr
        assert body["errorType"] == "Executable.ExitCode8"
        assert "REJECTED %s %s" % (want["status"], want["message"]) in body["errorMessage"]


@pytest.mark.parametrize("change, status, message", [
    ({"emp_id": ""}, "E1", "EMPLOYEE ID IS MISSING"),
    ({"hourly_rate": 0}, "E2", "HOURLY RATE IS ZERO"),
    ({"days_worked": 8}, "E3", "MORE THAN 7 DAYS WORKED"),
    ({"hours": [8, Decimal("24.1")]}, "E4", "MORE THAN 24 HOURS IN ONE DAY"),
    ({"adjustment": Decimal("-5000.00")}, "E5", "GROSS PAY IS NEGATIVE"),
])
def test_bad_records_are_rejected_with_return_code_8(payroll, change, status, message):
    employee = dict(event("good-week.json"), **change)
    error = decimal_json(payroll.rie.invoke(_dumps(employee)).body)
    assert error["errorType"] == "Executable.ExitCode8"
    assert error["errorMessage"].endswith("PAYROLL: EMPLOYEE %-6s REJECTED %s %s" % (employee["emp_id"], status,
                                                                                  message))


@pytest.mark.parametrize("change, field, message", [
    ({"hourly_rate": "thirty-one"}, "hourly_rate", "'thirty-one' is not a number (PIC 9(3)V99)"),
    ({"emp_name": "X" * 25}, "emp_name", "25 characters, 1 too many for PIC X(24)"),
    ({"hourly_rate": Decimal("31.405")}, "hourly_rate", "more than 2 decimal places"),
    ({"hours": [1] * 8}, "hours", "8 items, but OCCURS 7"),
    ({"tax_rate": -1}, "tax_rate", "is negative, but PIC V999 is unsigned"),
])
def test_invalid_events_name_the_field(payroll, change, field, message):
    employee = dict(event("good-week.json"), **change)
    error = decimal_json(payroll.rie.invoke(_dumps(employee)).body)
    assert error["errorType"] == "Copybook.InvalidEvent"
    assert error["errorMessage"] == "invalid event: %s: %s" % (field, error["errorMessage"].split(": ", 2)[2])
    assert message in error["errorMessage"] and field in error["errorMessage"]


def test_missing_field_is_named(payroll):
    employee = event("good-week.json")
    del employee["tax_rate"]
    error = decimal_json(payroll.rie.invoke(_dumps(employee)).body)
    assert (error["errorType"], error["errorMessage"]) == ("Copybook.InvalidEvent", "invalid event: tax_rate: missing")


def test_abend_is_an_error_and_the_next_invoke_works(payroll):
    error = decimal_json(payroll.rie.invoke((EXAMPLE / "events" / "abend.json").read_bytes()).body)
    assert error["errorType"] == "Executable.ExitCode16"
    assert "PAYCALC ABEND: DIVIDE BY ZERO, DAYS WORKED = 0 FOR EMPLOYEE E00123" in error["errorMessage"]
    employee = event("good-week.json")
    assert decimal_json(payroll.rie.invoke(_dumps(employee)).body) == expected_pay(employee)


def test_batch_through_files(paybatch):
    employees: List[Dict[str, Any]] = event("batch.json")
    results = decimal_json(paybatch.rie.invoke(_dumps(employees)).body)
    assert results == [expected_pay(e) for e in employees]
    assert [r["status"] for r in results] == ["OK", "OK", "OK", "E4"]


def test_empty_batch_is_an_error(paybatch):
    error = decimal_json(paybatch.rie.invoke(b"[]").body)
    assert error["errorType"] == "Executable.ExitCode12"
    assert "PAYBATCH: NO INPUT RECORDS" in error["errorMessage"]


def test_a_list_sent_to_payroll_which_takes_one_record_is_refused_not_cut_short(payroll):
    """PAYROLL ACCEPTs one record: three sent used to answer one and drop two in silence."""
    employees: List[Dict[str, Any]] = event("batch.json")[:3]
    error = decimal_json(payroll.rie.invoke(_dumps(employees)).body)
    assert error["errorType"] == "Copybook.InvalidEvent"
    assert error["errorMessage"].startswith("invalid event: the program takes one record: send a JSON object")
    employee = event("good-week.json")
    assert decimal_json(payroll.rie.invoke(_dumps(employee)).body) == expected_pay(employee)


def test_a_single_object_sent_to_paybatch_is_refused(paybatch):
    error = decimal_json(paybatch.rie.invoke(_dumps(event("good-week.json"))).body)
    assert error["errorType"] == "Copybook.InvalidEvent"
    assert "JSON list" in error["errorMessage"]


# -- PAYCALC, the same rules as a subprogram, in call mode ------------------------------------

@pytest.fixture(scope="module")
def paycalc(root) -> Iterator[Sandbox]:
    with Sandbox(root, run.function_config("paycalc")) as sandbox:
        yield sandbox


def test_the_layer_carries_the_call_host_bound_to_its_own_loader(root):
    """make-runtime-layer built cobol-call-host against the bundled libcob and patched it."""
    from bootstrap_sdk.packaging.elf import read_elf

    host = root / "opt" / "bootstrap-sdk" / "bin" / "cobol-call-host"
    info = read_elf(str(host))
    assert info is not None and info.interpreter.startswith("/opt/bootstrap-sdk/lib/ld-linux")
    assert any(name.startswith("libcob.so") for name in info.needed)
    assert host.stat().st_mode & 0o777 == 0o755


@given(employee=employees)
@settings(max_examples=25)
def test_paycalc_pays_generated_weeks_as_computed_independently(paycalc, employee):
    """The layer's host, the runtime unprivileged over read-only code: every answer is the
    PAY-OUT record, a rejection included (a subprogram returns it; its caller decides)."""
    body = decimal_json(paycalc.rie.invoke(_dumps(employee)).body)
    want = expected_pay(employee)
    if want["status"] == "OK":
        assert body == want
    else:
        assert (body["status"], body["message"]) == (want["status"], want["message"])


def test_paycalc_abend_is_return_code_16_and_the_host_serves_on(paycalc):
    error = decimal_json(paycalc.rie.invoke((EXAMPLE / "events" / "abend.json").read_bytes()).body)
    assert error["errorType"] == "Executable.ReturnCode16"
    assert error["errorMessage"] == ("PAYCALC returned RETURN-CODE 16; stderr ends:\n"
                                     "PAYCALC ABEND: DIVIDE BY ZERO, DAYS WORKED = 0 FOR EMPLOYEE E00123")
    employee = event("overtime.json")
    assert decimal_json(paycalc.rie.invoke(_dumps(employee)).body) == expected_pay(employee)


# -- the same functions from the example's image ------------------------------------------------

def test_the_image_pays_as_the_layer_does_with_each_functions_cmd(root, tmp_path):
    """payroll-image.tar, unpacked as run-lambda-local --image does: PAYROLL (stdio) and
    PAYCALC (call mode) from one image, each with its own Cmd and environment."""
    image_root = make_root(tmp_path / "image-root")
    config = unpack_image(root.parent / "payroll-image.tar", image_root, tmp_path, host_arch())
    assert config.entrypoint == ["/opt/bootstrap"] and config.cmd == ["cobcrun"]
    employee = event("overtime.json")
    for function in ("payroll", "paycalc"):
        env = dict(config.env, **run.function_config(function))
        command = config.entrypoint + [env.pop("_HANDLER")]
        with Sandbox(image_root, env, command=command, workdir=config.working_dir) as sandbox:
            assert decimal_json(sandbox.rie.invoke(_dumps(employee)).body) == expected_pay(employee), function
            error = decimal_json(sandbox.rie.invoke((EXAMPLE / "events" / "abend.json").read_bytes()).body)
            assert error["errorType"] in ("Executable.ExitCode16", "Executable.ReturnCode16"), function


def test_skopeo_and_umoci_read_the_cobol_image_as_the_manifest_describes_it(root, tmp_path):
    """Independent readers of payroll-image.tar: skopeo's view of it and umoci's unpacked bundle."""
    archive = root.parent / "payroll-image.tar"
    manifest = json.loads((root.parent / "payroll-image.manifest.json").read_text())
    seen = json.loads(subprocess.run(["skopeo", "inspect", "oci-archive:%s" % archive], check=True,
                                     capture_output=True, text=True).stdout)
    assert seen["Digest"] == manifest["manifest_digest"]
    assert seen["Layers"] == [layer["digest"] for layer in manifest["layers"]]
    raw = json.loads(subprocess.run(["skopeo", "inspect", "--raw", "oci-archive:%s" % archive], check=True,
                                    capture_output=True, text=True).stdout)
    assert raw["mediaType"] == "application/vnd.oci.image.manifest.v1+json" and "manifests" not in raw
    layout, bundle = tmp_path / "layout", tmp_path / "bundle"
    layout.mkdir()
    subprocess.run(["tar", "-xf", str(archive), "-C", str(layout)], check=True)
    subprocess.run(["umoci", "unpack", "--rootless", "--image", "%s:latest" % layout, str(bundle)], check=True,
                   capture_output=True)
    process = json.loads((bundle / "config.json").read_text())["process"]
    assert process["args"] == ["/opt/bootstrap", "cobcrun"] and process["cwd"] == "/var/task"
    rootfs = bundle / "rootfs"
    for program in ("opt/bin/cobcrun", "opt/bootstrap", "opt/bootstrap-sdk/bin/cobol-call-host"):
        assert os.stat(rootfs / program).st_mode & 0o777 == 0o755, program
    assert (rootfs / "var" / "task" / "PAYROLL.so").is_file()
    assert (rootfs / "var" / "task" / "copybooks" / "PAYREQ.cpy").read_bytes() == \
        (EXAMPLE / "copybooks" / "PAYREQ.cpy").read_bytes()


# -- the mainframe dataset: EBCDIC VB, converted, summed up by ACCTSUM -------------------------

SELECT = json.loads((EXAMPLE / "functions.json").read_text())["accounts"]["environment"]["BOOTSTRAP_SDK_EXEC_SELECT"]


def expected_summaries(segments: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """ACCTSUM's rules, computed here: one summary per customer segment, its accounts'
    balances and movements added up; accounts before any customer make an E1 summary."""
    summaries: List[Dict[str, Any]] = []
    for segment in segments:
        if "customer_seg" in segment:
            customer = segment["customer_seg"]
            summaries.append({"customer_id": customer["customer_id"], "name": customer["name"],
                              "kind": "BUSINESS" if customer["kind"] == "B" else "PERSON", "accounts": 0,
                              "balance": Decimal("0.00"), "moves": 0, "net_moves": Decimal("0.00"), "status": "OK"})
            continue
        account = segment["account_seg"]
        if not summaries:
            summaries.append({"customer_id": account["customer_id"], "name": "", "kind": "", "accounts": 0,
                              "balance": Decimal("0.00"), "moves": 0, "net_moves": Decimal("0.00"), "status": "E1"})
        summary = summaries[-1]
        summary["accounts"] += 1
        summary["balance"] += account["balance"]
        summary["moves"] += len(account["move"])
        summary["net_moves"] += sum((move["move_amount"] for move in account["move"]), Decimal("0.00"))
    return summaries


def dataset_segments() -> List[Dict[str, Any]]:
    return [decimal_json(line.encode()) for line in (EXAMPLE / "data" / "accounts.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def accounts(root) -> Iterator[Sandbox]:
    with Sandbox(root, run.function_config("accounts")) as sandbox:
        yield sandbox


def test_the_dataset_is_what_cobol_data_encode_makes_of_its_json_lines(tmp_path):
    """data/accounts.cp037.vb is reproducible from data/accounts.jsonl; its first record,
    checked by hand: RDW 0x27 (39 bytes), 'A' (C1), customer 10000009 and account 90001 in
    zoned EBCDIC (F0-F9), 'CHK', +12.00 and +0.0000 packed (C), no movements (0000)."""
    made = tmp_path / "accounts.vb"
    result = subprocess.run([sys.executable, "-m", "bootstrap_sdk.copybook.cli", "encode",
                             str(EXAMPLE / "copybooks" / "ACCTSEG.cpy"), str(EXAMPLE / "data" / "accounts.jsonl"),
                             "--encoding", "cp037", "--format", "VB", "--select", SELECT, "-o", str(made)],
                            capture_output=True)
    assert result.returncode == 0, result.stderr.decode()
    committed = (EXAMPLE / "data" / "accounts.cp037.vb").read_bytes()
    assert made.read_bytes() == committed
    assert committed[4:4 + 39] == bytes.fromhex("00270000" "c1" "f1f0f0f0f0f0f0f9" "f0f0f0f0f0f9f0f0f0f1" "c3c8d2"
                                                "0000000001200c" "0000000c" "0000")


def test_accounts_sums_up_the_mainframe_dataset(accounts):
    """What run.py sends: the EBCDIC VB dataset decoded into JSON, then written by the
    adapter as the ASCII fixed records ACCTSUM reads."""
    event = run._event(EXAMPLE / "data" / "accounts.cp037.vb", run.function_config("accounts"))
    segments = decimal_json(event)
    assert segments == dataset_segments()
    assert decimal_json(accounts.rie.invoke(event).body) == expected_summaries(segments)


def test_the_walkthrough_converts_the_dataset_and_runs_acctsum_on_it(tmp_path, root):
    """The walkthrough's steps, outside Lambda: convert to ASCII fixed records, run the
    program on them with cobcrun, decode its summary file."""
    cli = [sys.executable, "-m", "bootstrap_sdk.copybook.cli"]
    converted = subprocess.run(cli + ["convert", str(EXAMPLE / "copybooks" / "ACCTSEG.cpy"),
                                      str(EXAMPLE / "data" / "accounts.cp037.vb"), "--from", "cp037:VB", "--to",
                                      "ascii:F", "--select", SELECT, "-o", str(tmp_path / "accounts.dat")],
                               capture_output=True)
    assert converted.returncode == 0, converted.stderr.decode()
    assert (tmp_path / "accounts.dat").stat().st_size == 9 * 131
    env = dict(os.environ, DD_ACCTIN=str(tmp_path / "accounts.dat"), DD_ACCTOUT=str(tmp_path / "summary.dat"),
               COB_LIBRARY_PATH=str(root / "var" / "task"))
    ran = subprocess.run(["cobcrun", "ACCTSUM"], env=env, capture_output=True)
    assert ran.returncode == 0 and b"ACCTSUM: 000009 SEGMENTS" in ran.stderr
    decoded = subprocess.run(cli + ["decode", str(EXAMPLE / "copybooks" / "ACCTSUM.cpy"), str(tmp_path / "summary.dat")],
                             capture_output=True)
    assert [decimal_json(line) for line in decoded.stdout.splitlines()] == expected_summaries(dataset_segments())


def test_an_account_whose_count_disagrees_is_refused_naming_the_field(accounts):
    error = decimal_json(accounts.rie.invoke((EXAMPLE / "events" / "accounts-bad-count.json").read_bytes()).body)
    assert error["errorType"] == "Copybook.InvalidEvent"
    assert "[1].account_seg.move: 1 items, but its count AS-MOVES (moves) is 2" in error["errorMessage"]
