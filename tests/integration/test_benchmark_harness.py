"""Smoke test of the runtime benchmark (benchmarks/harness.py): a tiny run of two
contenders that need no Go build (this runtime on the host's Python, and the shell + curl
peer), under the real RIE; the markdown it writes has their rows, with a positive number
in every figure cell and a ratio (or n/a, the references not being run) in every ratio cell.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONTENDERS = ("bootstrap-sdk", "shell + curl")
TEXT_COLUMNS = ("contender", "package")  # every other column holds a figure or a ratio


def tables(markdown: str) -> Dict[str, List[Dict[str, str]]]:
    """Each ### section's table: its rows as {column: cell}."""
    found: Dict[str, List[Dict[str, str]]] = {}
    title = ""
    lines = markdown.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("### "):
            title = line[4:]
        elif line.startswith("| ") and index + 1 < len(lines) and lines[index + 1].startswith("|---"):
            header = [cell.strip() for cell in line.strip("|").split(" | ")]
            rows = []
            for row in lines[index + 2:]:
                if not row.startswith("|"):
                    break
                cells = [cell.strip() for cell in row.strip().strip("|").split(" | ")]
                assert len(cells) == len(header), (title, row)
                rows.append(dict(zip(header, cells)))
            found[title] = rows
    return found


def test_harness_writes_a_table_of_figures_and_ratios(tmp_path: Path) -> None:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed: the shell peer needs it (benchmarks/build_peers.sh installs it)")
    output = tmp_path / "RESULTS.md"
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "harness.py"), "--only", ",".join(CONTENDERS), "--starts", "2",
         "--invokes", "20", "--large-invokes", "2", "--skip-adapter", "--output", str(output)],
        cwd=str(ROOT), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    markdown = output.read_text()
    assert markdown in done.stdout  # it prints the same report
    found = tables(markdown)
    titles = [title.split(":")[0].split(",")[0] for title in found]
    for expected in ("Cold start", "Warm round trip", "Peak RSS of the runtime process (VmHWM)", "Package"):
        assert any(title.startswith(expected) for title in titles), (expected, titles)
    assert len(found) == 7, list(found)
    for title, rows in found.items():
        by_name = {row["contender"]: row for row in rows}
        assert set(CONTENDERS) <= set(by_name), (title, list(by_name))
        for name in CONTENDERS:
            for column, cell in by_name[name].items():
                if column in TEXT_COLUMNS:
                    continue
                if "÷" in column:
                    assert cell == "n/a" or float(cell) > 0, (title, name, column, cell)
                else:
                    assert float(cell) > 0, (title, name, column, cell)
    assert "## Targets" in markdown
