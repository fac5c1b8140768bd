"""Fixtures for the LLM backend tests: a real OpenAI-compatible HTTP server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from chat_server import ChatServer


@pytest.fixture
def chat_server() -> Iterator[ChatServer]:
    """A fresh server per test, on an ephemeral port; faults are queued with ``.queue()``."""
    with ChatServer() as server:
        yield server
