"""schemathesis against the API's own OpenAPI document, on the in-process app (no network):
generated requests, valid and invalid, with a responder's token, never get a 5xx.

Driven through hypothesis directly (one bounded run per operation) rather than schemathesis's
pytest plugin, which does not load under pytest 9."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is in the dev extra")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402

from crisiswatch.app.api_tokens import Tokens  # noqa: E402
from crisiswatch.app.console.app import create_app  # noqa: E402
from tests.console.conftest import make_crisis  # noqa: E402

EXAMPLES = 12  # per operation: 12 operations, about 150 requests, a few seconds


def test_generated_requests_never_get_a_server_error(world, tmp_path, webhook, secret):  # noqa: ARG001
    crisis = make_crisis(world, tmp_path, webhook, "http://testserver")
    app = create_app(crisis.config, crisis.store)
    token = Tokens(crisis.store).create("mei", rate_per_minute=100_000)  # the generated requests, not 429s
    headers = {"Authorization": f"Bearer {token}"}
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 12
    seen: list[tuple[str, int]] = []

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        def run(case) -> None:  # noqa: ANN001
            if (case.path_parameters or {}).get("incident_id", "").startswith(("0", "e", "a")):
                case.path_parameters["incident_id"] = crisis.incident.id  # reach the real incident, not only 404s
            response = case.call(headers=headers)
            seen.append((case.operation.label, response.status_code))
            assert response.status_code < 500, (case.operation.label, case.formatted_path, response.text[:300])
            case.validate_response(response, checks=[not_a_server_error])

        run()
    statuses = {status for _, status in seen}
    assert 200 in statuses and 422 in statuses  # it reached both the happy path and the validation
    assert len(seen) >= 12 * 3
