"""Configuration, the bottom layer: every package may import it, it imports none of them."""

from .settings import DEFAULT_DATA_DIR, EngineSettings, Settings, load_settings

__all__ = ["DEFAULT_DATA_DIR", "EngineSettings", "Settings", "load_settings"]
