"""scripts/compare_book_tables.py: two executed books compared value by value; with
--ignore-timing a table's timing columns and rows are skipped, even under spanning row labels,
while any other changed value is still reported."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("compare_book_tables", ROOT / "scripts" / "compare_book_tables.py")
compare = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(compare)


def _book(folder: Path, drop: float, seconds: float, ms: float) -> Path:
    """One executed notebook with a study table (row labels spanning rows, a 'seconds'
    column) and a quantity-by-row table with an 'ms per map' row."""
    idx = pd.MultiIndex.from_tuples([(49, "default"), (49, 15.0), (25, "default")], names=["filter_size", "sigma"])
    study = pd.DataFrame({"avg_drop": [28.4, drop, 40.0], "seconds": [0.01, seconds, 0.02]}, index=idx)
    quantity = pd.DataFrame({"full": [200.0, ms], "early": [193.0, 90.0]}, index=["iterations", "ms per map"])
    outs = [{"output_type": "display_data", "data": {"text/html": t.style.set_caption(c).to_html()}, "metadata": {}}
            for t, c in ((study, "Filter study"), (quantity, "Plateau study"))]
    nb = {"cells": [{"cell_type": "code", "source": "", "metadata": {}, "outputs": outs, "execution_count": 1}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    folder.mkdir()
    (folder / "07_parameters.ipynb").write_text(json.dumps(nb))
    return folder


def test_timing_cells_are_skipped_and_other_changes_caught(tmp_path, capsys):
    a = _book(tmp_path / "a", drop=5.0, seconds=0.01, ms=100.0)
    b = _book(tmp_path / "b", drop=5.0, seconds=0.03, ms=140.0)  # only times differ
    assert compare.main([str(a), str(b), "--ignore-timing"]) == 0
    assert compare.main([str(a), str(b)]) == 1  # without the flag the times count
    c = _book(tmp_path / "c", drop=5.5, seconds=0.03, ms=140.0)  # a metric differs too
    capsys.readouterr()
    assert compare.main([str(a), str(c), "--ignore-timing"]) == 1
    assert "'5.000000', '5.500000'" in capsys.readouterr().out
