"""The web UI's plant-time fields (twin/web/time.js) read back every instant they show, the hour the clocks go
back included: run in Node.js, the same module the browser loads."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from support import PROJECT

SCRIPT = """
import { setPlantZone, toInput, fromInput, INPUT_PATTERN } from "./twin/web/time.js";
setPlantZone("Europe/Berlin");
const field = new RegExp(`^(?:${INPUT_PATTERN})$`, "v");  // as the browser checks a pattern attribute
const out = [];
for (const day of ["2026-10-25T00:00:00Z", "2026-03-29T00:00:00Z", "2026-12-05T00:00:00Z"]) {
  for (let t = Date.parse(day) - 3600e3; t < Date.parse(day) + 4 * 3600e3; t += 15 * 60e3) {
    const shown = toInput(t);
    out.push([new Date(t).toISOString(), shown, fromInput(shown) === t, field.test(shown)]);
  }
}
console.log(JSON.stringify(out));
"""


def test_every_instant_a_time_field_shows_reads_back_as_itself() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed (scripts/test installs it)")
    done = subprocess.run([node, "--input-type=module", "-e", SCRIPT], cwd=PROJECT, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert [r for r in rows if not (r[2] and r[3])] == []
    shown = {r[0]: r[1] for r in rows}
    # the repeated hour of the autumn change: its first occurrence carries its offset, the second reads as is
    assert shown["2026-10-25T00:30:00.000Z"] == "2026-10-25 02:30:00 +02:00"
    assert shown["2026-10-25T01:30:00.000Z"] == "2026-10-25 02:30:00"
    assert shown["2026-12-05T02:00:00.000Z"] == "2026-12-05 03:00:00"
