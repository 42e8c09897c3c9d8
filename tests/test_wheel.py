"""lotslib installs and works on its own, outside the repository and without the book.

``pip wheel .`` builds a wheel of the library alone; it is installed into a fresh virtual
environment in a temporary folder, which reuses this environment's installed dependencies
(torch, pytorch-grad-cam, ...) through a path file instead of downloading them. A script run
from a temporary working directory, where no checkout is importable, then wraps a small
randomly initialised torchvision classifier, explains a photo with ``lotslib.explain``,
runs ``lotslib.benchmark.run`` on it, and reads the thesis's tables from the package data.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent("""
    import importlib.util, json, sys
    import torch, torchvision
    import lotslib
    from lotslib import benchmark, data
    from lotslib.benchmark import reference_tables

    torch.manual_seed(0)
    net = torchvision.models.resnet18(weights=None).eval()  # random weights: nothing is downloaded
    model = lotslib.wrap(net, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225), input_size=64,
                         cam_layer="layer4", name="resnet18-random")
    x = model.preprocess(data.photo("chelsea").image)[None]
    maps = {m: lotslib.explain(m, model, x, **({"iters": 3} if m == "lots" else {}))
            for m in ("gradcam", "lots")}
    rows = benchmark.run([model], ["gradcam", "lots"], data.embedded("imagenet").head(2),
                         params={"lots": {"iters": 3}, "metrics": {"steps": 4}}, cache_dir="bench",
                         batch_size=2, progress=False)
    print(json.dumps({
        "lotslib_file": lotslib.__file__,
        "lotsbook_importable": importlib.util.find_spec("lotsbook") is not None,
        "shapes": {m: list(v.shape) for m, v in maps.items()},
        "ranges": {m: [float(v.min()), float(v.max())] for m, v in maps.items()},
        "thesis_rows": len(reference_tables()),
        "rows": len(rows),
        "methods": sorted(set(rows["method"])),
        "finite": bool(rows[["avg_drop", "coherency"]].notna().all().all()),
    }))
""")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    # the project's files, copied: setuptools writes build/ and *.egg-info beside the sources
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "lotslib", src / "lotslib", ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation",
                           "--no-index", "-q", "-w", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    wheels = sorted(out.glob("lotslib-*.whl"))
    assert len(wheels) == 1, list(out.iterdir())
    return wheels[0]


def test_the_wheel_holds_the_library_and_its_data_and_not_the_book(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "lotslib/resources/thesis_tables.csv" in names
    assert "lotslib/attack.py" in names and "lotslib/benchmark/runner.py" in names
    assert not [n for n in names if n.startswith(("lotsbook/", "tests/", "notebooks/", "book/"))]


def test_the_installed_wheel_explains_and_benchmarks_outside_the_repository(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    purelib = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  capture_output=True, text=True, check=True).stdout.strip())
    # install: this environment's pip, targeting the new environment's site-packages
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q",
                           "--target", str(purelib), str(wheel)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # reuse the installed dependencies: a plain path line (the .pth files of that folder, the
    # editable installs of this checkout among them, are not processed)
    (purelib / "zz_reuse_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    work = tmp_path / "elsewhere"
    work.mkdir()
    proc = subprocess.run([str(py), "-c", SCRIPT], cwd=work, capture_output=True, text=True, timeout=600,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LOTSLIB_CACHE": str(work / "cache"),
                               "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert Path(out["lotslib_file"]).is_relative_to(purelib)  # the wheel, not the checkout
    assert out["lotsbook_importable"] is False
    assert out["shapes"] == {"gradcam": [1, 64, 64], "lots": [1, 64, 64]}
    assert all(0.0 <= lo <= hi <= 1.0 for lo, hi in out["ranges"].values())
    assert out["thesis_rows"] > 0
    assert out["rows"] == 4 and out["methods"] == ["gradcam", "lots"] and out["finite"]
