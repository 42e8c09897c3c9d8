"""`lots --help` is fast (no torch imported); its method list and LOTS defaults, written out for
that, equal the registry's; `lots models` names the torchvision: and timm: prefixes."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import sys, time
t0 = time.perf_counter()
from lotslib.cli import main
try:
    main([{args}])
except SystemExit as exc:
    code = exc.code
print("TORCH", "torch" in sys.modules, "CODE", code, "SECONDS", round(time.perf_counter() - t0, 3))
"""


@pytest.mark.parametrize("args", ["'--help'", "'explain', '--help'"])
def test_help_answers_without_torch(args):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", PROBE.format(args=args)], capture_output=True, text=True, env=env,
                         cwd=ROOT, timeout=60)
    wall = time.perf_counter() - t0
    last = out.stdout.strip().splitlines()[-1]
    assert "TORCH False CODE 0" in last, out.stdout + out.stderr
    assert "usage: lots" in out.stdout
    assert wall < 3, f"lots {args} took {wall:.2f} s"  # generous: it answers in well under 1 s


def test_the_help_texts_method_keys_and_defaults_are_the_registrys():
    import lotslib.cli as cli
    from lotslib.method_registry import METHODS, default_params

    assert cli._METHOD_KEYS == tuple(METHODS)
    assert cli._LOTS_DEFAULTS == {k: default_params("lots")[k] for k in cli._LOTS_OPTIONS}


def test_lots_models_names_the_prefixes(capsys):
    from lotslib.cli import main

    assert main(["models"]) == 0
    text = capsys.readouterr().out
    assert "efficientnet_lite0" in text and "torchvision:<name>" in text and "timm:<name>" in text
