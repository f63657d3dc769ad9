"""Configuration, the bottom layer: every package may import it, it imports none of them."""

from .settings import (
    DEFAULT_DATA_DIR,
    EngineSettings,
    Settings,
    add_data_argument,
    load_settings,
)

__all__ = ["DEFAULT_DATA_DIR", "EngineSettings", "Settings", "add_data_argument",
           "load_settings"]
