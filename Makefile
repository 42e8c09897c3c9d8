# The two commands of the README:
#   make book  -- set up .venv (pinned dependencies) and build the book on the embedded default
#   make test  -- the same set-up, then the whole test suite
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.lotslib-installed

.PHONY: setup book test lint browser mathjax clean

setup: $(STAMP)

$(STAMP): pyproject.toml book/pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade --quiet pip
	# torch==2.14.1 / torchvision==0.29.1 are taken from local disk where present (PyPI's
	# torchvision does not import beside the 2.13 CPU wheel); see README.
	$(PY) -m pip install --quiet -e '.[book,test]'
	# the book's own package (book/lotsbook), beside the library it explains
	$(PY) -m pip install --quiet --no-deps -e book
	@touch $(STAMP)

browser:
	@bash scripts/ensure_chromium.sh

# MathJax for the book, served from book/_static (no CDN); fetched once from the npm registry
mathjax:
	@bash scripts/fetch_mathjax.sh

book: setup mathjax
	$(PY) -m lotsbook

lint: setup
	$(VENV)/bin/ruff check .

test: setup browser mathjax lint
	$(PY) -m pytest -q

clean:
	rm -rf _build .cache
