"""The desired configuration the master hands a node, and its validation.

Both sides validate with this module: the master before it stores a change, the node before it
applies one (a master newer than the node may send something the node does not understand; the
node then keeps its previous configuration and reports the error upward).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

ENGINE_CHOICES: dict[str, tuple[str, ...]] = {
    "stt": ("whisper", "faster-whisper"),
    "llm": ("ollama", "none"),
    "tts": ("coqui", "piper", "espeak"),
}
ENGINE_LABELS = {"stt": "Spracherkennung", "llm": "Sprachmodell", "tts": "Sprachausgabe"}
MODEL_KEYS = ("stt_model", "llm_model", "tts_model")
# name -> (minimum, maximum, German label)
LIMITS: dict[str, tuple[int, int, str]] = {
    "max_concurrent_calls": (1, 1000, "Gleichzeitige Anrufe"),
    "max_call_seconds": (30, 14_400, "Höchstdauer eines Anrufs (s)"),
    "monthly_minutes": (0, 10_000_000, "Gesprächsminuten pro Monat"),
}
FEATURE_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MODEL_RE = re.compile(r"^[A-Za-z0-9._:/-]{0,100}$")
VERSION_RE = re.compile(r"^(\d+\.\d+\.\d+([.+-][0-9A-Za-z.]+)?)?$")
NUMBER_RE = re.compile(r"^\+?[0-9]{3,20}$")
MAX_NUMBERS = 1000
MAX_FEATURES = 50


class ConfigError(ValueError):
    """A desired configuration that fails validation; the message is German and names the field."""


@dataclass(frozen=True)
class RoutedNumberSpec:
    number: str
    label: str = ""


@dataclass(frozen=True)
class DesiredConfig:
    software_version: str = ""
    engines: dict[str, str] = field(default_factory=dict)
    features: dict[str, bool] = field(default_factory=dict)
    limits: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class NodeConfigPayload:
    """What ``GET /api/node/v1/config`` returns: a version, the config and the routed numbers."""

    config_version: int
    config: DesiredConfig
    numbers: tuple[RoutedNumberSpec, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "config_version": self.config_version,
            "config": self.config.to_dict(),
            "numbers": [asdict(n) for n in self.numbers],
        }

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()


def _require_dict(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: Objekt erwartet")
    return value


def _no_unknown(value: dict[str, Any], allowed: set[str] | tuple[str, ...], where: str) -> None:
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise ConfigError(f"{where}: unbekannte Felder {', '.join(unknown)[:120]}")


def validate_config(raw: Any) -> DesiredConfig:
    data = _require_dict(raw, "Konfiguration")
    _no_unknown(data, ("software_version", "engines", "features", "limits"), "Konfiguration")
    version = data.get("software_version", "")
    if not isinstance(version, str) or not VERSION_RE.match(version):
        raise ConfigError("software_version: Versionsnummer wie 1.2.3 erwartet")

    engines = _require_dict(data.get("engines", {}), "engines")
    _no_unknown(engines, (*ENGINE_CHOICES, *MODEL_KEYS), "engines")
    for kind, choices in ENGINE_CHOICES.items():
        if kind in engines and engines[kind] not in choices:
            raise ConfigError(
                f"engines.{kind}: {str(engines[kind])[:40]!r} ist keine erlaubte Wahl "
                f"({', '.join(choices)})"
            )
    for key in MODEL_KEYS:
        value = engines.get(key, "")
        if not isinstance(value, str) or not MODEL_RE.match(value):
            raise ConfigError(f"engines.{key}: ungültiger Modellname")

    features = _require_dict(data.get("features", {}), "features")
    if len(features) > MAX_FEATURES:
        raise ConfigError(f"features: höchstens {MAX_FEATURES} Schalter")
    for name, enabled in features.items():
        if not FEATURE_RE.match(name):
            raise ConfigError(f"features: ungültiger Name {name[:40]!r}")
        if not isinstance(enabled, bool):
            raise ConfigError(f"features.{name}: true oder false erwartet")

    limits = _require_dict(data.get("limits", {}), "limits")
    _no_unknown(limits, tuple(LIMITS), "limits")
    for name, value in limits.items():
        low, high, _label = LIMITS[name]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ConfigError(f"limits.{name}: ganze Zahl von {low} bis {high} erwartet")

    return DesiredConfig(
        software_version=version,
        engines={k: str(v) for k, v in engines.items()},
        features=dict(features),
        limits=dict(limits),
    )


def validate_number(number: Any, label: Any = "") -> RoutedNumberSpec:
    """A routed number as the master stores and sends it: digits, optional leading "+".

    Its own rule, not ``models.phone``: sync_contract sits on the models layer and may import
    only ``config`` (tests/test_layers.py). The node matches what arrives to its own spellings
    by ``models.phone.normalize_number`` (``node_sync.apply``)."""
    if not isinstance(number, str) or not NUMBER_RE.match(number):
        raise ConfigError("Rufnummer: nur Ziffern (optional mit führendem +), 3 bis 20 Stellen")
    if not isinstance(label, str) or len(label) > 200:
        raise ConfigError("Bezeichnung: höchstens 200 Zeichen")
    return RoutedNumberSpec(number=number, label=label)


def validate_payload(raw: Any) -> NodeConfigPayload:
    """Validate a whole config answer; all or nothing."""
    data = _require_dict(raw, "Antwort")
    _no_unknown(data, ("config_version", "config", "numbers"), "Antwort")
    version = data.get("config_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise ConfigError("config_version: nicht-negative ganze Zahl erwartet")
    numbers_raw = data.get("numbers", [])
    if not isinstance(numbers_raw, list) or len(numbers_raw) > MAX_NUMBERS:
        raise ConfigError(f"numbers: Liste mit höchstens {MAX_NUMBERS} Einträgen erwartet")
    numbers = []
    for item in numbers_raw:
        entry = _require_dict(item, "numbers[]")
        _no_unknown(entry, ("number", "label"), "numbers[]")
        numbers.append(validate_number(entry.get("number"), entry.get("label", "")))
    if len({n.number for n in numbers}) != len(numbers):
        raise ConfigError("numbers: Rufnummer doppelt")
    return NodeConfigPayload(
        config_version=version,
        config=validate_config(data.get("config", {})),
        numbers=tuple(numbers),
    )
