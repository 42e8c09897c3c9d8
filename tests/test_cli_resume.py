"""`lots explain` can be trusted on a rerun: the output folder's manifest (:mod:`lotslib.manifest`)
keys every file by image, model, weights, method and parameters; every check comes before the
model loads; a bad file is skipped, Ctrl-C keeps what is finished."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import noise_image, truncate_file

import lotslib.cli as cli
import lotslib.models
from lotslib.cli import main
from lotslib.manifest import MANIFEST_NAME

pytestmark = pytest.mark.usefixtures("one_thread")


def tree(d: Path) -> dict:
    """Every file under ``d`` with the hash of its bytes (what "nothing written" compares)."""
    return {p.relative_to(d).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(d.rglob("*")) if p.is_file()}


def manifest(out: Path) -> dict:
    return json.loads((out / MANIFEST_NAME).read_text())


def map_of(out: Path, image: Path, method: str) -> np.ndarray:
    """The map of ``image`` in ``out``, found through the manifest's key (not through a file name)."""
    hits = [stem for stem, e in manifest(out)["entries"].items()
            if e["key"]["source"] == image.resolve().as_posix() and e["method"] == method and e["status"] == "done"]
    assert len(hits) == 1, hits
    return np.load(out / f"{hits[0]}.npy")


@pytest.fixture
def no_model(monkeypatch):
    """Fail the test if the model is loaded."""
    def refuse(*a, **k):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(lotslib.models, "load_model", refuse)


def only_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


def test_a_rerun_with_another_iters_refuses_and_never_keeps_the_old_map(tmp_path, capsys, monkeypatch):
    img = tmp_path / "pic.png"
    noise_image(img, size=(64, 64), seed=1)
    out = tmp_path / "out"
    assert main(["explain", str(img), "--iters", "2", "--out", str(out)]) == 0
    entry = manifest(out)["entries"]["pic_lots"]
    assert entry["status"] == "done" and entry["key"]["params"]["iters"] == 2  # the parameter is in the key
    assert entry["key"]["model"] == "efficientnet_lite0" and len(entry["key"]["weights"]["fingerprint"]) == 16
    assert entry["key"]["sha256"] == hashlib.sha256(img.read_bytes()).hexdigest()
    before = tree(tmp_path)
    capsys.readouterr()
    with monkeypatch.context() as m:
        m.setattr(lotslib.models, "load_model", lambda *a, **k: pytest.fail("the model was loaded"))
        assert main(["explain", str(img), "--iters", "3", "--out", str(out)]) == 2
    line = only_error_line(capsys.readouterr().err)
    assert "lots iters=2, not 3" in line and "lots explain" in line and "--overwrite" in line and "new --out" in line
    assert tree(tmp_path) == before  # nothing lost, nothing computed
    old = np.load(out / "pic_lots.npy")
    assert main(["explain", str(img), "--iters", "3", "--out", str(out), "--overwrite"]) == 0
    assert "kept existing" not in capsys.readouterr().out
    assert manifest(out)["entries"]["pic_lots"]["key"]["params"]["iters"] == 3
    assert not np.array_equal(np.load(out / "pic_lots.npy"), old)
    assert main(["explain", str(img), "--iters", "3", "--out", str(out)]) == 0
    assert "kept existing" in capsys.readouterr().out


def test_another_model_or_other_weights_are_refused_before_any_compute(tmp_path, capsys, monkeypatch):
    img = tmp_path / "pic.png"
    noise_image(img, size=(64, 64), seed=1)
    out = tmp_path / "out"
    assert main(["explain", str(img), "--method", "gradcam", "--out", str(out)]) == 0
    before = tree(tmp_path)
    capsys.readouterr()
    with monkeypatch.context() as m:
        m.setattr(lotslib.models, "load_model", lambda *a, **k: pytest.fail("the model was loaded"))
        assert main(["explain", str(img), "--method", "lots", "--model", "efficientnet_lite2", "--iters", "2",
                     "--out", str(out)]) == 2
    line = only_error_line(capsys.readouterr().err)
    assert "model 'efficientnet_lite0', not 'efficientnet_lite2'" in line and "--method gradcam" in line
    # the same model key with other weights (a changed weight file): refused after loading, before any map
    real = lotslib.models.weights_fingerprint
    monkeypatch.setattr(lotslib.models, "weights_fingerprint", lambda model: "0" * 16)
    assert main(["explain", str(img), "--method", "gradcam", "--out", str(out)]) == 2
    line = only_error_line(capsys.readouterr().err)
    assert f"fingerprint {real(lotslib.models.load_model('efficientnet_lite0'))!r}, not '{'0' * 16}'" in line
    assert tree(tmp_path) == before


def test_images_with_one_stem_get_their_own_outputs(tmp_path, capsys):
    """``a/img.png`` and ``b/img.png``; ``x.png`` and ``x.bmp`` in one folder: two outputs, each
    equal to its image's separate run."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "c").mkdir()
    a, b, xp, xb = (tmp_path / "a/img.png", tmp_path / "b/img.png", tmp_path / "c/x.png", tmp_path / "c/x.bmp")
    for i, p in enumerate((a, b, xp, xb)):
        noise_image(p, size=(64, 64), seed=10 + i)
    both = tmp_path / "both"
    assert main(["explain", str(a), str(b), str(tmp_path / "c"), "--method", "gradcam", "--out", str(both)]) == 0
    stems = sorted(manifest(both)["entries"])
    assert len(stems) == 4 and all(s.startswith(("img-", "x-")) for s in stems), stems
    for i, p in enumerate((a, b, xp, xb)):
        alone = tmp_path / f"alone{i}"
        assert main(["explain", str(p), "--method", "gradcam", "--out", str(alone)]) == 0
        assert np.array_equal(map_of(both, p, "gradcam"), np.load(alone / f"{p.stem}_gradcam.npy"))
        assert np.array_equal(map_of(both, p, "gradcam"), map_of(alone, p, "gradcam"))
    # a rerun of one of them alone into the shared folder keeps its own map, not the other's
    capsys.readouterr()
    assert main(["explain", str(b), "--method", "gradcam", "--out", str(both)]) == 0
    assert capsys.readouterr().out.count("kept existing") == 1
    assert len(manifest(both)["entries"]) == 4
    # an image already written as `img` keeps the name; another `img` gets a hashed one
    first = tmp_path / "first"
    assert main(["explain", str(a), "--method", "gradcam", "--out", str(first)]) == 0
    assert main(["explain", str(b), "--method", "gradcam", "--out", str(first)]) == 0
    assert np.array_equal(np.load(first / "img_gradcam.npy"), map_of(both, a, "gradcam"))
    assert np.array_equal(map_of(first, b, "gradcam"), map_of(both, b, "gradcam"))


def test_a_truncated_full_png_is_recomputed(tmp_path, capsys):
    img = tmp_path / "pic.png"
    noise_image(img, size=(64, 64), seed=1)
    out = tmp_path / "out"
    assert main(["explain", str(img), "--method", "gradcam", "--out", str(out)]) == 0
    full = out / "pic_gradcam_full.png"
    good = full.read_bytes()
    truncate_file(full, 0.6)
    capsys.readouterr()
    assert main(["explain", str(img), "--method", "gradcam", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "damaged result" in captured.err and "pic_gradcam_full.png" in captured.err
    assert "kept existing" not in captured.out and full.read_bytes() == good


def test_a_changed_image_is_recomputed(tmp_path, capsys):
    img = tmp_path / "pic.png"
    noise_image(img, size=(64, 64), seed=1)
    out = tmp_path / "out"
    assert main(["explain", str(img), "--method", "gradcam", "--out", str(out)]) == 0
    noise_image(img, size=(64, 64), seed=2)
    assert main(["explain", str(img), "--method", "gradcam", "--out", str(out)]) == 0
    assert "changed since the earlier run" in capsys.readouterr().out
    fresh = tmp_path / "fresh"
    assert main(["explain", str(img), "--method", "gradcam", "--out", str(fresh)]) == 0
    assert np.array_equal(np.load(out / "pic_gradcam.npy"), np.load(fresh / "pic_gradcam.npy"))


def _read_only(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    d = tmp_path / "ro"
    d.mkdir()
    d.chmod(0o555)
    return ["--out", str(d)]


def _out_holding(tmp_path, name, text):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / name).write_text(text)
    return ["--out", str(tmp_path / "out")]


PRECHECKS = {
    "iters 0": lambda t: ["--iters", "0"],
    "alpha nan": lambda t: ["--alpha", "nan"],
    "filter size 48": lambda t: ["--filter-size", "48"],
    "gradcam, then lots with iters 0": lambda t: ["--method", "gradcam", "--method", "lots", "--iters", "0"],
    "threads 0": lambda t: ["--threads", "0"],
    "cuda without a GPU": lambda t: ["--device", "cuda"],
    "no such device": lambda t: ["--device", "tpu9"],
    "unknown model": lambda t: ["--model", "vgg"],
    "out is a file": lambda t: ["--out", str(t / "pic.png")],
    "out below a file": lambda t: ["--out", str(t / "pic.png" / "maps")],
    "out read-only": _read_only,
    "out a folder no one writes into (/proc/self)": lambda t: ["--out", "/proc/self"],
    "a file the manifest does not record": lambda t: _out_holding(t, "pic_lots.npy", "x"),
    "a damaged manifest": lambda t: _out_holding(t, MANIFEST_NAME, "{"),
}


@pytest.mark.parametrize("case", list(PRECHECKS))
def test_every_check_comes_before_the_model_loads(case, tmp_path, capsys, monkeypatch, no_model):
    """Exit 2, one `error:` line naming the fix, nothing written, the model never loaded."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    noise_image(tmp_path / "pic.png", size=(64, 64), seed=1)
    extra = PRECHECKS[case](tmp_path)
    argv = ["explain", str(tmp_path / "pic.png"), "--out", str(tmp_path / "maps"), *extra]
    before = tree(tmp_path)
    assert main(argv) == 2
    line = only_error_line(capsys.readouterr().err)
    assert "Fix" in line, line
    assert tree(tmp_path) == before and not (tmp_path / "maps").exists()


def test_a_bad_file_in_a_folder_is_skipped_and_the_run_goes_on(tmp_path, capsys):
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    for i, name in enumerate(("a.png", "b.png", "c.png")):
        noise_image(imgs / name, size=(64, 64), seed=i)
    truncate_file(imgs / "b.png", 0.3)
    out = tmp_path / "out"
    assert main(["explain", str(imgs), "--method", "gradcam", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    summary = err.strip().splitlines()[-1]
    assert summary.startswith("error: 1 file(s) skipped") and "b.png" in summary and "a.png" not in summary
    entries = manifest(out)["entries"]
    assert sorted(entries) == ["a_gradcam", "c_gradcam"] and all(e["status"] == "done" for e in entries.values())
    assert (out / "c_gradcam.npy").is_file()


def test_ctrl_c_exits_130_and_keeps_the_finished_maps(tmp_path, capsys, monkeypatch):
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    for i, name in enumerate(("a.png", "b.png", "c.png")):
        noise_image(imgs / name, size=(64, 64), seed=i)
    out = tmp_path / "out"
    real, calls = cli._compute, []

    def compute(method, model, x, params):
        calls.append(method)
        if len(calls) == 2:  # the second image
            raise KeyboardInterrupt
        return real(method, model, x, params)

    monkeypatch.setattr(cli, "_compute", compute)
    assert main(["explain", str(imgs), "--method", "gradcam", "--out", str(out)]) == 130
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "1 map(s) finished" in err and "Traceback" not in err
    entries = manifest(out)["entries"]
    assert entries["a_gradcam"]["status"] == "done" and entries["b_gradcam"]["status"] == "pending"
    kept = tree(out)["a_gradcam.npy"]
    monkeypatch.setattr(cli, "_compute", real)
    assert main(["explain", str(imgs), "--method", "gradcam", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert text.count("kept existing") == 1 and text.count("wrote") == 2
    assert tree(out)["a_gradcam.npy"] == kept
