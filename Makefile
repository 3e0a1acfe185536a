# Two entry points for a fresh machine: `make run` and `make test` (see README).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install airflow airflow-cluster bench clean es-spec console

$(STAMP): pyproject.toml constraints.txt
	# the console's browser tests drive Debian's chromium (Playwright's own download cannot work here);
	# a CJK font so Chinese posts render as text, not boxes, in the browser and its screenshots
	@if { [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi "wenquanyi\|wqy"; } \
		&& [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get install -y -q chromium fonts-wqy-microhei >/dev/null \
		|| (apt-get update -q && apt-get install -y -q chromium fonts-wqy-microhei >/dev/null) \
		|| echo "could not install chromium: the browser tests will be skipped"; fi
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=26"
	# torch first, from the CPU wheel pinned here; otherwise a dependency pulls the CUDA build
	$(BIN)/pip install --quiet "torch==2.13.0"
	$(BIN)/pip install --quiet -c constraints.txt -e ".[all,dev]"
	touch $(STAMP)

install: $(STAMP)

# the incident console (docs/console.md): over the demo's store and config after `make run`
# (DEMO_DIR/crisiswatch.yaml), otherwise over the configured store
CONSOLE_PORT ?= 8000
DEMO_DIR ?= data/demo
DEMO_CONFIG = $(wildcard $(DEMO_DIR)/crisiswatch.yaml)

run: $(STAMP)
	$(BIN)/crisiswatch demo --data-dir $(DEMO_DIR)
	@echo ""
	@echo "Open the incident console over this demo's data:"
	@echo "  $(BIN)/crisiswatch users add demo --role admin --config $(DEMO_DIR)/crisiswatch.yaml   # asks a password"
	@echo "  make console        # then open http://127.0.0.1:$(CONSOLE_PORT)/ and log in as demo"
	@echo "(set CRISISWATCH_SECRET_KEY, 32+ characters, to keep sessions across restarts; make run replaces the demo's users)"

console: $(STAMP)
	$(BIN)/crisiswatch serve --host 127.0.0.1 --port $(CONSOLE_PORT) $(if $(DEMO_CONFIG),--config $(DEMO_CONFIG))

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

# Airflow on its embedded defaults: SQLite metadata, LocalExecutor, home under data/airflow,
# the DAGs in dags/, no examples. The config is $CRISISWATCH_CONFIG, else ./crisiswatch.yaml,
# else the example file. See docs/airflow.md.
AIRFLOW_PORT ?= 8080
AIRFLOW_DIR := $(CURDIR)/data/airflow
AIRFLOW_CONFIG_FILE := $(abspath $(or $(CRISISWATCH_CONFIG),$(firstword $(wildcard crisiswatch.yaml crisiswatch.example.yaml))))
AIRFLOW_ENV := PATH=$(CURDIR)/$(BIN):$$PATH AIRFLOW_HOME=$(AIRFLOW_DIR) AIRFLOW__CORE__DAGS_FOLDER=$(CURDIR)/dags \
	AIRFLOW__CORE__LOAD_EXAMPLES=False AIRFLOW__CORE__EXECUTOR=LocalExecutor \
	AIRFLOW__API__PORT=$(AIRFLOW_PORT) AIRFLOW__API__BASE_URL=http://localhost:$(AIRFLOW_PORT) \
	$(if $(AIRFLOW_CONFIG_FILE),CRISISWATCH_CONFIG=$(AIRFLOW_CONFIG_FILE))

airflow: $(STAMP)
	mkdir -p $(AIRFLOW_DIR)
	$(AIRFLOW_ENV) $(BIN)/airflow db migrate > $(AIRFLOW_DIR)/migrate.log
	$(AIRFLOW_ENV) $(BIN)/python -m crisiswatch.app.airflow_glue pools $(AIRFLOW_DIR)/pools.json
	$(AIRFLOW_ENV) $(BIN)/airflow pools import $(AIRFLOW_DIR)/pools.json
	@echo "config: $(or $(AIRFLOW_CONFIG_FILE),(none: built-in defaults))"
	@echo "Airflow UI: http://localhost:$(AIRFLOW_PORT)  (ready after about 45 s; Ctrl-C stops it)"
	@$(AIRFLOW_ENV) $(BIN)/python -m crisiswatch.app.airflow_glue login $(AIRFLOW_DIR)
	$(AIRFLOW_ENV) exec $(BIN)/airflow standalone

# Airflow's production shape on this machine (docs/airflow.md, "Cluster"): metadata in the PostgreSQL
# database crisiswatch_airflow (created when missing), CeleryExecutor on Redis, API server, scheduler,
# DAG processor and two Celery workers (queues crawl/nlp/default and alerts/crawl/nlp/default).
# Settings: CRISISWATCH_AIRFLOW_POSTGRES, CRISISWATCH_AIRFLOW_DATABASE, CRISISWATCH_AIRFLOW_BROKER
# (a RabbitMQ amqp:// URL works too). Ctrl-C stops every process it started.
AIRFLOW_CLUSTER_DIR := $(CURDIR)/data/airflow-cluster

airflow-cluster: $(STAMP)
	PATH=$(CURDIR)/$(BIN):$$PATH AIRFLOW_PORT=$(AIRFLOW_PORT) $(if $(AIRFLOW_CONFIG_FILE),CRISISWATCH_CONFIG=$(AIRFLOW_CONFIG_FILE)) \
		$(BIN)/python -m crisiswatch.app.airflow_cluster $(AIRFLOW_CLUSTER_DIR)

clean:
	rm -rf $(VENV) data
