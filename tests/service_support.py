"""The answer service on the shared test index, answering by the hand-set rules with no gate, once per test
session (a pytest plugin: `pytest_plugins = ["service_support"]`): the baseline the gate and cross-encoder tests
read features from."""
from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def rules_service():
    from qa.config import Settings
    from qa.service import GazetteService

    reuse = os.environ.get("QA_TEST_INDEX_DIR")
    if not reuse:
        pytest.skip("needs a built index: QA_TEST_INDEX_DIR")
    return GazetteService.load(Settings(index_dir=Path(reuse), answer_decision="rules", answer_gate=False),
                               build_if_missing=False)
