# The two commands of the README: `make book` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PROFILE ?= cpu
PYTEST_ARGS ?=

.PHONY: book test env data html clean-book bench lint format check-html

env: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements/constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first, from the registry (a CUDA build that also runs on CPU), so nothing else pulls another torch
	$(PY) -m pip install -q -c requirements/constraints.txt torch==2.15.0 torchvision==0.29.2
	$(PY) -m pip install -q -c requirements/constraints.txt -e ".[dev]"
	touch $@

# Every file the chapters read, verified: from the mirror named by NEURO_LIB_DATA if set, else the cache, else the
# public sources (DATA_SOURCE=mirror|upstream|auto). Exits non-zero naming each file it could not get, so `make book`
# stops here rather than inside a notebook.
DATA_SOURCE ?= auto
data: env
	$(PY) -m neuro_lib.datasets fetch-all --source $(DATA_SOURCE)

book: env data
	$(PY) -m neuro_lib.book all --profile $(PROFILE)

html: env
	$(PY) -m neuro_lib.book table
	$(PY) -m neuro_lib.book build

# Two runs: the suite without the gpu_profile tests (one session, so the session-wide smoke book is built once), then
# the gpu_profile tests on 2 workers (pytest-xdist: two pages at a time on CI's 2 cores), one test file per worker
# (--dist loadfile), so that a chapter's later pages read its earlier pages' networks from the cache as in a build.
# (Not --dist loadgroup: with pytest 9.2 and pytest-xdist 3.8 it silently stops grouping, pytest-xdist issue #1386.)
# A run that selects no test (exit status 5, e.g. PYTEST_ARGS naming one file) is not a failure.
test: env
	$(PY) -m pytest -m "not gpu_profile" $(PYTEST_ARGS) || [ $$? -eq 5 ]
	$(PY) -m pytest -m gpu_profile -n 2 --dist loadfile $(PYTEST_ARGS) || [ $$? -eq 5 ]

# ruff's rules in pyproject.toml (why no formatter: see there)
lint: env
	$(VENV)/bin/ruff check neuro_lib book tests bench

format: env
	$(VENV)/bin/ruff check --fix neuro_lib book tests bench

# every rendered page opened in headless Chromium (Debian: apt-get install -y chromium); screenshots for people
check-html: env
	$(PY) -m neuro_lib.bookcheck _build/html --screenshots _build/screenshots --shot book/index.html

bench: env
	@for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean-book:
	rm -rf _build book/*/*.ipynb book/_generated
