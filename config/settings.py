"""The node's settings: one typed object, read from defaults, `<data>/voicegate.toml` and the
environment (``VOICEGATE_<FIELD>``), in that order."""

from __future__ import annotations

import argparse
import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_DATA_DIR = Path(os.environ.get("VOICEGATE_DATA", "data"))


@dataclass(frozen=True)
class EngineSettings:
    """Which backend runs each engine, and where its model lies.

    ``stt``: ``whisper`` | ``faster-whisper`` | ``scripted`` (tests only)
    ``llm``: ``ollama`` | ``none`` (keyword mode) | ``scripted`` (tests only)
    ``tts``: ``coqui`` | ``piper`` | ``espeak`` | ``tone`` (tests only)

    ``stt_model``: a size name looked up in ``<data>/models/<backend>/`` or a path;
    ``tts_model``: a Piper voice / Coqui model name there, or a path.
    """

    stt: str = "faster-whisper"
    # "base": ~0.7 s per utterance on 2 CPU cores (bench/bench_turn.py); "small" is more accurate
    # but ~1.8 s there — pick it where the node has more cores or a GPU
    stt_model: str = "base"
    llm: str = "ollama"
    llm_model: str = "qwen2.5:7b-instruct"
    ollama_host: str = "http://127.0.0.1:11434"
    # multilingual embedding model on the Ollama server for knowledge answers ("" = BM25 only)
    embed_model: str = ""
    tts: str = "espeak"
    tts_model: str = ""
    stt_timeout_s: float = 10.0
    llm_timeout_s: float = 15.0
    tts_timeout_s: float = 10.0
    # backend details (voicegate/engines.py)
    stt_device: str = "cpu"
    stt_compute_type: str = "int8"  # faster-whisper: int8 | int8_float32 | float32
    stt_threads: int = 0  # 0: the library's default
    llm_num_ctx: int = 8192  # context window asked of Ollama; long calls are cut to fit it
    tts_voice: str = ""  # espeak voice (default: the call's language) / Coqui speaker
    coqui_python: str = ""  # interpreter of the Coqui env; empty: <repo>/.venv-coqui/bin/python


@dataclass(frozen=True)
class Settings:
    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str = ""  # empty: SQLite file <data_dir>/voicegate.sqlite3 (WAL)
    esl_host: str = "127.0.0.1"
    esl_port: int = 8084
    admin_host: str = "127.0.0.1"
    admin_port: int = 8080
    # Secure flag on the admin session cookie: set true when the admin is served over https
    admin_cookie_secure: bool = False
    status_port: int = 8086  # controller's small local HTTP endpoint for live status
    # UDP ports the controller hands to FreeSWITCH's unicast (two per call)
    rtp_port_min: int = 20000
    rtp_port_max: int = 29999
    # FreeSWITCH dialplan targets the controller transfers to (freeswitch_conf/)
    transfer_context: str = "voicegate_transfer"
    fallback_extension: str = "voicegate_fallback"
    fallback_context: str = "voicegate"
    # FreeSWITCH's vars.xml (e.g. /etc/freeswitch/voicegate/vars.xml, freeswitch_conf/README.md)
    # rewritten when the fallback number or voicemail box change; empty: never written
    freeswitch_vars_path: str = ""
    # FreeSWITCH's inbound event socket (event_socket.conf.xml; freeswitch_conf/install.py sets
    # a random password): the node runs `reloadxml` there after rewriting vars.xml
    freeswitch_esl_host: str = "127.0.0.1"
    freeswitch_esl_port: int = 8021
    freeswitch_esl_password: str = "ClueCon"
    max_call_seconds: int = 3600
    secret_key: str = ""
    master_url: str = ""
    engines: EngineSettings = field(default_factory=EngineSettings)

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'voicegate.sqlite3').resolve()}"

    @property
    def recordings_dir(self) -> Path:
        return self.data_dir / "recordings"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"


def _coerce(value: str, like: object) -> object:
    if isinstance(like, bool):
        return value.strip().lower() in {"1", "true", "yes", "ja", "on"}
    if isinstance(like, int):
        return int(value)
    if isinstance(like, float):
        return float(value)
    if isinstance(like, Path):
        return Path(value)
    return value


def _apply(obj, values: dict, env_prefix: str):
    changes: dict[str, object] = {}
    for f in dataclasses.fields(obj):
        current = getattr(obj, f.name)
        if dataclasses.is_dataclass(current):
            sub = values.get(f.name, {}) if isinstance(values.get(f.name), dict) else {}
            changes[f.name] = _apply(current, sub, f"{env_prefix}{f.name.upper()}_")
            continue
        if f.name in values:
            changes[f.name] = _coerce(str(values[f.name]), current)
        env = os.environ.get(f"{env_prefix}{f.name.upper()}")
        if env is not None:
            changes[f.name] = _coerce(env, current)
    return dataclasses.replace(obj, **changes)


def load_settings(data_dir: Path | str | None = None, **overrides: object) -> Settings:
    """Defaults, then ``<data_dir>/voicegate.toml``, then ``VOICEGATE_*`` env, then overrides."""
    base = Settings(data_dir=Path(data_dir) if data_dir else DEFAULT_DATA_DIR)
    config_file = base.data_dir / "voicegate.toml"
    file_values: dict = {}
    if config_file.exists():
        file_values = tomllib.loads(config_file.read_text(encoding="utf-8"))
        file_values.pop("data_dir", None)
    settings = _apply(base, file_values, "VOICEGATE_")
    if data_dir:
        settings = dataclasses.replace(settings, data_dir=Path(data_dir))
    engine_overrides = overrides.pop("engines", None)
    settings = dataclasses.replace(settings, **overrides)
    if engine_overrides:
        settings = dataclasses.replace(settings, engines=engine_overrides)
    return settings


def add_data_argument(parser: argparse.ArgumentParser, *, required: bool = False) -> None:
    """The node's ``--data`` option, the same on every ``voicegate`` subcommand."""
    parser.add_argument("--data", type=Path, default=None, required=required,
                        help="Datenordner des Knotens (SQLite-Datei, Aufnahmen, Modelle)"
                        + ("" if required else "; Standard: ./data oder $VOICEGATE_DATA"))
