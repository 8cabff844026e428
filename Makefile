# The two commands a newcomer runs on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
export LITELLM_LOCAL_MODEL_COST_MAP := True
export ANONYMIZED_TELEMETRY := False
export MPLBACKEND := Agg

.PHONY: install demo test test-fast bench lint clean

$(VENV)/.installed: requirements.txt requirements-tests.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt -r requirements-tests.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps -e .
	@touch $@

.venv-orquesta/.installed:   ## the real Orquesta engine (1.2.0 pins jsonschema<3, so it lives apart)
	@test -x .venv-orquesta/bin/python || $(PYTHON) -m venv .venv-orquesta
	.venv-orquesta/bin/python -m pip install -q --disable-pip-version-check orquesta==1.2.0 pyyaml==6.0.4
	@touch $@

install: $(VENV)/.installed .venv-orquesta/.installed

demo: install                 ## run the drills on the embedded defaults (simulated fleet, offline analyst)
	$(VENV)/bin/aisre drill memory-leak --quiet
	@$(VENV)/bin/aisre drill all --html out/drills.html || echo "demo: some drills missed their targets (see the table above)"

test: install                 ## run every test (real servers are skipped when missing unless AISRE_REQUIRE_SERVICES=1)
	$(PY) -m pytest -q -p no:cacheprovider

test-fast: install
	$(PY) -m pytest -q -p no:cacheprovider -m "not slow and not services"

bench: install                ## benchmarks: write bench/results/*.md and bench/RESULTS.md
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) out .pytest_cache
