# Every target runs inside the project's virtualenv (.venv), created on first use.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup system-deps demo check test lint typecheck generate check-generated refresh wheels bench mutation clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

## setup: create .venv and install fal-typed with every development dependency
setup: $(STAMP)

## system-deps: the non-Python parts some tests run for real (Debian packages, npm packages),
##              installed when missing; CI runs it before `make check` (needs root or sudo)
system-deps:
	scripts/system-deps.sh

## demo: set up, start the local fal server and run a real flux_dev.subscribe against it
demo: $(STAMP)
	$(PY) examples/quickstart.py

## check: everything CI checks: lint, types, then the whole test suite (which includes the
##        staleness check of generated/)
check: lint typecheck test

## test: run the whole test suite
test: $(STAMP)
	$(PY) -m pytest -n auto --dist loadfile

## lint: ruff lint and format check
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

## typecheck: basedpyright (strict) on the runtime and all of generated/, mypy (strict) on both
##            (generated/ alone takes minutes and ~4 GB for basedpyright)
typecheck: $(STAMP)
	$(VENV)/bin/basedpyright
	$(VENV)/bin/mypy src/fal_typed
	$(VENV)/bin/mypy -p fal_endpoints

## generate: regenerate generated/ from schemas/ (only changed modules), printing what changed,
##           and the Platform API client (src/fal_typed/platform/_generated/)
generate: $(STAMP)
	$(VENV)/bin/fal-typed generate
	$(PY) -m codegen.platform

## check-generated: regenerate every module into a temp dir; fail if generated/ (or the
##                  Platform API client) is stale
check-generated: $(STAMP)
	$(PY) -m codegen --check
	$(PY) -m codegen.platform --check

## refresh: fetch fal's whole catalog into schemas/ (needs fal.ai), then generate; see git diff
refresh: $(STAMP)
	$(VENV)/bin/fal-typed fetch --all
	$(VENV)/bin/fal-typed generate

## wheels: build the fal-typed runtime wheel, one wheel per endpoint and the fal-endpoints umbrella
##         into dist/wheels (ENDPOINTS="fal-ai/flux/dev ..." builds only those, without the umbrella)
wheels: $(STAMP)
	$(PY) -m wheels --out dist/wheels $(ENDPOINTS)

.PHONY: docs docs-serve

## docs: build the documentation site into site/ (strict: any warning fails): the guides of docs/,
##       a page per endpoint and the API reference, generated at build time (codegen/site/)
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict

## docs-serve: the site on http://127.0.0.1:8000, rebuilt on every change
docs-serve: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs serve --dev-addr 127.0.0.1:8000

## bench: print every benchmark's figures
bench: $(STAMP)
	for script in bench/bench_*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

## mutation: mutation testing (mutmut) of the modules that hold the promises, each against only
##           its own tests (the map: [tool.fal-typed.mutation] in pyproject.toml), then the kill
##           rate per module; MODULES="naming auth" runs only those (not part of `make check`)
mutation: $(STAMP)
	$(PY) scripts/mutation.py $(MODULES)
	$(PY) bench/mutation_report.py

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
