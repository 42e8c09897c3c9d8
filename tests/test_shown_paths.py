"""No absolute path of the build machine reaches a page or a recorded file: the experiments
write their records, and the pages show recorded commands and the interpreter path, through
:func:`lotsbook.paths.shown`."""
from __future__ import annotations

import json
import re

from lotsbook.paths import RESULTS, ROOT, shown
from lotsbook.results import recorded_meta

ABSOLUTE = re.compile(r"(?<![\w.:/])/(?:tmp|work|root|home|scratch|var|opt|usr|mnt|data)/")


def test_shown_known_answers():
    assert shown(f"{ROOT}/.venv/bin/python") == ".venv/bin/python"
    assert shown(f"--images {ROOT.parent}/shared/imagenet-sample --n 5") == "--images ../shared/imagenet-sample --n 5"
    assert (shown("--cache-dir /tmp/study_cache --out /work/x/y.csv")
            == "--cache-dir <scratch>/study_cache --out <scratch>/y.csv")
    # relative paths, URLs and plain words are left alone
    plain = "results/x.csv https://example.org/tmp/a no/tmp/here"
    assert shown(plain) == plain


def test_shown_finds_a_checkout_under_any_folder(monkeypatch):
    """CI clones into folders no list of usual top folders names (``/check/...``, ``/srv/...``)."""
    import lotsbook.paths as paths
    from pathlib import Path

    for top in ("/check/work/main", "/srv/ci/lots-book"):
        monkeypatch.setattr(paths, "ROOT", Path(top))
        parent = top.rsplit("/", 1)[0]
        assert paths.shown(f"{top}/.venv/bin/python -m x") == ".venv/bin/python -m x"
        assert paths.shown(f"--images {parent}/shared/imagenet-sample") == "--images ../shared/imagenet-sample"
        assert paths.shown(top) == "."
        # a sibling whose name only starts like the checkout is not inside it
        assert paths.shown(f"{top}2/x") != "2/x"


def test_every_recorded_sidecar_is_shown_without_a_machine_path():
    names = sorted(p.name for p in RESULTS.glob("*.json"))
    assert "sample_study.json" in names
    for name in names:
        text = json.dumps(recorded_meta(name))
        assert ABSOLUTE.search(text) is None, (name, ABSOLUTE.search(text).group(0))
        # the committed record itself holds none either (the experiments write it through shown)
        assert ABSOLUTE.search((RESULTS / name).read_text()) is None, name
    # the check can fail: a record as the scripts wrote it before holds one
    assert ABSOLUTE.search('"command": "python x.py --cache-dir /tmp/study_cache"') is not None


def test_the_recording_scripts_write_through_shown():
    """Every script that writes a record into results/ masks paths with lotsbook.paths.shown,
    not with a mask of its own."""
    from lotsbook.paths import EXPERIMENTS

    for name in ("book_time.py", "sample_study.py", "lots_equivalence.py"):
        src = (EXPERIMENTS / name).read_text()
        assert "from lotsbook.paths import shown" in src and "shown(json.dumps(" in src, name


def test_recorded_commands_name_the_current_folders():
    """The recorded commands run as written today: the scripts are in experiments/, the
    records in results/, the book is ``python -m lotsbook`` (not benchmarks/, data/,
    lotslib.book, the names before the split)."""
    stale = re.compile(r"(?<![\w./-])(?:benchmarks|data)/|-m lotslib\.book\b")
    for p in sorted(RESULTS.glob("*.json")):
        command = json.loads(p.read_text()).get("command", "")
        assert stale.search(command) is None, (p.name, command)
    assert stale.search("python benchmarks/x.py --out data/x.csv") is not None  # the check can fail
    assert stale.search("python -m lotslib.book --profile classroom") is not None
