# Two commands: `make demo` (set up + run the main job) and `make test`.
# Both create .venv when missing and are quick when it is already there.

PYTHON  ?= python3
VENV    ?= .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.avgen-installed
# Here a CPU wheel of torch 2.13.0 lies on disk; use it when present, without pinning users.
TORCH   ?= $(if $(wildcard /opt/wheels/torch-2.13.0*),torch==2.13.0,torch>=2.3)
DEMO_OUT ?= demo-output

.PHONY: demo test venv system-deps lint docs notebooks clean-venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e ".[test,notebooks,docs,references,evaluators]"
	@PYTHON=$(PY) bash scripts/fetch_sdists.sh $(VENV)/share/avgen/arctic \
	  || echo "note: CMU ARCTIC clips not fetched (kits are built without them)"
	@touch $(STAMP)

system-deps:
	@bash scripts/system_deps.sh

demo: venv system-deps
	$(PY) -m avgen demo --out $(DEMO_OUT) --seed 0

test: venv system-deps
	$(PY) -m ruff check avgen inference examples benchmarks tests scripts
	$(PY) -m ruff format --check avgen inference examples benchmarks tests scripts
	$(PY) -m pytest -q

lint: venv
	$(PY) -m ruff check avgen inference examples benchmarks tests scripts
	$(PY) -m ruff format --check avgen inference examples benchmarks tests scripts

docs: venv
	$(PY) -m pip install -q -e ".[docs]"
	$(VENV)/bin/mkdocs build --strict

# executed notebooks of the examples, with their figures, under docs/notebooks/ (committed;
# tests/examples/test_notebooks.py fails when an example changed without this being run)
notebooks: venv
	$(PY) scripts/render_notebooks.py

clean-venv:
	rm -rf $(VENV)
