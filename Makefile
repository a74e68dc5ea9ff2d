# Two commands set up a fresh machine: `make test` and `make demo`. Each creates .venv when missing and installs the
# package editable with its dev extras; nothing but python3 and make is assumed.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.fpt_kit-installed
export HF_HUB_OFFLINE := 1
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: test lint demo lab export check-export clean-venv browser-test docs

DOCS_STAMP := $(VENV)/.fpt_kit-docs-installed

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

$(DOCS_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q -e '.[dev,docs]'
	@touch $(DOCS_STAMP)

## Run the whole test suite: the linter, generated code in sync with nbs/, then tests/ and every notebook under pytest
## (tests/test_docs.py builds a small docs site, so the docs extras are installed too)
test: $(STAMP) $(DOCS_STAMP) lint check-export
	$(BIN)/python -m pytest tests

## The docs site in _docs/, offline: every notebook executed into build/docs/ (not in place), Sphinx + myst-nb, an API
## page per module; docs/README.md says how and why. DOCS_JOBS=1 runs one notebook at a time (default 2)
docs: $(DOCS_STAMP)
	$(BIN)/python docs/build.py --jobs $${DOCS_JOBS:-2}

## ruff on the generated library and the tests (settings in pyproject.toml [tool.ruff]); fix findings in the notebooks
lint: $(STAMP)
	$(BIN)/ruff check

## Fail when fpt_kit/ differs from what nbdev-export makes of nbs/ (changes nothing in the working tree)
check-export: $(STAMP)
	@$(BIN)/python tests/check_export.py

## Write fpt_kit/ from the notebooks
export: $(STAMP)
	$(BIN)/nbdev-export

## The main job: train and compare methods on the synthetic fine-grained data, write runs/demo/report.html
demo: $(STAMP)
	$(BIN)/fpt-kit demo

## Real-browser test of the walkthrough's widgets: JupyterLab + Debian's headless Chromium (apt-get install chromium
## chromium-driver first) driven by npm playwright-core; writes tests/browser/out/widget.png
browser-test: $(STAMP)
	cd tests/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
	bash tests/browser/run.sh

## JupyterLab on the notebooks
lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=nbs

clean-venv:
	rm -rf $(VENV)

## Write README.md from nbs/index.ipynb (the front page; README.md is never edited by hand)
readme:
	python3 tools/readme.py

## Real-browser test of the docs site (after `make docs`): navigation to the FrozenBackbone API page and the walkthrough,
## a drawn plotly figure, rendered maths, search; fails on any console error or request leaving 127.0.0.1. Screenshots
## in tests/browser/out/docs-*.png
docs-browser-test: $(STAMP)
	cd tests/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
	bash tests/browser/docs.sh
