"""The README's "Your own model" examples run as written."""
from __future__ import annotations

import re
from pathlib import Path

import torch

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks(section: str) -> list[str]:
    text = README.read_text()
    start = text.index(f"## {section}")
    end = text.index("\n## ", start + 1)
    return re.findall(r"```python\n(.*?)```", text[start:end], flags=re.S)


def test_your_own_model_examples_run():
    blocks = _blocks("Your own model")
    assert len(blocks) == 3  # torchvision, timm, a bare nn.Module
    for code in blocks:
        ns: dict = {}
        exec(compile(code, "README.md", "exec"), ns)  # noqa: S102 - the README's own example
        maps = ns["maps"]
        assert isinstance(maps, torch.Tensor) and maps.dim() == 3 and float(maps.min()) >= 0 and float(maps.max()) <= 1
