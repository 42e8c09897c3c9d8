"""The equivalence decision of the LOTS schedule study: lotslib.stats.tost on hand-made paired
differences, and lotslib.studies.equivalence_table / equivalence_from_summary on hand-made rows."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lotslib.errors import ParameterError
from lotslib.stats import tost
from lotslib.studies import EQUIVALENCE_MARGINS, equivalence_from_summary, equivalence_table

ROOT = Path(__file__).resolve().parents[1]
#: 20 differences with mean 0 and standard deviation 1 (symmetric, fixed)
BASE = np.r_[np.linspace(-1, 1, 10), -np.linspace(-1, 1, 10)]
BASE = BASE / BASE.std(ddof=1)


def test_tost_inside_the_margin_is_equivalent():
    d = 0.3 + 0.5 * BASE  # mean 0.3, se 0.5/sqrt(20) = 0.112: 90 % interval ~ [0.11, 0.49]
    r = tost(d, margin=2.0)
    assert r["decision"] == "equivalent" and r["equivalent"]
    assert r["p_lower"] < 1e-10 and r["p_upper"] < 1e-10 and r["p_value"] == max(r["p_lower"], r["p_upper"])
    half = 1.729133 * 0.5 / math.sqrt(20)  # t_{19, 0.95}
    assert r["ci_low"] == pytest.approx(0.3 - half, abs=1e-5) and r["ci_high"] == pytest.approx(0.3 + half, abs=1e-5)
    assert r["mean_diff"] == pytest.approx(0.3) and r["n"] == 20


def test_tost_outside_the_margin_is_not_equivalent():
    r = tost(5.0 + 0.5 * BASE, margin=2.0)  # clearly above +2
    assert r["decision"] == "not shown equivalent" and not r["equivalent"]
    assert r["p_upper"] > 0.999 and r["p_lower"] < 1e-10


def test_tost_straddling_the_margin_is_not_equivalent():
    # mean 1.8 inside the margin, but the 90 % interval [1.6, 2.0] reaches past +2 - 1e-9
    d = 1.8 + BASE * (0.2 / 1.729133) * math.sqrt(20) * 1.05
    r = tost(d, margin=2.0)
    assert r["ci_low"] < 2.0 < r["ci_high"] and not r["equivalent"]
    assert r["p_upper"] > 0.05 > r["p_lower"]
    # a noisy difference centred on 0 (the old rule "the 95 % interval contains 0" passed it)
    noisy = tost(0.0 + 8.0 * BASE, margin=2.0)
    assert noisy["ci_low"] < -2.0 and noisy["ci_high"] > 2.0 and noisy["decision"] == "not shown equivalent"


def test_tost_decision_matches_the_90_percent_interval():
    rng = np.random.default_rng(1)
    for _ in range(50):
        d = rng.normal(rng.uniform(-3, 3), rng.uniform(0.2, 4), size=20)
        r = tost(d, margin=2.0)
        assert r["equivalent"] == (-2.0 < r["ci_low"] and r["ci_high"] < 2.0)


def test_tost_degenerate_inputs():
    assert tost(np.zeros(20), 2.0)["equivalent"]  # every difference 0: no spread, inside
    assert not tost(np.full(20, 3.0), 2.0)["equivalent"]  # every difference 3: outside
    one = tost([0.1, np.nan], 2.0)  # one finite value: no test
    assert one["decision"] == "not shown equivalent" and math.isnan(one["p_value"]) and one["n"] == 1
    for bad in ({"margin": 0}, {"margin": -1}, {"margin": 2, "alpha": 0.5}):
        with pytest.raises(ParameterError):
            tost(BASE, **bad)


def _rows(shifts: dict, n=20, passes=None, pearson=0.99):
    """Per-image rows: the protocol's metrics plus, per candidate, a fixed shift + noise."""
    rows = []
    for name, shift in shifts.items():
        for i in range(n):
            r = {"candidate": name, "image_id": f"im{i}", "passes": (passes or {}).get(name, 100.0),
                 "protocol_passes": 500.0, "pearson": pearson}
            for k in EQUIVALENCE_MARGINS:
                base = 40.0 + i
                r[f"{k}_protocol"] = base
                r[f"{k}_candidate"] = base + shift + (0.3 * BASE[i] if k != "avg_increase" else 0.0)
            rows.append(r)
    return pd.DataFrame(rows)


def test_equivalence_table_decides_and_picks_the_cheapest():
    rows = _rows({"far": 5.0, "near expensive": 0.2, "near cheap": -0.2},
                 passes={"far": 50.0, "near expensive": 250.0, "near cheap": 100.0})
    t = equivalence_table(rows).set_index("candidate")
    assert not t.loc["far", "meets_bar"] and t.loc["far", "n_equivalent"] == 0  # every difference ~5 > 2
    assert t.loc["near cheap", "meets_bar"] and t.loc["near expensive", "meets_bar"]
    assert t["picked"].tolist() == [False, False, True]
    assert t.loc["near cheap", "passes_ratio"] == pytest.approx(5.0)
    assert not t["approximate"].any()
    # the frontier: "far" is cheapest, "near cheap" beats "near expensive" on every axis
    assert t["on_frontier"].to_dict() == {"far": True, "near expensive": False, "near cheap": True}


def test_equivalence_table_needs_the_pearson_bar_too():
    t = equivalence_table(_rows({"close metrics, far maps": 0.0}, pearson=0.8))
    assert t["metrics_equivalent"].all() and not t["maps_close"].any() and not t["picked"].any()


def test_equivalence_from_summary_approximates_the_per_image_decision():
    summary = pd.DataFrame([{"candidate": "a", "mean_passes": 60.0, "passes_ratio": 8.0, "pearson_median": 0.97,
                             "pearson_p10": 0.93, **{f"{k}_delta": 0.1 for k in EQUIVALENCE_MARGINS},
                             **{f"{k}_delta_low": -0.5 for k in EQUIVALENCE_MARGINS},
                             **{f"{k}_delta_high": 0.7 for k in EQUIVALENCE_MARGINS}},
                            {"candidate": "b", "mean_passes": 60.0, "passes_ratio": 8.0, "pearson_median": 0.97,
                             "pearson_p10": 0.93, **{f"{k}_delta": 0.0 for k in EQUIVALENCE_MARGINS},
                             **{f"{k}_delta_low": -6.0 for k in EQUIVALENCE_MARGINS},  # contains 0, but wide
                             **{f"{k}_delta_high": 6.0 for k in EQUIVALENCE_MARGINS}}])
    t = equivalence_from_summary(summary).set_index("candidate")
    assert t.loc["a", "meets_bar"] and t.loc["a", "picked"] and t["approximate"].all()
    assert not t.loc["b", "meets_bar"] and t.loc["b", "n_equivalent"] == 0
    se = 1.2 / (2 * 1.959964)
    assert t.loc["a", "coherency_ci90_high"] == pytest.approx(0.1 + 1.644854 * se, rel=1e-5)


def test_the_recorded_study_reads_and_the_script_lists_the_new_candidates():
    summary = pd.read_csv(ROOT / "results" / "lots_equivalence.csv")
    t = equivalence_from_summary(summary)
    assert len(t) == len(summary) and t["on_frontier"].any()
    src = (ROOT / "experiments" / "lots_equivalence.py").read_text()
    for name in ('"40 x 1/255"', '"plateau (patience 50, 2%)": PLATEAU'):
        assert name in src
    # the per-image rows give the recorded decisions again, exactly, for every candidate listed
    rows = pd.read_csv(ROOT / "results" / "lots_equivalence_images.csv")
    exact = equivalence_table(rows).set_index("candidate")
    assert set(exact.index) >= {"40 x 1/255", "plateau (patience 50, 2%)"} and (exact["n"] == 20).all()
    rec = summary.set_index("candidate").loc[exact.index]
    for col in ("meets_bar", "n_equivalent", "picked", "on_frontier"):
        assert (rec[col] == exact[col]).all(), col
