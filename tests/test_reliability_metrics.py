"""Reliability, :mod:`lotslib.metrics`: bad maps and too many steps are rejected
before any compute, with the exact error class and a message naming the culprit and the fix.

Split from the former ``test_reliability.py``.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import check_error, tinyrel

from lotslib.errors import InputRangeError, ParameterError
from lotslib.metrics import coherency_details, confidence_change, insertion_deletion

pytestmark = pytest.mark.usefixtures("one_thread")


# ====================================================================== metrics
def test_insertion_deletion_steps_above_pixels_rejected_before_compute():
    net = tinyrel()
    x, m = torch.rand(1, 3, 8, 8), torch.rand(1, 8, 8)
    with pytest.raises(ParameterError) as e:
        insertion_deletion(net, x, m, [0], steps=65)
    check_error(e, ParameterError, "steps=65", "64 pixels", "Fix")
    assert net.calls == 0
    r = insertion_deletion(net, x, m, [0], steps=64, batch_size=65)  # exactly one pixel per step is fine
    assert r.insertion_curves.shape == (1, 65) and np.isfinite(r.insertion).all()


@pytest.mark.parametrize(
    "maps,needles",
    [
        (torch.full((1, 32, 32), float("nan")), ["NaN", "Fix"]),
        (torch.full((1, 32, 32), 1.5), ["outside [0,1]", "minmax"]),
        (torch.rand(1, 16, 16), ["(1, 32, 32)"]),
    ],
)
def test_metrics_reject_bad_maps_before_compute(maps, needles):
    net = tinyrel()
    for fn in (confidence_change, insertion_deletion):
        with pytest.raises(InputRangeError) as e:
            fn(net, torch.rand(1, 3, 32, 32), maps, [0])
        check_error(e, InputRangeError, *needles)
    with pytest.raises(InputRangeError):
        coherency_details("gradcam", net, torch.rand(1, 3, 32, 32), maps, [0])
    assert net.calls == 0
