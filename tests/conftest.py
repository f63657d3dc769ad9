"""Shared fixtures. Expensive things (speech audio, tiny models) are cached per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.call_lab import CallLab


@pytest.fixture
def call_lab(tmp_path) -> Iterator[CallLab]:
    """A node on loopback with scripted STT/LLM and a tone TTS; configure engines before start."""
    lab = CallLab(data_dir=tmp_path / "node")
    yield lab
    lab.stop()
