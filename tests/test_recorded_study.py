"""Chapter 4's recorded-study helpers on hand-made rows: the plateau stop's paired effect, the
conventions recorded in the same pass, and the steps check."""
import numpy as np
import pandas as pd

from lotsbook.pages.benchmark import plateau_effect, recorded_conventions, steps_check_text

CAMS = ("gradcam", "hirescam")


def _rows(lots_drop, n=12, seed=0, extra=None):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        for m in ("lots",) + CAMS:
            drop = lots_drop + 0.2 * i if m == "lots" else 30.0 + 0.1 * i + (1.0 if m == "hirescam" else 0.0)
            r = {"model": "lite0", "method": m, "method_name": m, "image_id": f"i{i}", "avg_drop": drop,
                 "increase": float(i % 2), "coherency": 70.0 + rng.normal(), "insertion": 50.0 + i,
                 "deletion": 10.0 + (0.5 * i if m == "lots" else 0.4 * i), "ms_per_map": 1.0}
            r.update((extra or (lambda m, i: {}))(m, i))
            rows.append(r)
    return pd.DataFrame(rows)


def test_the_plateau_effect_is_paired_and_changes_a_verdict_where_the_numbers_do():
    protocol, plateau = _rows(40.0), _rows(20.0)  # Average Drop: worse than the CAMs, then better
    eff = plateau_effect(protocol, plateau)
    row = eff["table"].loc["Avg Drop ↓"]
    assert row["n"] == 12 and np.isclose(row["plateau − protocol"], -20.0)
    assert "Avg Drop" in eff["text"] and eff["verdicts"]["changed"] >= 2
    same = plateau_effect(protocol, protocol.copy())
    assert same["verdicts"]["changed"] == 0 and np.isclose(same["table"]["plateau − protocol"], 0).all()
    assert "moves none" in same["text"]


def test_conventions_recorded_in_the_same_pass_are_read_from_their_columns():
    def cols(m, i):  # under fill='mean' LOTS's drop is far below the CAMs'
        return {"avg_drop[fill=mean]": 5.0 + i if m == "lots" else 30.0 + i, "increase[fill=mean]": 0.0,
                "insertion[score=max]": 50.0 + i, "deletion[score=max]": 10.0 + 0.5 * i}
    rows = _rows(40.0, extra=cols)
    convs = recorded_conventions(rows)
    assert len(convs) == 2
    fill, score = convs
    assert fill["changed"] >= 2 and "fill='mean'" in fill["text"]
    assert recorded_conventions(_rows(40.0)) == []  # nothing recorded: nothing claimed


def test_the_steps_check_reports_the_largest_moves():
    base = pd.DataFrame({"method": ["lots", "lots", "gradcam", "gradcam"], "image_id": ["a", "b", "a", "b"],
                         "insertion": [50.0, 60.0, 40.0, 45.0], "deletion": [10.0, 12.0, 8.0, 9.0], "steps": 56})
    fine = base.assign(steps=224, insertion=base["insertion"] + [0.5, -0.2, 0.1, 0.3], deletion=base["deletion"])
    text = steps_check_text(pd.concat([base, fine]))
    assert "at most 0.5 (Insertion)" in text and "0.0 points (Deletion)" in text
    assert "2 images and 2 methods" in text and "instead of 56" in text
