"""Entry point of `make book` (placeholder until the chapters land)."""
import sys

if __name__ == "__main__":
    sys.exit("lotslib.book: the chapters are not written yet; set-up finished. Run `make test` for the test suite.")
