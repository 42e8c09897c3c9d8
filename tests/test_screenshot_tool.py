"""scripts/book_screenshots.py: every page of the table of contents, a clear error without a build."""
import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "book_screenshots.py"


def _module():
    spec = importlib.util.spec_from_file_location("book_screenshots", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_it_covers_every_page_of_the_table_of_contents():
    pages = _module().toc_pages()
    assert pages[0] == "book/intro"
    for stem in ("01_attack", "07_parameters", "08_sanity", "own", "findings", "glossary", "references", "api",
                 "provenance"):
        assert f"book/{stem}" in pages, stem
    assert len(pages) == len(set(pages))


def test_a_missing_build_is_an_error_not_a_silent_pass(tmp_path):
    r = subprocess.run([sys.executable, str(SCRIPT), "--html", str(tmp_path / "nothing"), "--out", str(tmp_path)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "holds no built book" in r.stderr and "Fix:" in r.stderr
    r = subprocess.run([sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "--width" in r.stdout
