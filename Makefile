# Two entry points for a fresh machine: `make run` and `make test` (see README).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install airflow bench clean es-spec

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=26"
	# torch first, from the CPU wheel pinned here; otherwise a dependency pulls the CUDA build
	$(BIN)/pip install --quiet "torch==2.13.0"
	$(BIN)/pip install --quiet -c constraints.txt -e ".[all,dev]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/crisiswatch demo

# Elastic's own API specification (npm @elastic/request-converter ships it as dist/schema.json):
# the tests check every Elasticsearch request body against it offline; without npm they skip.
ES_SPEC := .cache/es-spec/node_modules/@elastic/request-converter/dist/schema.json
$(ES_SPEC):
	@mkdir -p .cache/es-spec
	-npm install --silent --no-audit --no-fund --ignore-scripts --prefix .cache/es-spec @elastic/request-converter@9.5.0

es-spec: $(ES_SPEC)

test: $(STAMP) es-spec
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python bench/store_ingest.py

clean:
	rm -rf $(VENV) data
