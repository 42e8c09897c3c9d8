"""Bad input to `lots explain`, each case with its exit code and expected message, and every file
under the test folder byte for byte the same afterwards; --weights none; the full-size overlay cap."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from helpers import noise_image
from PIL import Image
from torch import nn

from lotslib.cli import main
from test_bad_input_library import png_header

pytestmark = pytest.mark.usefixtures("one_thread")


def tree(d: Path) -> dict:
    return {p.relative_to(d).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(d.rglob("*")) if p.is_file()}


def _ckpt(t: Path, what: str) -> Path:
    p = t / f"{what.replace(' ', '_')}.pth"
    if what == "text":
        p.write_text("not a checkpoint")
    elif what == "another model":
        torch.save(nn.Linear(4, 2).state_dict(), p)
    elif what == "whole model":
        torch.save(nn.Linear(2, 2), p)
    return p


#: case -> (extra arguments, exit code, every string the one error line holds)
CASES = {
    "a 900 MP image": (lambda t: [str(t / "bomb.png")], 2,
                       ["900,000,000 pixels", "400 megapixels", "Fix"]),
    "a 500 MP image": (lambda t: [str(t / "bomb500.png")], 2, ["500,000,000 pixels", "400,000,000"]),
    "unknown model": (lambda t: ["--model", "vgg"], 2, ["Unknown model 'vgg'", "torchvision:<name>", "timm:<name>"]),
    "text as weights": (lambda t: ["--model", "torchvision:resnet18", "--weights", str(_ckpt(t, "text"))], 2,
                        ["text.pth is not a usable checkpoint of ResNet", "not a file torch.save wrote"]),
    "weights of another model": (lambda t: ["--model", "torchvision:resnet18", "--weights",
                                            str(_ckpt(t, "another model"))], 2,
                                 ["missing keys (122): conv1.weight, bn1.weight", "unexpected keys (2): weight, bias"]),
    "a pickled whole model": (lambda t: ["--model", "torchvision:resnet18", "--weights",
                                         str(_ckpt(t, "whole model"))], 2, ["pickled Python objects"]),
    "iters 0": (lambda t: ["--iters", "0"], 2, ["--iters", "Fix"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_exits_with_its_message_and_changes_no_file(case, tmp_path, capsys):
    noise_image(tmp_path / "pic.png", size=(64, 64), seed=1)
    png_header(tmp_path / "bomb.png", 30_000, 30_000)
    png_header(tmp_path / "bomb500.png", 25_000, 20_000)
    make, code, says = CASES[case]
    extra = make(tmp_path)
    images = [a for a in extra if a.endswith(".png")] or [str(tmp_path / "pic.png")]
    options = [a for a in extra if not a.endswith(".png")]
    out = tmp_path / "maps"
    (out).mkdir()
    noise_image(out / "earlier.png", size=(32, 32), seed=3)  # a file already in --out stays as it is
    before = tree(tmp_path)
    assert main(["explain", *images, "--method", "gradcam", "--out", str(out), *options]) == code
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    for s in says:
        assert s in lines[0], (s, lines[0])
    assert "weights_only=False" not in err and "\x1b" not in err
    assert tree(tmp_path) == before


def test_weights_none_is_random_weights_and_a_state_dict_checkpoint_loads(tmp_path, capsys):
    noise_image(tmp_path / "pic.png", size=(64, 64), seed=1)
    assert main(["explain", str(tmp_path / "pic.png"), "--model", "torchvision:resnet18", "--weights", "none",
                 "--method", "gradcam", "--out", str(tmp_path / "o")]) == 0
    torch.manual_seed(0)
    state = {f"module.{k}": v for k, v in torchvision.models.resnet18(weights=None).state_dict().items()}
    torch.save({"state_dict": state, "epoch": 1}, tmp_path / "ddp.pth")
    assert main(["explain", str(tmp_path / "pic.png"), "--model", "torchvision:resnet18", "--weights",
                 str(tmp_path / "ddp.pth"), "--method", "gradcam", "--out", str(tmp_path / "o2")]) == 0
    assert np.load(tmp_path / "o2" / "pic_gradcam.npy").shape == (224, 224)


def test_a_photo_above_the_full_size_cap_is_reported(tmp_path, capsys):
    from lotslib.cli import FULL_MAX_SIDE

    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (40, 4400, 3), dtype=np.uint8)).save(tmp_path / "wide.png")
    noise_image(tmp_path / "small.png", size=(64, 48), seed=2)
    out = tmp_path / "o"
    assert main(["explain", str(tmp_path / "wide.png"), str(tmp_path / "small.png"), "--method", "gradcam",
                 "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert f"wide.png is 4400x40 pixels; its _full.png maps are {FULL_MAX_SIDE}x37" in text
    assert text.count("note:") == 1  # the small photo is written at its own size, without a note
    assert Image.open(out / "wide_gradcam_full.png").size == (FULL_MAX_SIDE, 37)
    assert Image.open(out / "small_gradcam_full.png").size == (64, 48)


def test_the_lots_progress_bar_on_a_terminal_changes_no_map(tmp_path, capsys, monkeypatch):
    """On a terminal a tqdm bar counts the LOTS steps; the map is the one a log run writes."""
    import sys

    noise_image(tmp_path / "pic.png", size=(64, 64), seed=1)
    assert main(["explain", str(tmp_path / "pic.png"), "--iters", "3", "--out", str(tmp_path / "log")]) == 0
    assert "step" not in capsys.readouterr().err
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    assert main(["explain", str(tmp_path / "pic.png"), "--iters", "3", "--out", str(tmp_path / "tty")]) == 0
    assert "lots" in capsys.readouterr().err  # the bar's description
    assert np.array_equal(np.load(tmp_path / "log" / "pic_lots.npy"), np.load(tmp_path / "tty" / "pic_lots.npy"))
