# PyTorch Primer. The two commands are `make serve` and `make test`; each sets up .venv first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Reinstall when the declared dependencies or their pins change.
INSTALLED := $(VENV)/.installed
# Material 9.8 prints a banner about MkDocs 2 on every run.
export NO_MKDOCS_2_WARNING := 1

.PHONY: help setup serve test build bench screenshots clean distclean lock

help:
	@echo "make serve   set up .venv, then serve the site with live reload on http://127.0.0.1:8000"
	@echo "make test    set up .venv, then run every page's blocks, the unit tests and a strict build"
	@echo "make build   strict build of the site into site/"
	@echo "make bench   time the suite, each page, the build and the heaviest page; writes bench/results.md"
	@echo "make screenshots  retake docs/assets/tensorboard-scalars.png (real runs, real server, headless Chromium)"
	@echo "make lock    re-pin constraints.txt to what .venv holds (after changing pyproject.toml)"
	@echo "make clean   remove site/ and caches (make distclean also removes .venv)"

setup: $(INSTALLED)

$(INSTALLED): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --constraint constraints.txt --editable '.[dev]'
	$(BIN)/python -m pip check
	touch $@

serve: $(INSTALLED)
	$(BIN)/mkdocs serve --dev-addr 127.0.0.1:8000

test: $(INSTALLED)
	$(BIN)/python -m pytest -n auto

build: $(INSTALLED)
	$(BIN)/mkdocs build --strict --site-dir site

bench: $(INSTALLED)
	$(BIN)/python bench/run.py

screenshots: $(INSTALLED)
	$(BIN)/python scripts/screenshot_tensorboard.py

lock: $(INSTALLED)
	{ echo "# Exact versions of everything installed in .venv, written by 'make lock'. The pins that change what"; \
	  echo "# a page prints or how it renders: torch, numpy, mkdocs*, pymdown-extensions, sybil, pytest, matplotlib."; \
	  $(BIN)/python -m pip freeze --exclude-editable | sort --ignore-case; } > constraints.txt
	touch $(INSTALLED)

clean:
	rm -rf site .pytest_cache .cache
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
