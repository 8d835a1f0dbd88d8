# The two commands a fresh machine needs: `make run` and `make test`.
# Everything else here is a convenience around them.

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEVDIR ?= .devnet

.PHONY: venv run stop test lint typecheck unit sim-long sim-reconfig bench clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11" >&2; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

## make run: set up, start a local five-level network, fill it with a year of history (once),
## print where to look and what to try.
run: $(STAMP)
	$(BIN)/orgledger dev up --dir $(DEVDIR)
	$(BIN)/orgledger dev seed --dir $(DEVDIR)

stop: $(STAMP)
	$(BIN)/orgledger dev down --dir $(DEVDIR)

## make test: set up, lint, type-check, run the default suite (slow tiers excluded).
test: $(STAMP) lint typecheck
	$(BIN)/python -m pytest -q -m "not slow" -p no:cacheprovider

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

## make sim-reconfig: issue 17's sweeps, 2000 seeds per n with validator-set changes (~1 h on 2 cores)
sim-reconfig: $(STAMP)
	$(BIN)/orgledger sim --seeds 2000 --validators 4 --faults all --reconfig
	$(BIN)/orgledger sim --seeds 2000 --validators 5 --faults all --reconfig
	$(BIN)/orgledger sim --seeds 2000 --validators 7 --faults all --reconfig

bench: $(STAMP)
	$(BIN)/orgledger bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
