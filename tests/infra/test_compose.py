"""infra/docker-compose.yml, checked offline: no Docker engine runs here.

The file is validated against the compose-spec JSON schema that check-jsonschema vendors,
then for what the schema cannot see: start order (every depends_on target exists, health
conditions have health checks, no cycles), every ${VAR} documented in infra/.env.example,
and the image build installing torch before the project.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "infra" / "docker-compose.yml"
ENV_EXAMPLE = REPO / "infra" / ".env.example"
DOCKERFILE = REPO / "infra" / "Dockerfile"
VARIABLE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}")


def _schema_path() -> Path:
    import check_jsonschema

    return Path(check_jsonschema.__file__).parent / "builtin_schemas" / "vendor" / "compose-spec.json"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def _env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def test_compose_file_matches_the_compose_spec_schema(compose):
    schema = json.loads(_schema_path().read_text(encoding="utf-8"))
    jsonschema.validate(compose, schema)  # raises with the offending path
    done = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
                           str(COMPOSE)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_schema_check_rejects_a_broken_service(compose, tmp_path):
    broken = json.loads(json.dumps(compose))
    broken["services"]["kibana"]["depends_on"]["es-passwords"]["condition"] = "service_ready"
    broken["services"]["elasticsearch"]["healthcheck"]["intervall"] = "10s"
    path = tmp_path / "compose.yml"
    path.write_text(yaml.safe_dump(broken), encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
                           str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0


def test_the_stack_has_every_component(compose):
    services = compose["services"]
    assert services["elasticsearch"]["image"].startswith("docker.elastic.co/elasticsearch/elasticsearch:")
    assert services["kibana"]["image"].startswith("docker.elastic.co/kibana/kibana:")
    assert services["elasticsearch"]["environment"]["xpack.security.enabled"] == "true"
    assert services["elasticsearch"]["environment"]["discovery.type"] == "single-node"
    commands = {name: " ".join(s.get("command") or []) for name, s in services.items()}
    for component in ("api-server", "scheduler", "dag-processor", "triggerer"):
        assert any(c == f"airflow {component}" for c in commands.values()), component
    assert services["postgres"]["image"].startswith("postgres:")
    airflow_env = services["airflow-scheduler"]["environment"]
    assert airflow_env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
    assert airflow_env["AIRFLOW__CORE__DAGS_FOLDER"] == "/opt/crisiswatch/dags"
    assert "crisiswatch es setup" in commands["crisiswatch-setup"]
    assert "crisiswatch kibana import" in commands["crisiswatch-setup"]
    built = [n for n, s in services.items() if s.get("build")]
    assert {"crisiswatch-setup", "airflow-scheduler", "airflow-init"} <= set(built)
    assert all(services[n]["build"]["dockerfile"] == "infra/Dockerfile" for n in built)
    assert (COMPOSE.parent / services["crisiswatch-setup"]["build"]["context"] / "infra/Dockerfile").exists()


def test_stack_version_major_matches_the_python_client():
    import elasticsearch

    stack = _env_example()["STACK_VERSION"]
    assert stack.split(".")[0] == elasticsearch.__versionstr__.split(".")[0]
    defaults = {m.group(3) for m in VARIABLE.finditer(COMPOSE.read_text()) if m.group(1) == "STACK_VERSION"}
    assert defaults == {stack}


def test_start_order_is_well_defined(compose):
    services = compose["services"]
    graph: dict[str, list[str]] = {}
    for name, service in services.items():
        depends = service.get("depends_on") or {}
        targets = list(depends) if isinstance(depends, (dict, list)) else []
        graph[name] = targets
        for target in targets:
            assert target in services, f"{name} depends on unknown service {target}"
            condition = depends[target]["condition"] if isinstance(depends, dict) else "service_started"
            if condition == "service_healthy":
                assert "healthcheck" in services[target], f"{name} waits for {target} to be healthy: no healthcheck"
            if condition == "service_completed_successfully":
                assert services[target].get("restart", "no") == "no", f"{target} is a one-shot job"
    visiting, done = set(), set()

    def visit(node: str, path: list[str]) -> None:
        assert node not in visiting, f"dependency cycle: {' -> '.join(path + [node])}"
        if node in done:
            return
        visiting.add(node)
        for target in graph[node]:
            visit(target, path + [node])
        visiting.discard(node)
        done.add(node)

    for name in graph:
        visit(name, [])
    # long-running services say when they are ready
    for name, service in services.items():
        if service.get("restart") == "unless-stopped":
            assert "healthcheck" in service, f"{name} has no healthcheck"


def test_every_variable_is_documented_in_env_example():
    text = COMPOSE.read_text(encoding="utf-8")
    used = {m.group(1) for m in VARIABLE.finditer(text)}
    documented = _env_example()
    assert used, "no variables found: the pattern is wrong"
    assert not used - set(documented), f"undocumented in infra/.env.example: {sorted(used - set(documented))}"
    assert not set(documented) - used, f"documented but unused: {sorted(set(documented) - used)}"
    # container-side variables are escaped ($$) so Compose does not interpolate them
    assert "$${ELASTIC_PASSWORD}" in text
    # secrets are required (fail fast) and shipped only as placeholders
    for secret in ("ELASTIC_PASSWORD", "KIBANA_PASSWORD", "AIRFLOW_DB_PASSWORD", "AIRFLOW_FERNET_KEY",
                   "AIRFLOW_JWT_SECRET", "AIRFLOW_ADMIN_PASSWORD", "KIBANA_ENCRYPTION_KEY", "CRISISWATCH_SECRET_KEY"):
        assert documented[secret].startswith("change-me")
        assert all(m.group(2) == ":?" for m in VARIABLE.finditer(text) if m.group(1) == secret), secret


def test_env_file_is_not_committed_and_not_in_the_image():
    ignored = subprocess.run(["git", "check-ignore", "-q", "infra/.env"], cwd=REPO).returncode == 0
    assert ignored
    assert "infra/.env" in (REPO / "infra" / "Dockerfile.dockerignore").read_text().splitlines()


def test_dockerfile_installs_torch_cpu_before_the_project():
    runs = [line for line in DOCKERFILE.read_text().splitlines() if line.startswith("RUN")]
    torch = next(i for i, line in enumerate(runs) if '"torch==2.13.0"' in line)
    project = next(i for i, line in enumerate(runs) if '".[all]"' in line)
    assert torch < project
    assert "download.pytorch.org/whl/cpu" in runs[torch]
    assert "-c constraints.txt" in runs[project]
    assert (REPO / "infra" / "airflow-init.sh").exists()


def test_the_console_service_serves_on_loopback_with_its_secret_and_a_healthcheck(compose):
    console = compose["services"]["console"]
    assert console["command"][:2] == ["crisiswatch", "serve"] and "0.0.0.0" in console["command"]
    assert all(str(p).startswith("127.0.0.1:") for p in console["ports"])  # public only via a TLS proxy
    assert console["environment"]["CRISISWATCH_SECRET_KEY"].startswith("${CRISISWATCH_SECRET_KEY:?")
    assert "/login" in " ".join(console["healthcheck"]["test"])
    assert console["depends_on"]["crisiswatch-setup"]["condition"] == "service_completed_successfully"
