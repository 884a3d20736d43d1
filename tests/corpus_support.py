"""The bundled gazette issues chunked as the index chunks them, once per test session (a pytest plugin:
`pytest_plugins = ["corpus_support"]`): real passages for the answer tests that need no model."""
from __future__ import annotations

from pathlib import Path

import pytest

from qa.corpus.chunker import chunk_file
from qa.models import Chunk

CORPUS = Path(__file__).resolve().parent.parent / "corpus"


@pytest.fixture(scope="session")
def chunks_2020() -> list[Chunk]:
    return chunk_file(CORPUS / "2020-02.txt")


@pytest.fixture(scope="session")
def chunks_2021_01() -> list[Chunk]:
    return chunk_file(CORPUS / "2021-01.txt")


@pytest.fixture(scope="session")
def chunks_2021_04() -> list[Chunk]:
    return chunk_file(CORPUS / "2021-04.txt")


@pytest.fixture(scope="session")
def chunks_2022() -> list[Chunk]:
    return chunk_file(CORPUS / "2022-03.txt")


@pytest.fixture(scope="session")
def chunks_2023() -> list[Chunk]:
    return chunk_file(CORPUS / "2023-06.txt")
