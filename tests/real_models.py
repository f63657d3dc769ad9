"""The real speech model a node installs (the multilingual Whisper base from PyPI), for tests that
need real recognition rather than a random model's tokens.

Installed once per test session through the product's own offline source, exactly as
``voicegate models pull`` does; ``install_into(data_dir)`` puts it where a node looks for it.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path

from voicegate.model_sources import offline_source

_lock = threading.Lock()
_installed: Path | None = None


def whisper_base_dir() -> Path:
    """A folder holding the faster-whisper base model (assembled on first use)."""
    global _installed
    with _lock:
        if _installed is None:
            source = offline_source("faster-whisper", "base")
            assert source is not None and source.package_roots() is not None, (
                "the real Whisper base model is not installed: scripts/install.sh --test")
            target = Path(tempfile.mkdtemp(prefix="voicegate-real-model-")) / "base"
            source.install(target)
            _installed = target
        return _installed


def install_into(data_dir: Path) -> Path:
    """The real base model at ``data_dir/models/faster-whisper/base`` (a copy: tests may break
    their own copy without touching the shared one)."""
    target = data_dir / "models" / "faster-whisper" / "base"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(whisper_base_dir(), target, dirs_exist_ok=True)
    return target
