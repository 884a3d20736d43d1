"""Schemathesis over the app's own OpenAPI schema, in process (ASGI), against the real service.

Every operation gets schema-valid and schema-violating requests; no response may be a 5xx, and the
default checks also hold (responses match their documented schemas and status codes, invalid data
is rejected, valid data accepted).

The schema is read from an app that is never started (the OpenAPI document does not depend on the
service) as a dict: `from_asgi` would run that app's lifespan, i.e. load a service in the background.
Requests go in process to an app holding the session's real service (`app=plain_api_app`).
schemathesis' `from_fixture` does not work with pytest 9 (it reads the removed `Node._nodeid`).
"""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance
from schemathesis.config import SchemathesisConfig

from qa.api.app import create_app
from qa.config import Settings

pytest_plugins = ["api_support"]

# 413 (body over max_body_bytes) is a correct way to reject an oversized, schema-violating body.
CONFIG = SchemathesisConfig.from_str("""
[checks]
negative_data_rejection.expected-statuses = [400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429]
""")


def _openapi() -> dict:
    from qa.service import GazetteService

    return create_app(GazetteService, Settings(), ui=False).openapi()  # never started: nothing loads


# Uploads and deletions change the corpus: fuzzed here they would touch the session's shared index and corpus/.
# tests/test_documents_api.py fuzzes them on a scratch index of its own.
schema = schemathesis.openapi.from_dict(_openapi(), config=CONFIG).exclude(path_regex="^/v1/documents",
                                                                           method=["POST", "DELETE"])


@pytest.fixture(scope="module")
def plain_api_app(gazette_service, gazette_settings):
    """The API with the real service, without the UI mount (not part of the OpenAPI schema)."""
    return create_app(gazette_service, gazette_settings, ui=False)


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=25, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture])
def test_api_conforms_to_its_schema(case, plain_api_app):
    # The chat schema cannot say "the last user message has text" (OpenAI's shape allows
    # content-less messages); such requests get a clear 422, which this one check would call a failure.
    excluded = [positive_data_acceptance] if case.path == "/v1/chat/completions" else []
    response = case.call_and_validate(app=plain_api_app, excluded_checks=excluded)
    assert response.status_code < 500
