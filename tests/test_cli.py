"""The `lots` command line on the user's own images."""
import numpy as np
from PIL import Image

from lotslib.cli import main


def test_cli_explains_a_folder_and_resumes(tmp_path, capsys):
    from lotslib.data import photo

    imgs = tmp_path / "imgs"
    imgs.mkdir()
    arr = (photo("coffee").image.permute(1, 2, 0).numpy() * 255).astype("uint8")
    Image.fromarray(arr).save(imgs / "coffee.jpg")
    out = tmp_path / "out"
    rc = main(["explain", str(imgs), "--method", "lots", "--method", "gradcam", "--iters", "3", "--out", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "coffee: top-1 'espresso'" in text
    for m in ("lots", "gradcam"):
        a = np.load(out / f"coffee_{m}.npy")
        assert a.shape == (224, 224) and 0 <= a.min() and a.max() <= 1 and a.max() > 0
        assert Image.open(out / f"coffee_{m}.png").size == (224, 224)
    before = (out / "coffee_lots.npy").stat().st_mtime_ns
    assert main(["explain", str(imgs / "coffee.jpg"), "--iters", "3", "--out", str(out)]) == 0
    assert "kept existing" in capsys.readouterr().out
    assert (out / "coffee_lots.npy").stat().st_mtime_ns == before


def test_cli_errors_are_clear(tmp_path, capsys):
    assert main(["explain", str(tmp_path / "nope.jpg"), "--out", str(tmp_path)]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "bad.jpg").write_text("not an image")
    assert main(["explain", str(tmp_path / "bad.jpg"), "--out", str(tmp_path / "o")]) == 2
    assert "not a readable image" in capsys.readouterr().err
    assert main(["explain", str(tmp_path / "bad.jpg"), "--model", "vgg", "--out", str(tmp_path / "o")]) == 2
    assert "Known models" in capsys.readouterr().err
    assert main(["models"]) == 0
    assert "efficientnet_lite0" in capsys.readouterr().out


def test_cli_takes_a_local_checkpoint_and_a_cam_layer(tmp_path, capsys):
    """--model torchvision:resnet18 --weights PATH (a state dict saved here from random init), --cam-layer NAME."""
    import torch
    import torchvision

    from lotslib.data import photo

    torch.manual_seed(0)
    ckpt = tmp_path / "resnet18-random.pth"
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), ckpt)
    arr = (photo("coffee").image.permute(1, 2, 0).numpy() * 255).astype("uint8")
    Image.fromarray(arr).save(tmp_path / "coffee.jpg")
    out = tmp_path / "out"
    argv = ["explain", str(tmp_path / "coffee.jpg"), "--model", "torchvision:resnet18", "--weights", str(ckpt),
            "--cam-layer", "layer4", "--method", "gradcam", "--method", "lots", "--iters", "2", "--report",
            "--out", str(out)]
    assert main(argv) == 0
    m = np.load(out / "coffee_gradcam.npy")
    assert m.shape == (224, 224) and np.isfinite(m).all() and (out / "coffee_lots.npy").is_file()
    assert (out / "index.html").is_file()
    bad = argv[:6] + ["--cam-layer", "layer9", "--out", str(tmp_path / "o2")]
    assert main(bad) == 2
    assert "is not a submodule" in capsys.readouterr().err


def test_cli_full_size_overlay_and_report(tmp_path, capsys):
    """--report writes index.html (every image x method, top-1, LOTS stop); the full-size overlay
    has the photo's own size; the report opens in chromium with every image loaded."""
    from helpers import require_chromium
    from lotslib.data import photo

    imgs = tmp_path / "imgs"
    imgs.mkdir()
    arr = (photo("coffee").image.permute(1, 2, 0).numpy() * 255).astype("uint8")
    Image.fromarray(arr).save(imgs / "coffee.jpg")
    Image.fromarray(arr[:, : arr.shape[1] // 2]).save(imgs / "half.png")  # a portrait crop
    out = tmp_path / "out"
    assert main(["explain", str(imgs), "--method", "lots", "--method", "gradcam", "--iters", "2", "--report",
                 "--out", str(out)]) == 0
    for name, src in (("coffee", arr), ("half", arr[:, : arr.shape[1] // 2])):
        full = Image.open(out / f"{name}_gradcam_full.png")
        assert full.size == (src.shape[1], src.shape[0])
    page = (out / "index.html").read_text()
    assert page.count("<img") == 4 and "top-1: espresso" in page and "LOTS stop: max_iters, 2 steps" in page
    require_chromium()
    from playwright.sync_api import sync_playwright

    from lotsbook.pdf import CHROMIUM, CHROMIUM_ARGS, serve

    httpd = serve(out)
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
            pg = b.new_page()
            pg.goto(f"http://127.0.0.1:{httpd.server_address[1]}/index.html", wait_until="networkidle")
            loaded = pg.eval_on_selector_all("img", "els => els.map(e => e.complete && e.naturalWidth > 0)")
            b.close()
    finally:
        httpd.shutdown()
    assert loaded == [True] * 4


def test_cli_names_a_bad_weights_file(tmp_path, capsys):
    Image.fromarray(np.zeros((32, 32, 3), dtype="uint8")).save(tmp_path / "x.png")  # the images are checked first
    bad = tmp_path / "notes.pth"
    bad.write_text("not a checkpoint")
    assert main(["explain", str(tmp_path / "x.png"), "--weights", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "notes.pth is not a usable checkpoint" in err and "Traceback" not in err
