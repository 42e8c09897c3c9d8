"""Chapters executed two at a time (``python -m lotsbook --jobs``): the start order, the
waits of :data:`lotsbook.build.AFTER`, the number of kernels at a time, and a failure. The
chapter runs are replaced by short sleeps that record when they started and ended."""
from __future__ import annotations

import threading
import time

import pytest

from lotsbook import build as book
from lotslib.errors import ParameterError

# the cold chapter times (s) of a 20-photo embedded build, for a hand-computed order
COSTS = {"01_attack": 60, "02_visualization": 8, "03_targets": 180, "04_benchmark": 400, "05_qualitative": 60,
         "06_unseen": 25, "07_parameters": 200, "08_sanity": 220, "own": 20, "provenance": 5}


def test_start_order_puts_the_longest_path_first():
    order = [c.stem for c in book.start_order(list(book.CHAPTERS), COSTS)]
    # 3 -> 4 -> provenance is the longest path (180 + 400 + 5), then 4 itself (405), then 8 (225),
    # 7 (205); provenance, which waits for everything, comes last
    assert order[:4] == ["03_targets", "04_benchmark", "08_sanity", "07_parameters"]
    assert order[-1] == "provenance"
    assert sorted(order) == sorted(c.stem for c in book.CHAPTERS)
    # without costs: book order, the waited-for chapters first
    plain = [c.stem for c in book.start_order(list(book.CHAPTERS))]
    assert plain[0] == "03_targets" and plain[-1] == "provenance"


def _fake_run(monkeypatch, fail=None, seconds=0.05):
    events, lock = [], threading.Lock()

    def fake(ch, params, root, force=False, log=print):
        with lock:
            events.append(("start", ch.stem, time.perf_counter()))
        time.sleep(seconds * (3 if ch.stem == "03_targets" else 1))
        with lock:
            events.append(("end", ch.stem, time.perf_counter()))
        if ch.stem == fail:
            raise book.ChapterFailed(f"{ch.stem} failed")
        return "executed"

    monkeypatch.setattr(book, "execute_chapter", fake)
    return events


def _running_at_most(log):
    now, peak = 0, 0
    for kind, _, _ in sorted(log, key=lambda e: (e[2], e[0] == "start")):
        now += 1 if kind == "start" else -1
        peak = max(peak, now)
    return peak


def test_two_jobs_respect_the_waits_and_never_run_more_than_two(monkeypatch, tmp_path):
    from lotsbook.chapter import ChapterContext
    from lotsbook.profiles import BookProfile

    log = _fake_run(monkeypatch)
    monkeypatch.setenv("LOTSBOOK_JOBS", "1")  # restored afterwards
    times = book.execute_chapters(list(book.CHAPTERS), lambda ch: {}, tmp_path, jobs=2, log=lambda *a: None,
                                  costs=COSTS)
    assert set(times) == {c.stem for c in book.CHAPTERS}
    at = {(k, s): t for k, s, t in log}
    assert at["start", "04_benchmark"] >= at["end", "03_targets"]
    others = [c.stem for c in book.CHAPTERS if c.stem != "provenance"]
    assert at["start", "provenance"] >= max(at["end", s] for s in others)
    assert _running_at_most(log) == 2
    assert ChapterContext("4", BookProfile(), None).jobs == 2  # the chapters know they shared the machine (Table 5.3)
    # two at a time: the whole run is shorter than one after another
    serial = sum(at["end", s] - at["start", s] for s in times)
    assert max(at.values()) - min(at.values()) < 0.8 * serial


def test_one_job_runs_in_book_order(monkeypatch, tmp_path):
    log = _fake_run(monkeypatch)
    book.execute_chapters(list(book.CHAPTERS), lambda ch: {}, tmp_path, jobs=1, log=lambda *a: None, costs=COSTS)
    assert [s for k, s, _ in log if k == "start"] == [c.stem for c in book.CHAPTERS]
    assert _running_at_most(log) == 1


def test_a_failed_chapter_stops_new_starts_lets_the_running_one_finish_and_is_raised(monkeypatch, tmp_path):
    log = _fake_run(monkeypatch, fail="08_sanity")
    with pytest.raises(book.ChapterFailed, match="08_sanity failed"):
        book.execute_chapters(list(book.CHAPTERS), lambda ch: {}, tmp_path, jobs=2, log=lambda *a: None,
                              costs=COSTS)
    started = [s for k, s, _ in log if k == "start"]
    ended = [s for k, s, _ in log if k == "end"]
    assert started[:3] == ["03_targets", "04_benchmark", "08_sanity"]  # chapter 3 alone, then two at a time
    assert "04_benchmark" in ended  # the chapter running beside the failure finished
    assert "provenance" not in started  # nothing new after the failure
    assert sorted(started) == sorted(ended)


def test_a_chapter_that_runs_alone_has_nothing_beside_it(monkeypatch, tmp_path):
    log = _fake_run(monkeypatch)
    book.execute_chapters(list(book.CHAPTERS), lambda ch: {}, tmp_path, jobs=2, log=lambda *a: None, costs=COSTS)
    at = {(k, s): t for k, s, t in log}
    assert "03_targets" in book.ALONE
    for s in {c.stem for c in book.CHAPTERS} - {"03_targets"}:  # every other chapter before or after it
        assert at["end", s] <= at["start", "03_targets"] or at["start", s] >= at["end", "03_targets"], s
    # without the rule, chapter 8 runs beside chapter 3 (the rule is what keeps it out)
    monkeypatch.setattr(book, "ALONE", frozenset())
    log.clear()
    book.execute_chapters(list(book.CHAPTERS), lambda ch: {}, tmp_path, jobs=2, log=lambda *a: None, costs=COSTS)
    at = {(k, s): t for k, s, t in log}
    assert at["start", "08_sanity"] < at["end", "03_targets"]


def test_jobs_must_be_positive(tmp_path):
    with pytest.raises(ParameterError, match="--jobs 0"):
        book.execute_chapters(list(book.CHAPTERS), lambda ch: {}, tmp_path, jobs=0, log=lambda *a: None)


@pytest.mark.parametrize("jobs", [1, 2])
def test_every_kernel_gets_one_thread_whatever_the_jobs_and_a_users_count_is_kept(monkeypatch, tmp_path, jobs):
    """A LOTS walk's float rounding depends on the thread count, so the kernels' count must not
    follow --jobs (nor the build's timing): one thread, unless $LOTS_THREADS says otherwise."""
    import os

    seen = []
    _fake_run(monkeypatch)
    inner = book.execute_chapter
    monkeypatch.setattr(book, "execute_chapter",
                        lambda ch, *a, **k: (seen.append(os.environ.get("LOTS_THREADS")), inner(ch, *a, **k))[1])
    monkeypatch.setenv("LOTS_THREADS", "placeholder")  # recorded, so that the test's changes are undone
    monkeypatch.delenv("LOTS_THREADS")
    chosen = [c for c in book.CHAPTERS if c.stem in ("03_targets", "06_unseen", "08_sanity")]
    book.execute_chapters(chosen, lambda ch: {}, tmp_path, jobs=jobs, log=lambda *a: None, costs=COSTS)
    assert seen == ["1"] * 3
    monkeypatch.setenv("LOTS_THREADS", "3")
    seen.clear()
    book.execute_chapters(chosen, lambda ch: {}, tmp_path, jobs=jobs, log=lambda *a: None, costs=COSTS)
    assert seen == ["3"] * 3
