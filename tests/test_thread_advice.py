"""The builder's thread advice: a chapter kernel left alone takes the idle cores between LOTS chunks."""
import torch
from helpers import TinyLinear

from lotsbook.build import advise_threads
from lotsbook.chapter import read_thread_advice
from lotslib import perf
from lotslib.attack import lots


def test_the_advice_divides_the_cores_among_the_running_kernels(tmp_path):
    f = tmp_path / "threads"
    assert advise_threads(f, running=2, cores=2) == 1 and read_thread_advice(f) == 1
    assert advise_threads(f, running=1, cores=2) == 2 and read_thread_advice(f) == 2
    assert advise_threads(f, running=0, cores=4) == 4
    assert advise_threads(f, running=3, cores=2) == 1
    f.write_text("garbage")
    assert read_thread_advice(f) is None and read_thread_advice(tmp_path / "missing") is None


def test_lots_follows_the_advisor_between_chunks():
    before = torch.get_num_threads()
    asked = []

    def advisor():
        asked.append(1)
        return 1 if len(asked) % 2 else 2

    try:
        perf.set_thread_advisor(advisor)
        x = torch.rand(3, 3, 4, 4, generator=torch.Generator().manual_seed(0))
        lots(TinyLinear(), x, iters=2, batch_size=1)
        assert len(asked) == 3  # once per chunk
        assert torch.get_num_threads() == 1
        perf.set_thread_advisor(lambda: 1 / 0)  # a failing advisor changes nothing
        assert perf.follow_thread_advisor() is None and torch.get_num_threads() == 1
        perf.set_thread_advisor(lambda: None)
        assert perf.follow_thread_advisor() is None
    finally:
        perf.set_thread_advisor(None)
        torch.set_num_threads(before)
    assert perf.follow_thread_advisor() is None
