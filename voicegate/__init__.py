"""KI-Voicegate node: composition root (settings, CLI, node runner)."""

__version__ = "0.1.0"
