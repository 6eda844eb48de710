#!/usr/bin/env python3
"""The runtime benchmark: this runtime and its peers under the same pinned RIE.

    bash benchmarks/run.sh [options]         (sets up, builds the peers, then runs this)

Contenders (benchmarks/contenders.py): bootstrap-sdk on the host's Python and as its
runtime-only layer in the Lambda-shaped sandbox, awslambdaric, aws-lambda-go (event
decoded, and as json.RawMessage), a Go standard-library floor loop, and AWS's shell + curl
tutorial bootstrap; each echoes the event. Measured, interleaved (round r visits the
contenders in an order rotated by r, so the machine's drift hits all alike):

- cold start: a fresh RIE each time; the first invoke's round trip, from sending it (the
  RIE starts the runtime lazily on it) to its response; one warm-up start discarded;
- warm round trip at 100 B (after 50 warm-up invokes), 256 KB and 1 MB; throughput of one
  sequential client at 100 B;
- peak RSS (VmHWM) of the runtime process after the 100 B invokes and after the 1 MB ones;
- the zipped size of what would be deployed;
- the executable adapter: a C program (stdio, persistent) and the COBOL example (PAYROLL
  in stdio mode, PAYCALC in call mode) under this runtime, against the same program run
  directly by this process.

Every answer is checked (HTTP 200, the event's bytes, or its JSON for contenders that
re-encode it); a wrong one aborts the run. Writes benchmarks/RESULTS.md and prints it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent))

import contenders as c  # noqa: E402
import interpreter_start  # noqa: E402
from bootstrap_sdk.local.rie import RieNotFound, find_rie  # noqa: E402

ROOT = c.ROOT
OURS = ("bootstrap-sdk", "bootstrap-sdk (layer)")
RIC, GO, GO_RAW, FLOOR = "awslambdaric", "aws-lambda-go", "aws-lambda-go (RawMessage)", "go floor"
SIZES = {"100 B": 100, "256 KB": 262_144, "1 MB": 1_048_576, "1 MB, strings": 1_048_576}
WARMUP = {"100 B": 50, "256 KB": 5, "1 MB": 3, "1 MB, strings": 3}
ADAPTER_WARMUP = 20
T = TypeVar("T")


def log(message: str) -> None:
    print("harness: " + message, file=sys.stderr, flush=True)


# -- events --------------------------------------------------------------------------------

NAMES = ["Zoë Dupré", "Jürgen Müller", "Ana Muñoz", "Søren Kierkegård", "李小龙", "Chloé Brontë",
         "Ðorđe Novák"]
TAGS = ["alpha", "beta", "gamma", "delta", "priority", "retry", "eu-west-1", "batch", "€-billing", "ünïcode"]


def record(rng: random.Random, index: int) -> Dict[str, Any]:
    name = rng.choice(NAMES)
    return {
        "id": "rec-%08d" % index,
        "name": "%s %s" % (name, rng.choice(["€", "东京", "ü", "é"])),
        "email": "user%d@example.com" % rng.randrange(1_000_000),
        "tags": rng.sample(TAGS, rng.randint(1, 4)),
        "count": rng.randrange(-1000, 1_000_000),
        "amount": rng.randrange(0, 10_000_000) / 100 + 0.25,  # always a fractional part
        "active": rng.random() < 0.5,
        "parent": None,
        "address": {"city": rng.choice(["München", "Zürich", "Málaga", "京都"]),
                    "zip": "%05d" % rng.randrange(100000),
                    "geo": {"lat": round(rng.uniform(-90, 90), 4), "lon": round(rng.uniform(-180, 180), 4)}},
    }


def compact(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def batch_event(size: int, seed: int) -> bytes:
    """{"records":[...]} of small records, deterministic, within 1% of ``size`` bytes."""
    rng = random.Random(seed)
    records: List[bytes] = []
    total = len(b'{"records":[]}')
    while True:
        one = compact(record(rng, len(records)))
        if total + len(one) + 1 > size:
            break
        records.append(one)
        total += len(one) + (1 if len(records) > 1 else 0)
    event = b'{"records":[' + b",".join(records) + b"]}"
    assert abs(len(event) - size) <= size / 100, (len(event), size)
    return event


def queue_event(size: int, seed: int) -> bytes:
    """A queue's batch, within 1% of ``size`` bytes: ten messages whose bodies are JSON text
    (strings, escaped inside the event), as a queue or a stream hands a function its records."""
    rng = random.Random(seed)

    def message(index: int, lines: int) -> Dict[str, Any]:
        body = [{"sku": "SKU-%06d" % rng.randrange(10**6), "qty": rng.randint(1, 9), "note": rng.choice(NAMES)}
                for _ in range(lines)]
        return {"messageId": "msg-%04d" % index, "receiptHandle": "%040x" % rng.getrandbits(160),
                "body": json.dumps(body, ensure_ascii=False), "attributes": {"ApproximateReceiveCount": "1"},
                "eventSource": "aws:sqs", "awsRegion": "eu-west-1"}

    lines = 1
    while len(compact({"Records": [message(0, lines)]})) * 10 < size:
        lines *= 2
    low, high = lines // 2, lines  # the largest line count that fits
    while low < high:
        middle = (low + high + 1) // 2
        rng.seed(seed)
        if len(compact({"Records": [message(i, middle) for i in range(10)]})) <= size:
            low = middle
        else:
            high = middle - 1
    rng.seed(seed)
    event = compact({"Records": [message(i, low) for i in range(10)]})
    assert abs(len(event) - size) <= size / 100, (len(event), size)
    return event


def events() -> Dict[str, bytes]:
    small = compact({"id": "evt-0001", "source": "bench", "n": 1, "ok": True, "msg": ""})
    small = compact({"id": "evt-0001", "source": "bench", "n": 1, "ok": True, "msg": "x" * (100 - len(small))})
    assert len(small) == 100
    return {"100 B": small, "256 KB": batch_event(SIZES["256 KB"], 256), "1 MB": batch_event(SIZES["1 MB"], 1024),
            "1 MB, strings": queue_event(SIZES["1 MB, strings"], 4096)}


# -- statistics ----------------------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest rank."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def rotated(items: Sequence[T], turn: int) -> List[T]:
    if not items:
        return []
    k = turn % len(items)
    return list(items[k:]) + list(items[:k])


def interleave(probes: Sequence[c.Probe], rounds: int) -> Dict[str, List[float]]:
    """Seconds per probe: ``rounds`` rounds, each visiting every probe once in rotated order."""
    times: Dict[str, List[float]] = {probe.name: [] for probe in probes}
    for turn in range(rounds):
        for probe in rotated(probes, turn):
            times[probe.name].append(probe.once())
    return times


# -- measuring -----------------------------------------------------------------------------


def check_for(ready: c.Ready, event: bytes) -> c.Check:
    if ready.name in OURS:  # the managed runtime's encoding, byte for byte: json.dumps of the event
        return c.same_bytes(json.dumps(json.loads(event)).encode("utf-8"))
    return c.same_json(json.loads(event)) if ready.reencodes else c.same_bytes(event)


def cold_starts(ready: Sequence[c.Ready], event: bytes, starts: int) -> Dict[str, List[float]]:
    times: Dict[str, List[float]] = {one.name: [] for one in ready}
    checks = {one.name: check_for(one, event) for one in ready}
    for turn in range(-1, starts):  # turn -1: the warm-up start, discarded
        for one in rotated(ready, turn):
            instance = one.launch()
            try:
                result = c.checked(one.name, instance.invoke(event), checks[one.name])
            finally:
                instance.stop()
            if turn >= 0:
                times[one.name].append(result.seconds)
    return times


class Warm:
    """What the warm phase measured."""

    def __init__(self) -> None:
        self.times: Dict[str, Dict[str, List[float]]] = {}  # size -> contender -> seconds
        self.rss: Dict[str, Dict[str, float]] = {}  # "after 100 B" / "after 1 MB" -> contender -> MB


def warm(ready: Sequence[c.Ready], sent: Dict[str, bytes], counts: Dict[str, int]) -> Warm:
    found = Warm()
    instances: Dict[str, c.Instance] = {}
    try:
        for one in ready:
            instances[one.name] = one.launch()
        for size, event in sent.items():
            probes = [c.InvokeProbe(one.name, instances[one.name], event, check_for(one, event)) for one in ready]
            log("warm, %s: %d warm-up + %d invokes each" % (size, WARMUP[size], counts[size]))
            for probe in probes:
                for _ in range(WARMUP[size]):
                    probe.once()
            found.times[size] = interleave(probes, counts[size])
            if size in ("100 B", "1 MB"):
                found.rss["after " + size] = {name: one.peak_rss_mb() for name, one in instances.items()}
    finally:
        for instance in instances.values():
            instance.stop()
    return found


class AdapterResult:
    def __init__(self, rows: List[c.AdapterRow], times: Dict[str, List[float]], floor: Dict[str, str],
                 not_run: List[Tuple[str, str]]) -> None:
        self.rows, self.times, self.floor, self.not_run = rows, times, floor, not_run


def adapter(work: c.Workspace, small: bytes, invokes: int, floor: Optional[c.Ready],
            floor_missing: str) -> AdapterResult:
    rows: List[c.AdapterRow] = []
    not_run: List[Tuple[str, str]] = []
    makers: List[Tuple[str, Callable[[], List[c.AdapterRow]]]] = [
        ("C programs", lambda: c.c_rows(work, small)), ("COBOL example", lambda: c.cobol_rows(work))]
    probes: List[c.Probe] = []
    floor_names: Dict[str, str] = {}  # event label -> the floor probe's name
    floor_instance: Optional[c.Instance] = None
    times: Dict[str, List[float]] = {}
    try:
        for what, make in makers:
            log("adapter: preparing the %s" % what)
            try:
                made = make()
            except c.NotRunnable as exc:
                log("adapter: %s not run: %s" % (what, exc))
                not_run.append((what, str(exc)))
                continue
            rows += made
            probes += [probe for row in made for probe in (row.through, row.direct)]
        if rows and floor is not None:
            floor_instance = floor.launch()
            for row in rows:
                if row.event not in floor_names:
                    floor_names[row.event] = "go floor (%s)" % row.event
                    probes.append(c.InvokeProbe(floor_names[row.event], floor_instance, row.event_bytes,
                                                c.same_bytes(row.event_bytes)))
        elif rows:
            not_run.append(("adapter cost", "go floor: %s" % floor_missing))
        log("adapter: %d warm-up + %d invokes of %d probes, interleaved" % (ADAPTER_WARMUP, invokes, len(probes)))
        for probe in probes:
            for _ in range(ADAPTER_WARMUP):
                probe.once()
        times = interleave(probes, invokes)
    finally:
        for probe in probes:
            probe.close()
        if floor_instance is not None:
            floor_instance.stop()
    return AdapterResult(rows, times, floor_names, not_run)


# -- the machine and the versions ----------------------------------------------------------


def first_line(argv: List[str]) -> str:
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return "? (%s)" % exc
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0].strip() if lines else "?"


def machine() -> List[str]:
    cpu = "?"
    with open("/proc/cpuinfo") as handle:
        for line in handle:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as handle:
        memory = int(handle.readline().split()[1]) / 1024 / 1024
    return ["CPU: %s, %d cores; RAM %.1f GiB; kernel %s %s" % (cpu, os.cpu_count() or 0, memory, os.uname().sysname,
                                                               os.uname().release)]


def versions() -> List[str]:
    go = shutil.which("go", path=os.environ.get("PATH", "") + ":/usr/local/go/bin:/usr/lib/go/bin")
    go_line = "?"
    if go and (c.BENCH / "go" / "lambda-decoded").exists():
        go_line = first_line([go, "version", str(c.BENCH / "go" / "lambda-decoded")]).split(": ", 1)[-1]
    pin = re.search(r'^version="([^"]+)"', (ROOT / "scripts" / "install-rie.sh").read_text(), re.M)
    ric = sorted(p.name[:-len(".dist-info")] for p in (c.BENCH / "awslambdaric").glob("awslambdaric-*.dist-info"))
    lambda_go = re.search(r"github.com/aws/aws-lambda-go (v\S+)",
                          (ROOT / "benchmarks" / "peers" / "go" / "go.mod").read_text())
    return [
        "Python: %s (%s)" % (first_line([c.PYTHON, "--version"]), c.PYTHON),
        "Go: %s (the toolchain that built the Go peers)" % go_line,
        "RIE: aws-lambda-rie %s (scripts/install-rie.sh)" % (pin.group(1) if pin else "?"),
        "awslambdaric: %s" % (ric[0] if ric else "not built"),
        "aws-lambda-go: %s (benchmarks/peers/go/go.mod)" % (lambda_go.group(1) if lambda_go else "?"),
        "GnuCOBOL: %s" % (first_line(["cobc", "--version"]) if shutil.which("cobc") else "not installed"),
        "curl: %s" % (first_line(["curl", "--version"]) if shutil.which("curl") else "not installed"),
    ]


# -- the report ----------------------------------------------------------------------------

REF_SHORT = {RIC: "ric", GO: "go", GO_RAW: "go raw"}


def number(value: float) -> str:
    if value >= 100:
        return "%.1f" % value
    if value >= 10:
        return "%.2f" % value
    return "%.3f" % value


def ratio(value: Optional[float], reference: Optional[float]) -> str:
    if value is None or not reference:
        return "n/a"
    r = value / reference
    return "%.1f" % r if r >= 10 else "%.2f" % r if r >= 0.1 else "%.2g" % r


def table(header: List[str], rows: List[List[str]]) -> List[str]:
    def line(cells: List[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"
    return [line(header), "|" + "|".join("---" for _ in header) + "|"] + [line(row) for row in rows]


Figure = Tuple[str, Dict[str, float], str]  # column title, contender -> value, how to format ("n" or "int")


def figure_table(names: List[str], not_run: Dict[str, str], figures: List[Figure], refs: List[str],
                 extra: Optional[Tuple[str, Dict[str, str]]] = None) -> List[str]:
    """Rows = contenders: the figures, then each figure divided by each reference's."""
    header = ["contender"] + [title for title, _, _ in figures]
    header += ["%s ÷ %s" % (title.split(" (")[0], REF_SHORT[ref]) for ref in refs for title, _, _ in figures]
    if extra:
        header.append(extra[0])
    rows = []
    for name in names:
        if name in not_run:
            row = [name, "not run: " + not_run[name]] + [""] * (len(header) - 2)
        else:
            row = [name] + [("%d" % values[name] if kind == "int" else number(values[name])) if name in values
                            else "n/a" for _, values, kind in figures]
            row += [ratio(values.get(name), values.get(ref)) for ref in refs for _, values, _ in figures]
            if extra:
                row.append(extra[1].get(name, ""))
        rows.append(row)
    return table(header, rows)


def targets(names: List[str], cold: Dict[str, float], big: Dict[str, float],
            big_strings: Dict[str, float]) -> List[str]:
    lines = []

    def verdict(who: str, what: str, value: Optional[float], reference: Optional[float], ref_name: str,
                limit: float, note: str = "") -> None:
        if value is None:
            return
        if reference is None:
            lines.append("- n/a  %s: %s (%s not measured)" % (who, what, ref_name))
            return
        r = value / reference
        lines.append("- %s %s: %s %s ms = %.3f × %s's %s ms%s (target ≤ %s×)" % (
            "PASS" if r <= limit else "MISS", who, what, number(value), r, ref_name, number(reference), note, limit))

    go_cold = [cold[name] for name in (GO, GO_RAW) if name in cold]
    faster = min((GO, GO_RAW), key=lambda name: cold.get(name, math.inf))
    for who in OURS:
        if who not in names:
            continue
        verdict(who, "cold start median", cold.get(who), cold.get(RIC), RIC, 0.4)
        verdict(who, "cold start median", cold.get(who), min(go_cold) if go_cold else None,
                faster if go_cold else GO, 3, ", the faster of aws-lambda-go's two variants")
        verdict(who, "1 MB round-trip median", big.get(who), big.get(GO_RAW), GO_RAW, 1.0)
        verdict(who, "1 MB (strings) round-trip median", big_strings.get(who), big_strings.get(GO_RAW), GO_RAW, 1.0)
    return lines


def medians(times: Dict[str, List[float]], scale: float = 1000) -> Dict[str, float]:
    return {name: statistics.median(values) * scale for name, values in times.items() if values}


def pcts(times: Dict[str, List[float]], fraction: float) -> Dict[str, float]:
    return {name: percentile(values, fraction) * 1000 for name, values in times.items() if values}


def report(args: argparse.Namespace, header: List[str], names: List[str], ready: Dict[str, c.Ready],
           not_run: Dict[str, str], cold: Dict[str, List[float]], found: Optional[Warm],
           adapted: Optional[AdapterResult], sent: Dict[str, bytes], counts: Dict[str, int]) -> str:
    out = header[:]
    out += ["", "## How each contender was started", "",
            "Each under its own `aws-lambda-rie` started by `bootstrap_sdk.local.rie.Rie` (no shell): "
            "`aws-lambda-rie --runtime-api-address 127.0.0.1:P --runtime-interface-emulator-address 127.0.0.1:Q "
            "--log-level info BOOTSTRAP` (the layer's in `Sandbox`), env `_HANDLER`, `LAMBDA_TASK_ROOT`, "
            "`AWS_LAMBDA_FUNCTION_TIMEOUT=%s`, the RIE's output discarded; invoked by one client over one keep-alive "
            "HTTP connection (`Invoker`), which times each invoke. Every contender echoes the event." % c.TIMEOUT_S, ""]
    out += ["- `%s`: %s" % (name, ready[name].started_as) if name in ready else "- `%s`: not run: %s"
            % (name, not_run.get(name, "?")) for name in names]
    out += ["", "## Method", "",
            "- Events: 100 B, a compact JSON object; 256 KB (%d bytes) and 1 MB (%d bytes): compact "
            "`{\"records\":[...]}` of small records (string id, a name with é ü € and CJK characters as UTF-8, "
            "an email, a list of tags, an int, a float with a fraction, a bool, a null, a nested object), "
            "built from a fixed seed. 1 MB = 2^20 bytes here, also for memory. 1 MB, strings (%d bytes): a queue's "
            "batch of ten messages whose bodies are JSON text, so mostly long strings, as queues and streams "
            "deliver: decoding it builds a few hundred objects where the records event builds ~100,000."
            % (len(sent["256 KB"]), len(sent["1 MB"]), len(sent["1 MB, strings"])),
            "- Interleaved: round r visits the contenders in an order rotated by r. All warm contenders run at once, "
            "each idle in its `/next` while another is invoked.",
            "- Every answer checked: HTTP 200 and the event's bytes; for bootstrap-sdk, exactly `json.dumps` of the "
            "event (what the managed Python runtime answers); for awslambdaric and aws-lambda-go decoded, which "
            "re-encode the event their own way, JSON equal to it. A wrong answer aborts the run.",
            "- Cold start: a fresh RIE for each start (set-up not timed); the first invoke's round trip, from sending "
            "it (the RIE starts the runtime on it) to its response, 100 B event; %d starts each after one discarded."
            % args.starts,
            "- Warm: %d invokes at 100 B after %d warm-up; %d at 256 KB and %d at each 1 MB event after %d and %d "
            "warm-up. "
            "p99/p90: nearest rank. Throughput: invokes / the time the one sequential client spent on them."
            % (counts["100 B"], WARMUP["100 B"], counts["256 KB"], counts["1 MB"], WARMUP["256 KB"], WARMUP["1 MB"]),
            "- Peak RSS: VmHWM in /proc/PID/status of the runtime process (the RIE's child: for shell + curl the "
            "shell alone, not its short-lived curls), read after the 100 B invokes and after the 1 MB ones.",
            "- Package: the zipped bytes of what would be deployed, zipped with the packager's deterministic writer "
            "(deflate level 9) where this harness zips.",
            "- Ratios: this contender's figure ÷ the reference's (ric = awslambdaric, go = aws-lambda-go decoding the "
            "event, go raw = aws-lambda-go with json.RawMessage); for throughput, higher is better.",
            "- Load on the machine: see the load averages above; two cores are shared by the client, the RIEs and "
            "the runtimes."]
    refs = [RIC, GO]
    out += ["", "## Results", "", "### Cold start: first invoke's round trip, ms (%d starts)" % args.starts, ""]
    cold_ms = medians(cold)
    out += figure_table(names, not_run, [("median", cold_ms, "n"), ("p90", pcts(cold, 0.9), "n"),
                                         ("min", {k: min(v) * 1000 for k, v in cold.items() if v}, "n")], refs)
    big: Dict[str, float] = {}
    big_strings: Dict[str, float] = {}
    if found is not None:
        small = found.times["100 B"]
        out += ["", "### Warm round trip, 100 B: ms over %d invokes; throughput of one sequential client"
                % counts["100 B"], ""]
        out += figure_table(names, not_run, [
            ("median", medians(small), "n"), ("p99", pcts(small, 0.99), "n"),
            ("invokes/s", {k: len(v) / sum(v) for k, v in small.items() if v}, "n")], refs)
        for size in ("256 KB", "1 MB", "1 MB, strings"):
            times = found.times[size]
            out += ["", "### Warm round trip, %s (%d bytes): ms over %d invokes"
                    % (size, len(sent[size]), counts[size]), ""]
            out += figure_table(names, not_run, [("median", medians(times), "n"), ("p99", pcts(times, 0.99), "n")],
                                refs + [GO_RAW])
        big = medians(found.times["1 MB"])
        big_strings = medians(found.times["1 MB, strings"])
        out += ["", "### Peak RSS of the runtime process (VmHWM), MB", ""]
        out += figure_table(names, not_run, [("after 100 B", found.rss["after 100 B"], "n"),
                                             ("after 1 MB", found.rss["after 1 MB"], "n")], refs)
    out += ["", "### Package: zipped bytes of what would be deployed", ""]
    sizes = {name: float(one.package_bytes) for name, one in ready.items()}
    out += figure_table(names, not_run, [("zipped bytes", sizes, "int")], refs,
                        ("package", {name: one.package_note for name, one in ready.items()}))
    if adapted is not None:
        out += adapter_section(adapted, args.invokes)
    out += ["", "## Targets", ""]
    out += targets([n for n in names if n in ready], cold_ms, big, big_strings) or ["- none measured"]
    return "\n".join(out) + "\n"


def adapter_section(adapted: AdapterResult, invokes: int) -> List[str]:
    out = ["", "### Executable adapter: a program under bootstrap-sdk vs the same program run directly (%d invokes)"
           % invokes, "",
           "Warm, interleaved. *Direct*: this harness itself posix_spawns the program with the input on stdin and "
           "reads stdout to its end (stdio), writes one line to a running program and reads its reply (persistent), "
           "or sends one request frame to a running cobol-call-host (call); no RIE, no runtime. *Adapter cost* = "
           "adapter median − (direct median + go floor's median round trip with the same event): what the runtime "
           "and the adapter add per invoke (event and response JSON, the copybook codec for COBOL, process "
           "management, the per-invoke directory) beyond the program and the RIE's own relay.", ""]
    rows = []
    for row in adapted.rows:
        through, direct = adapted.times[row.through.name], adapted.times[row.direct.name]
        floor = adapted.times.get(adapted.floor.get(row.event, ""), [])
        cost = (statistics.median(through) - statistics.median(direct) - statistics.median(floor)) * 1000 \
            if floor else None
        rows.append([row.program, row.mode, row.event if row.event in SIZES else "%s (%d B)" % (
                         row.event, len(row.event_bytes)),
                     number(statistics.median(through) * 1000), number(percentile(through, 0.99) * 1000),
                     number(statistics.median(direct) * 1000), number(percentile(direct, 0.99) * 1000),
                     number(statistics.median(floor) * 1000) if floor else "n/a",
                     "%.3f" % cost if cost is not None else "n/a", row.where])
    for what, why in adapted.not_run:
        rows.append([what, "", "", "not run: " + why] + [""] * 6)
    return out + table(["program", "mode", "event", "adapter median ms", "adapter p99 ms", "direct median ms",
                        "direct p99 ms", "go floor median ms", "adapter cost ms", "where"], rows)


# -- main ----------------------------------------------------------------------------------


def arg_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--starts", type=int, default=25, help="cold starts per contender (default 25)")
    parser.add_argument("--invokes", type=int, default=1000, help="warm 100 B invokes per contender (default 1000); "
                        "also the adapter's invokes per row")
    parser.add_argument("--large-invokes", type=int, default=100,
                        help="warm invokes at 256 KB (default 100); half as many at 1 MB")
    parser.add_argument("--only", help="comma-separated contenders to run (of: %s); a named one whose "
                        "prerequisites are missing is an error" % ", ".join(c.NAMES))
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "RESULTS.md",
                        help="the markdown report to write (default benchmarks/RESULTS.md)")
    parser.add_argument("--skip-adapter", action="store_true", help="leave out the executable adapter's table")
    parser.add_argument("--skip-interpreter", action="store_true",
                        help="leave out the table of the layer's interpreter start options")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = arg_parser()
    args = parser.parse_args(argv)
    if min(args.starts, args.invokes, args.large_invokes) < 1:
        parser.error("--starts, --invokes and --large-invokes must be at least 1")
    names = c.NAMES
    only: List[str] = []
    if args.only:
        only = [name.strip() for name in args.only.split(",") if name.strip()]
        unknown = [name for name in only if name not in c.NAMES]
        if unknown:
            parser.error("--only: unknown contender %s (the contenders: %s)" % (", ".join(map(repr, unknown)),
                                                                               ", ".join(c.NAMES)))
        names = [name for name in c.NAMES if name in only]
    try:
        find_rie()
    except RieNotFound as exc:
        print("harness: %s" % exc, file=sys.stderr)
        return 2
    command = os.environ.get("BENCH_COMMAND") or "%s benchmarks/harness.py" % sys.executable
    command_line = " ".join([command] + [shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv)])
    load_before = os.getloadavg()
    started = time.time()
    sent = events()
    counts = {"100 B": args.invokes, "256 KB": args.large_invokes, "1 MB": max(1, args.large_invokes // 2),
              "1 MB, strings": max(1, args.large_invokes // 2)}
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        Path(tmp).chmod(0o755)  # the sandbox's uid 993 reaches the laid-out roots below it
        work = c.Workspace(Path(tmp))
        ready: Dict[str, c.Ready] = {}
        not_run: Dict[str, str] = {}
        for name in names:
            log("preparing %s" % name)
            try:
                ready[name] = c.PREPARERS[name](work)
            except c.NotRunnable as exc:
                if name in only:
                    print("harness: %s cannot run: %s" % (name, exc), file=sys.stderr)
                    return 2
                log("%s not run: %s" % (name, exc))
                not_run[name] = str(exc)
        order = [ready[name] for name in names if name in ready]
        log("cold starts: %d rounds (+1 discarded) of %d contenders" % (args.starts, len(order)))
        cold = cold_starts(order, sent["100 B"], args.starts)
        found = warm(order, sent, counts) if order else None
        adapted = None
        if not args.skip_adapter:
            floor, floor_missing = ready.get(FLOOR), ""
            if floor is None:
                try:
                    floor = c.PREPARERS[FLOOR](work)
                except c.NotRunnable as exc:
                    floor_missing = str(exc)
            adapted = adapter(work, sent["100 B"], args.invokes, floor, floor_missing)
        starting: List[str] = []
        if not args.skip_interpreter and not only:  # a run of some contenders only leaves it out
            if os.geteuid() == 0:
                log("interpreter start options: %d starts a way" % (2 * args.starts))
                starting = interpreter_start.measure(2 * args.starts)
            else:
                starting = ["Not run: not root (it runs the bundled interpreter in a chroot, as uid 993)."]
    load_after = os.getloadavg()
    header = ["# Runtime benchmark", "",
              "Written by `benchmarks/harness.py` on %s UTC (took %.0f s)." % (
                  time.strftime("%Y-%m-%d %H:%M", time.gmtime(started)), time.time() - started),
              "", "## Machine and versions", ""]
    header += ["- " + line for line in machine() + versions()]
    header += ["- Load average (1, 5, 15 min): before %.2f %.2f %.2f; after %.2f %.2f %.2f"
               % (load_before + load_after),
               "- Command: `%s`" % command_line]
    text = report(args, header, names, ready, not_run, cold, found, adapted, sent, counts)
    if starting:
        text += "\n".join(["", "## Starting the layer's interpreter", "",
                            "`benchmarks/interpreter_start.py`: the layer's bundled interpreter in a chroot of the laid-out "
                            "layer, as uid 993, spawn to exit; the layer ships the stdlib as a directory of .pyc.", ""]
                           + starting) + "\n"
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(text)
    log("wrote %s" % args.output)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except c.WrongAnswer as exc:
        print("harness: WRONG ANSWER, benchmark aborted: %s" % exc, file=sys.stderr)
        sys.exit(1)
