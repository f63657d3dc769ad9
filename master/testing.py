"""Helpers for tests and benchmarks: a real master over HTTPS on 127.0.0.1 with a fresh CA that
records every body it receives (the privacy tests scan them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask

from . import registry
from .app import create_master_app
from .models import Node, mdb
from .pki import MasterPki
from .privacy_scan import BodyRecorder, files_below, find_markers
from .server import MasterServer


@dataclass
class RunningMaster:
    data_dir: Path
    app: Flask
    recorder: BodyRecorder
    host: str = "127.0.0.1"
    port: int = 0
    server: MasterServer | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    @property
    def ca_file(self) -> Path:
        return self.data_dir / "pki" / "ca.crt"

    def start(self) -> RunningMaster:
        pki: MasterPki = self.app.extensions["voicegate_master_pki"]
        self.server = MasterServer(self.host, self.port, self.recorder, pki.server_context())
        self.port = self.server.port
        self.server.start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def add_node(self, name: str, customer: str = "") -> str:
        """Create node ``name`` and return a one-time enrolment token."""
        with self.app.app_context():
            node = registry.create_node(name, customer)
            return registry.issue_token(node, 1.0)

    def node(self, name: str) -> Node:
        """The node row (detached; read attributes only)."""
        with self.app.app_context():
            node = mdb.session.query(Node).filter_by(name=name).one()
            mdb.session.expunge(node)
            return node

    def scan_for(self, markers: list[str]) -> list[str]:
        """Where any marker occurs in what this master received or stored (request lines,
        headers and bodies; every file of its data dir, WAL included)."""
        return find_markers(markers, bodies=self.recorder.bodies(),
                            files=files_below(self.data_dir))

    def on_node(self, name: str, fn: Any, *args: Any) -> Any:
        """``fn(node, *args)`` inside the master's app context, e.g.
        ``master.on_node("kunde-a", registry.add_number, "4930123456")``."""
        with self.app.app_context():
            node = mdb.session.query(Node).filter_by(name=name).one()
            return fn(node, *args)


def start_master(data_dir: Path, test_config: dict[str, Any] | None = None) -> RunningMaster:
    """CA for 127.0.0.1/localhost, the app, a recording middleware and the HTTPS server."""
    MasterPki(data_dir / "pki").init(["127.0.0.1", "localhost"])
    app = create_master_app(data_dir, test_config)
    return RunningMaster(data_dir=data_dir, app=app, recorder=BodyRecorder(app.wsgi_app)).start()

