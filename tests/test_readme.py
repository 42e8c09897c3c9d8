"""The README: its "Your own model" examples run as written, and its module table lists every module."""
from __future__ import annotations

import re
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


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


def test_the_package_table_lists_every_module_of_both_packages():
    """Every module of lotslib and lotsbook has a row in the README's module table, and no row
    names a module that does not exist."""
    text = (ROOT / "README.md").read_text()
    rows = set(re.findall(r"^\| `((?:lotslib|lotsbook)[\w.]*)` \|", text, re.M))
    modules = set()
    for base in (ROOT / "lotslib", ROOT / "book" / "lotsbook"):
        for p in base.rglob("*.py"):
            parts = p.relative_to(base.parent).with_suffix("").parts
            modules.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    assert "lotslib.attack" in modules and "lotsbook.pages.own" in modules
    assert sorted(modules - rows) == [] and sorted(rows - modules) == []
