"""Fixtures for the data tests: a builder of tiny AI-READI folders."""

from __future__ import annotations

from pathlib import Path

import pytest
from aireadi_files import AireadiFiles


@pytest.fixture
def aireadi(tmp_path: Path) -> AireadiFiles:
    """An empty AI-READI folder under tmp_path, with methods that write its files."""
    return AireadiFiles(tmp_path / "aireadi")
