"""schemathesis over /openapi.json with real credentials: no input makes the API answer 5xx."""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

pytestmark = pytest.mark.services
EXAMPLES = 20


def test_no_input_gives_a_server_error(server):
    schema = schemathesis.openapi.from_url(f"{server.base}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 25
    failures = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        def check(case):
            response = case.call(auth=(server.account_sid, server.auth_token), timeout=30)
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:200]}"
                )
            elif response.status_code >= 400:
                assert {"code", "message", "more_info", "status"} <= set(response.json())

        check()
    assert not failures, "\n".join(failures[:10])
