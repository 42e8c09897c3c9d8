"""Compare the tables and captions of two executed books, value by value.

    python scripts/compare_book_tables.py BOOK_DIR_A BOOK_DIR_B [--ignore-timing]

For every chapter notebook present in both ``book/`` folders it extracts each HTML table
(every cell's text, in order) and each figure/table caption, and reports the first
differences. Cells of timing tables (milliseconds, seconds) and the provenance page differ
between any two runs and are skipped with ``--ignore-timing``. Exit status 0 when every
compared value is identical.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

TIMING = re.compile(r"(millisecond|ms per map|time per map|seconds|wall|Build machine|run time| s\b)", re.I)
#: a column header or row label that holds a time (skipped with --ignore-timing in any table)
TIMING_CELL = re.compile(r"(\bseconds\b|\bms\b|ms per map|time per map|wall time)", re.I)


class _Cells(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tables, self._cell, self._in = [], None, 0

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append({"caption": "", "cells": [], "rows": []})
        elif tag == "tr" and self.tables:
            self.tables[-1]["rows"].append([])
        elif tag in ("td", "th") and self.tables:
            self._cell = []
        elif tag == "caption":
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self.tables:
            text = " ".join("".join(self._cell).split())
            self.tables[-1]["cells"].append(text)
            if self.tables[-1]["rows"]:
                self.tables[-1]["rows"][-1].append(text)
            self._cell = None
        elif tag == "caption" and self._cell is not None and self.tables:
            self.tables[-1]["caption"] = " ".join("".join(self._cell).split())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def extract(nb_path: Path) -> list[dict]:
    """Every table (caption + cells) and every markdown output (figure captions) in order."""
    nb = json.loads(nb_path.read_text())
    out = []
    for cell in nb["cells"]:
        for o in cell.get("outputs", []):
            data = o.get("data", {})
            if "text/html" in data:
                p = _Cells()
                p.feed("".join(data["text/html"]))
                out += [{"kind": "table", **t} for t in p.tables]
            elif "text/markdown" in data:
                out.append({"kind": "markdown", "caption": "".join(data["text/markdown"]), "cells": []})
    return out


def untimed(table: dict) -> list:
    """A table's cells without its timing columns and rows: a column whose header (any cell of the
    first row) names a time, and a row whose label (first cell) does, as in chapter 7's studies."""
    rows = table.get("rows") or [table["cells"]]
    width = len(rows[0])
    cols = {j for j, c in enumerate(rows[0]) if TIMING_CELL.search(c)}
    # a row under a spanning row label has fewer cells: its cells align with the header's right end
    return [c for r in rows if not (r and TIMING_CELL.search(r[0]))
            for j, c in enumerate(r) if j + width - len(r) not in cols]


def _keyed(outputs: list[dict]) -> dict:
    """Outputs keyed by their kind and the first 60 characters of their caption (a figure's
    glue name is in its first line), so inserted or removed outputs do not shift the rest."""
    out = {}
    for o in outputs:
        key = f"{o['kind']}:{' '.join(o['caption'].split())[:60]}"
        while key in out:
            key += "+"
        out[key] = o
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--ignore-timing", action="store_true")
    a = ap.parse_args(argv)
    bad = compared = 0
    for nb in sorted(Path(a.a).glob("*.ipynb")):
        other = Path(a.b) / nb.name
        if not other.is_file() or nb.stem == "provenance":
            continue
        ta, tb = _keyed(extract(nb)), _keyed(extract(other))
        for k in ta.keys() - tb.keys():
            print(f"{nb.name}: only in A: {k[:100]!r}")
        for k in tb.keys() - ta.keys():
            print(f"{nb.name}: only in B (new): {k[:100]!r}")
        for k in ta.keys() & tb.keys():
            x, y = ta[k], tb[k]
            if a.ignore_timing and TIMING.search(x["caption"]):
                continue
            cx, cy = (untimed(x), untimed(y)) if a.ignore_timing else (x["cells"], y["cells"])
            compared += len(cx) + 1
            if x["caption"] != y["caption"]:
                print(f"{nb.name}: caption differs:\n  A: {x['caption'][:400]}\n  B: {y['caption'][:400]}")
                bad += 1
            diffs = [(i, u, v) for i, (u, v) in enumerate(zip(cx, cy)) if u != v]
            if len(cx) != len(cy) or diffs:
                print(f"{nb.name}: table {x['caption'][:80]!r}: {len(cx)} vs {len(cy)} cells, "
                      f"{len(diffs)} differ, e.g. {diffs[:4]}")
                bad += 1
    print(f"compared {compared} values; {bad} differences")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
