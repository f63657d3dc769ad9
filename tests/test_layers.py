"""Imports point one way: down the declared layers, never up and never sideways within a layer.

Every import in the project's packages counts, also those inside functions (the lazy ones) and
under ``TYPE_CHECKING``. A package may import only from layers below its own. ``tests/`` and
``bench/`` sit above everything. ``python -m tests.test_layers`` prints the package graph.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTSIDE = {"tests", "bench"}  # above every layer: they may import anything

# Lowest first. A package imports only from layers before its own; packages that share a layer
# do not know each other.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("config",),  # settings, turn-taking defaults, the call-UUID log context
    ("models", "media", "freeswitch_conf", "sync_contract"),  # data, audio/engines, FS XML, wire
    ("agents", "privacy"),  # what an agent says and does; retention, erasure, export
    ("esl_controller", "admin", "master", "node_sync"),  # calls, dashboard, master, master link
    ("voicegate",),  # the CLI and the node's composition root
)
LAYER_OF = {package: level for level, packages in enumerate(LAYERS) for package in packages}


@dataclass(frozen=True)
class Import:
    path: Path  # relative to ROOT
    line: int
    module: str  # absolute dotted name

    @property
    def package(self) -> str:
        return self.module.split(".")[0]


def project_packages() -> set[str]:
    return {p.name for p in ROOT.iterdir()
            if (p / "__init__.py").exists() and p.name not in OUTSIDE}


def _module_name(path: Path) -> list[str]:
    parts = list(path.with_suffix("").parts)
    return parts[:-1] if parts[-1] == "__init__" else parts


def imports_in(source: str, path: Path) -> Iterator[Import]:
    """Every module ``source`` (the file at ``path``, relative to ROOT) imports, absolute."""
    here = _module_name(path)
    package = here if path.name == "__init__.py" else here[:-1]
    for node in ast.walk(ast.parse(source, filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(path, node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - (node.level - 1)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            yield Import(path, node.lineno, module)
        elif (isinstance(node, ast.Call) and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
              and ast.unparse(node.func) in {"__import__", "importlib.import_module"}):
            yield Import(path, node.lineno, node.args[0].value)


def project_imports() -> Iterator[Import]:
    """Imports between the project's packages (a package importing itself is not one)."""
    packages = project_packages()
    for package in sorted(packages):
        for file in sorted((ROOT / package).rglob("*.py")):
            rel = file.relative_to(ROOT)
            for found in imports_in(file.read_text(encoding="utf-8"), rel):
                if found.package in packages and found.package != package:
                    yield found


def upward(found: Import) -> bool:
    return LAYER_OF[found.package] >= LAYER_OF[found.path.parts[0]]


def _allowed(package: str) -> str:
    below = [p for level in LAYERS[:LAYER_OF[package]] for p in level]
    return ", ".join(below) or "nothing of the project"


def test_every_package_has_a_declared_layer() -> None:
    undeclared = sorted(project_packages() - set(LAYER_OF))
    assert not undeclared, (
        f"package(s) {', '.join(undeclared)} have no layer: add them to LAYERS in "
        "tests/test_layers.py (and the README's layout table)")
    assert not set(LAYER_OF) - project_packages(), "LAYERS names a package that is gone"


def test_imports_only_point_down_the_layers() -> None:
    wrong = [
        f"{found.path}:{found.line} imports {found.module}: {found.path.parts[0]} may import "
        f"only {_allowed(found.path.parts[0])}"
        for found in project_imports() if upward(found)
    ]
    assert not wrong, "imports up or across the layers:\n  " + "\n  ".join(wrong)


def test_lazy_relative_and_type_only_imports_are_seen() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from voicegate import node\n"
        "def later():\n    from ..models import db\n    import node_sync.client\n"
        "    __import__('master.cli', fromlist=['register'])\n"
        "from . import system\n"
    )
    found = {(i.line, i.module) for i in imports_in(source, Path("admin/sub/views.py"))}
    assert {(3, "voicegate"), (5, "admin.models"), (6, "node_sync.client"),
            (7, "master.cli"), (8, "admin.sub")} <= found


def graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {p: set() for p in project_packages()}
    for found in project_imports():
        edges[found.path.parts[0]].add(found.package)
    return edges


if __name__ == "__main__":
    for package, targets in sorted(graph().items(), key=lambda kv: (LAYER_OF.get(kv[0], 99),
                                                                    kv[0])):
        print(f"{package} -> {', '.join(sorted(targets)) or '-'}")
    sys.exit(0)
