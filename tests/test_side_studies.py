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
