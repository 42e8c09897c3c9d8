"""Chapter 8's checks at full size: the recorded study (experiments/sanity_study.py) holds the
sizes issue 20 asks for, and the chapter's summary reads it only where it is complete."""
from dataclasses import replace

import pytest

from lotslib import metric_registry as MR
from lotslib.focus import focus_verdict
from lotsbook.pages import sanity as page


@pytest.fixture(autouse=True)
def road_registered_only_inside():
    """The chapter's ROAD table registers the opt-in ROAD metrics; undo it, so that no other test
    sees them (ROAD stays opt-in)."""
    before = set(MR.METRICS)
    yield
    for key in set(MR.METRICS) - before:
        MR.unregister_metric(key)


def test_the_recorded_study_has_the_sizes_a_verdict_needs():
    rec = page.recorded_checks()
    assert rec is not None and rec.complete, "results/sanity_study_*.csv: run experiments/sanity_study.py"
    checks, road = rec.meta["checks"], rec.meta["road"]
    assert rec.randomisation["image"].nunique() == checks["photos"] >= 10
    assert rec.randomisation["step"].max() == checks["randomisation_steps"]  # every step, not a subset
    assert rec.random_logit["image"].nunique() == checks["photos"]
    assert rec.road["image_id"].nunique() == road["road_photos"] >= 19
    assert rec.focus["mosaic"].nunique() == checks["mosaics"] >= 20
    assert checks["location_iters"] >= 100 and len(rec.location) == 49
    assert "<scratch>" not in checks["command"] + road["command"] and "/work" not in checks["command"]


def test_the_summary_uses_the_recorded_study_only_where_it_is_complete(monkeypatch):
    rec = page.recorded_checks()
    said = []
    monkeypatch.setattr(page, "note", lambda text, *a, **k: said.append(text))
    fv = focus_verdict(rec.focus)
    live = dict(cascade=rec.randomisation, logit=rec.random_logit, fverdict=fv, scored=rec.road)
    page.show_sanity_summary([0, 1, 2], **live, recorded=rec)
    assert said[0].startswith("From the recorded study at full size")
    n = rec.randomisation["image"].nunique()
    assert f"Model randomisation ({n} photos)" in said[1]  # n from the recorded rows, not the 3 live photos
    said.clear()
    page.show_sanity_summary([0, 1, 2], **live, recorded=replace(rec, road=None))  # incomplete: the live run
    assert not said[0].startswith("From the recorded study") and "Model randomisation (3 photos" in said[0]


def test_road_left_out_live_says_so_and_the_summary_counts_no_photo(monkeypatch):
    """road_images = 0 (the embedded profile): no live ROAD, a sentence instead of the table, and
    a summary on the small run says ROAD rests on 0 photos (too few)."""
    from types import SimpleNamespace

    rec = page.recorded_checks()
    said = []
    monkeypatch.setattr(page, "note", lambda text, *a, **k: said.append(text))
    scored, keys = page.show_road(SimpleNamespace(road_images=0), None, [], None, {}, None)
    assert scored is None and "`road_images` = 0" in said[-1] and "road" in keys
    page.show_baseline_verdict(None, keys)
    assert "recorded study" in said[-1]
    said.clear()
    page.show_sanity_summary([0, 1, 2], rec.randomisation, rec.random_logit, focus_verdict(rec.focus), None,
                             recorded=replace(rec, road=None))
    assert "ROAD on 0 photos" in said[0]


def test_the_recorded_study_applies_to_the_embedded_set_up_only():
    from types import SimpleNamespace

    from lotsbook.profiles import PROFILES

    for name, applies in (("embedded", True), ("classroom", True), ("full", False)):
        ctx = SimpleNamespace(config=PROFILES[name])
        assert (page.recorded_checks(ctx) is not None) == applies, name
    other = SimpleNamespace(config=PROFILES["embedded"].replace(model="efficientnet_lite2"))
    assert page.recorded_checks(other) is None
