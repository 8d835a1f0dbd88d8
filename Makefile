# The two commands a fresh machine needs: `make run` and `make test`.
# Everything else here is a convenience around them.

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEVDIR ?= .devnet
# pinned: the tool that writes requirements*.lock (make lock)
PIP_TOOLS := pip-tools==7.6.2
LOCK_FLAGS := --quiet --strip-extras --no-emit-index-url --no-emit-find-links --unsafe-package orgledger

.PHONY: venv run stop test test-faults lint typecheck unit sim-long sim-reconfig bench clean lock wheelhouse console console-deps

# The development environment: the project with its test extras, at the versions of
# requirements-dev.lock (a dependency added to pyproject.toml but not yet locked still installs).
$(STAMP): pyproject.toml requirements-dev.lock
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11" >&2; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]' -c requirements-dev.lock
	touch $(STAMP)

venv: $(STAMP)

## make run: set up, start a local five-level network, fill it with a year of history (once),
## print where to look and what to try.
run: $(STAMP)
	$(BIN)/orgledger dev up --dir $(DEVDIR)
	$(BIN)/orgledger dev seed --dir $(DEVDIR)
	@$(BIN)/orgledger dev console --dir $(DEVDIR)

stop: $(STAMP)
	$(BIN)/orgledger dev down --dir $(DEVDIR)

## make test: set up, lint, type-check, run the default suite (slow tiers and process faults excluded).
test: $(STAMP) console-deps lint typecheck
	$(BIN)/python -m pytest -q -m "not slow and not faults" -p no:cacheprovider --durations=25

## make test-faults: the process-level fault tests (RELIABILITY tier P: f+1 down, all killed,
## 2|2 partition, rolling restarts, disk faults; docs/reliability.md). CI runs it after make test.
test-faults: $(STAMP)
	$(BIN)/python -m pytest -q -m "faults and not slow" -p no:cacheprovider --durations=0

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit tests/property

sim-long: $(STAMP)
	$(BIN)/orgledger sim --seeds 500 --validators 4 --faults all
	$(BIN)/orgledger sim --seeds 500 --validators 5 --faults all
	$(BIN)/orgledger sim --seeds 500 --validators 7 --faults all

## make sim-reconfig: issue 17's sweeps, 2000 seeds per n with validator-set changes (docs/consensus.md
## has the figures: 56-114 min per n on a shared 2-core machine, the three at once)
sim-reconfig: $(STAMP)
	$(BIN)/orgledger sim --seeds 2000 --validators 4 --faults all --reconfig
	$(BIN)/orgledger sim --seeds 2000 --validators 5 --faults all --reconfig
	$(BIN)/orgledger sim --seeds 2000 --validators 7 --faults all --reconfig

bench: $(STAMP)
	$(BIN)/orgledger bench

## make lock: pin every dependency (requirements.lock: the node with its postgres and bench
## extras; requirements-dev.lock: with the test extras) after a change to pyproject.toml.
lock: $(STAMP)
	$(BIN)/python -m pip install --quiet $(PIP_TOOLS)
	$(BIN)/pip-compile $(LOCK_FLAGS) --extra postgres --extra bench -o requirements.lock pyproject.toml
	$(BIN)/pip-compile $(LOCK_FLAGS) --extra test -o requirements-dev.lock pyproject.toml

## make wheelhouse: every wheel an offline machine needs in wheelhouse/ (the locked dependencies,
## orgledger and orgledger-sdk); install there with
##   pip install --no-index --find-links wheelhouse 'orgledger[postgres,bench]'   (or orgledger-sdk)
wheelhouse: $(STAMP)
	rm -rf wheelhouse
	$(BIN)/python -m pip wheel --quiet -r requirements.lock -w wheelhouse
	$(BIN)/python -m pip wheel --quiet --no-deps . ./sdk -w wheelhouse
	@echo "wheelhouse/: $$(ls wheelhouse | wc -l) wheels; offline: pip install --no-index --find-links wheelhouse 'orgledger[postgres,bench]'"

## The console (issue 21): its sources are in console/, built into node/console/static/ (package
## data, committed, so `make run` and a pip install need no npm). `make console` rebuilds them after
## a change under console/src; a test fails while the committed build is stale. The front-end
## dependencies are pinned in console/package-lock.json (npm ci installs exactly those).
CONSOLE_DEPS := console/node_modules/.package-lock.json
$(CONSOLE_DEPS): console/package.json console/package-lock.json
	@command -v npm >/dev/null || { echo "warning: npm not found; the console build check skips (the built console is committed)" >&2; exit 0; }
	cd console && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error

console-deps: $(CONSOLE_DEPS)

console: $(CONSOLE_DEPS)
	cd console && npm run --silent build
	cd console && node --test test/

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info sdk/build wheelhouse console/node_modules
