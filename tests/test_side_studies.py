"""The side studies a profile leaves to the recorded studies: chapter 7's live plateau stop
is replaced by a note that says why and how to run it (no LOTS step is taken)."""
from __future__ import annotations

from types import SimpleNamespace

from lotsbook.pages import parameters as page


def test_the_plateau_study_is_a_note_where_the_profile_leaves_it_out(monkeypatch):
    shown = []
    monkeypatch.setattr(page, "note", shown.append)
    monkeypatch.setattr("lotslib.studies.early_stop_study",
                        lambda *a, **k: (_ for _ in ()).throw(AssertionError("ran LOTS")))
    ctx = SimpleNamespace(plateau_study=False, profile="embedded", study_iters=200, study_images=3)
    assert page.show_early_stop(ctx, net=None, images=[]) is None
    assert len(shown) == 1 and "not run live in the embedded profile" in shown[0]
    assert "200 iterations on 3 photos" in shown[0] and "`plateau_study`" in shown[0]


def test_the_budget_summary_names_each_flip_by_the_methods_name():
    import pandas as pd

    from lotslib.studies import budget_flips
    from lotslib.verdicts import NO_DIFFERENCE, WORSE

    rows = [dict(cap=c, metric="avg_drop", method="gradcam", verdict=v, n=10, lots_mean=m)
            for c, v, m in ((40, WORSE, 30.0), (500, NO_DIFFERENCE, 28.0))]
    rows += [dict(cap=c, metric="avg_drop", method="hirescam", verdict=WORSE, n=10, lots_mean=m)
             for c, m in ((40, 30.0), (500, 28.0))]
    verdicts = pd.DataFrame(rows)
    summ = page.budget_summary(verdicts, budget_flips(verdicts), 10)
    assert "in 1 place(s)" in summ["text"] and "against Grad-CAM (40 → 500 iterations" in summ["text"]
    assert "gradcam" not in summ["text"] and "HiRes-CAM" not in summ["text"]
    assert summ["table"].loc[500, "Avg Drop ↓: against 2 CAMs"] == "0 better / 1 worse / 1 no difference"
    few = page.budget_summary(verdicts.assign(n=4), budget_flips(verdicts), 4)
    assert few["text"].startswith("No verdict is drawn")


def test_a_table_caption_shows_a_recorded_commands_placeholders():
    """Table captions are HTML: the '<scratch>' of a recorded command must be escaped, not
    swallowed as a tag (it was: the caption read '--cache-dir /book')."""
    import pandas as pd

    from lotsbook.plots import styled_table

    html = styled_table(pd.DataFrame({"a": [1.0]}), "`run --cache-dir <scratch>/book` & **more**").to_html()
    assert "--cache-dir &lt;scratch&gt;/book` &amp; more" in html
