# PyTorch Primer. The two commands are `make serve` and `make test`; each sets up .venv first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Reinstall when the declared dependencies or their pins change.
INSTALLED := $(VENV)/.installed
# Material 9.8 prints a banner about MkDocs 2 on every run.
export NO_MKDOCS_2_WARNING := 1

.PHONY: help setup serve test lint build bench screenshots clean distclean lock

help:
	@echo "make serve   set up .venv, then serve the site with live reload on http://127.0.0.1:8000"
	@echo "make test    set up .venv, lint, then run every page's blocks, the unit tests and a strict build"
	@echo "make lint    ruff check and ruff format --check over the Python code"
	@echo "make build   strict build of the site into site/"
	@echo "make bench   time the suite, each page and the build; Lighthouse on every page; writes bench/results.md"
	@echo "make screenshots  retake docs/assets/tensorboard-scalars.png (real runs, real server, headless Chromium)"
	@echo "make lock    re-pin constraints.txt to what .venv holds (after changing pyproject.toml)"
	@echo "make clean   remove site/ and caches (make distclean also removes .venv)"
	@echo "make test-matrix  every page and the unit tests in each further environment of matrix/environments.toml"
	@echo "make update-outputs  rewrite the outputs the pages show to what their code prints now (review git diff)"

setup: $(INSTALLED)

$(INSTALLED): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --constraint constraints.txt --editable '.[dev]'
	$(BIN)/python -m pip check
	touch $@

serve: $(INSTALLED)
	$(BIN)/mkdocs serve --dev-addr 127.0.0.1:8000

# The Python code ruff checks and formats (settings in pyproject.toml).
LINTED := harness hooks snippets tests bench

test: lint
	$(BIN)/python -m pytest -n auto

lint: $(INSTALLED)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)

build: $(INSTALLED)
	$(BIN)/mkdocs build --strict --site-dir site

# Lighthouse comes from npm, pinned by bench/package-lock.json and installed into bench/node_modules (ignored
# by git); bench/lighthouse.py runs it with Debian's Chromium.
bench: $(INSTALLED) bench/node_modules/.installed
	$(BIN)/python bench/run.py

bench/node_modules/.installed: bench/package.json bench/package-lock.json
	cd bench && npm ci --no-audit --no-fund
	touch $@

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

# --- The matrix and update-outputs --------------------------------------------------------------------------
# matrix/environments.toml defines the further environments (harness/matrix.py reads it). Each has its own
# venv, .venv-matrix/<name>, installed from its own lock, matrix/<name>.txt, and its own targets:
# test-matrix-<name>, lock-matrix-<name>, update-outputs-<name>.
MATRIX = $(PYTHON) harness/matrix.py
MATRIX_ENVS = $(shell $(MATRIX) names)
MATRIX_VENVS := .venv-matrix

.PHONY: test-matrix lock-matrix update-outputs clean-matrix

# make distclean removes the matrix's venvs too.
distclean: clean-matrix
clean-matrix:
	rm -rf $(MATRIX_VENVS)

# Every environment is checked, even after one fails; the last line names those that failed.
test-matrix:
	@failed=""; for env in $(MATRIX_ENVS); do $(MAKE) --no-print-directory test-matrix-$$env || failed="$$failed $$env"; \
	done; if [ -n "$$failed" ]; then echo "make test-matrix failed in:$$failed"; exit 1; fi

# The tests that need the built site or a browser are left out (harness/matrix.py): make test runs them.
test-matrix-%: $(MATRIX_VENVS)/%/.installed
	PRIMER_ENVIRONMENT=$* $(MATRIX_VENVS)/$*/bin/python -m pytest -n auto -p harness.matrix

# A new venv for environment $*, with the repository on its path as the editable install puts it on .venv's
# (the project itself is not installed there: it requires the main environment's torch), holding only its
# torch where that comes from an index of its own: named for torch alone, since pip would ask every index
# named for every package (a slow failure where it cannot be reached: pip retries each request five times).
define matrix_venv
rm -rf $(MATRIX_VENVS)/$*
python=$$($(MATRIX) python $*) && "$$python" -m venv $(MATRIX_VENVS)/$*
echo "$(CURDIR)" > "$$($(MATRIX_VENVS)/$*/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')/primer-repository.pth"
index=$$($(MATRIX) torch-index $*); if [ -n "$$index" ]; then \
  $(MATRIX_VENVS)/$*/bin/python -m pip install --quiet --no-deps --index-url "$$index" "$$($(MATRIX) torch $*)"; fi
endef

# Kept once made: make deletes a file that only a chain of pattern rules made, and would reinstall each time.
.PRECIOUS: $(MATRIX_VENVS)/%/.installed
$(MATRIX_VENVS)/%/.installed: matrix/%.txt
	$(matrix_venv)
	$(MATRIX_VENVS)/$*/bin/python -m pip install --quiet --requirement matrix/$*.txt
	$(MATRIX_VENVS)/$*/bin/python -m pip check
	touch $@

# Re-pin each environment (after changing pyproject.toml, constraints.txt or matrix/environments.toml).
lock-matrix:
	for env in $(MATRIX_ENVS); do $(MAKE) --no-print-directory lock-matrix-$$env || exit 1; done

lock-matrix-%:
	$(matrix_venv)
	$(MATRIX) lock-inputs $* $(MATRIX_VENVS)/$*/lock-inputs
	$(MATRIX_VENVS)/$*/bin/python -m pip install --quiet --constraint $(MATRIX_VENVS)/$*/lock-inputs/constraints.txt \
	  --requirement $(MATRIX_VENVS)/$*/lock-inputs/requirements.txt
	$(MATRIX_VENVS)/$*/bin/python -m pip check
	{ echo "# Exact versions of everything installed in $(MATRIX_VENVS)/$*, written by 'make lock-matrix' from"; \
	  echo "# pyproject.toml's ranges, constraints.txt's pins and matrix/environments.toml's torch."; \
	  $(MATRIX_VENVS)/$*/bin/python -m pip freeze | sort --ignore-case; } > matrix/$*.txt
	touch $(MATRIX_VENVS)/$*/.installed

# Rewrite every output a page shows that differs from what its code prints here (harness/update.py);
# update-outputs-<name> does it in a further environment, for the content tabs that show that one.
update-outputs: $(INSTALLED)
	$(BIN)/python -m harness.update

update-outputs-%: $(MATRIX_VENVS)/%/.installed
	PRIMER_ENVIRONMENT=$* $(MATRIX_VENVS)/$*/bin/python -m harness.update
