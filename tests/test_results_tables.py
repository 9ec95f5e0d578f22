"""The README's result tables are exactly what the committed result files render (no hand-copied numbers)."""

from __future__ import annotations

import re

from support import PROJECT

from benchmarks.bench_tables import render

MARKER = re.compile(r"<!-- results: (\S+) (\S+) -->\n(.*?)\n<!-- /results -->", re.S)


def test_readme_tables_are_rendered_from_the_committed_result_files() -> None:
    readme = (PROJECT / "README.md").read_text()
    found = MARKER.findall(readme)
    assert found, "the README quotes no result files"
    for name, pattern, table in found:
        files = sorted(PROJECT.glob(pattern))
        assert files, f"{pattern} matches no committed result file"
        assert table == render(name, files), f"README table {name} ({pattern}) differs from its files: " \
                                             f"run factory-twin bench table {name} {pattern}"


def test_every_quoted_result_carries_its_provenance() -> None:
    import orjson

    quoted = [f for _, pattern, _ in MARKER.findall((PROJECT / "README.md").read_text()) for f in PROJECT.glob(pattern)]
    assert quoted
    for path in quoted:
        prov = orjson.loads(path.read_bytes()).get("provenance", {})
        assert prov.get("commit") and prov.get("versions") and prov.get("load_before") and prov.get("cores"), path
