#!/bin/sh
# One-shot start of the Airflow metadata: migrate the Postgres schema, give the simple auth
# manager its admin password (from AIRFLOW_ADMIN_PASSWORD, never written into the image),
# and create the pools the crawl DAGs use (one per source, from the crisiswatch config).
set -eu
airflow db migrate
python - <<'PY'
import json, os
path = os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]
with open(path, "w", encoding="utf-8") as handle:
    json.dump({"admin": os.environ["AIRFLOW_ADMIN_PASSWORD"]}, handle)
os.chmod(path, 0o600)
PY
python -m crisiswatch.app.airflow_glue pools /tmp/crisiswatch-pools.json
airflow pools import /tmp/crisiswatch-pools.json
echo "Airflow metadata ready"
