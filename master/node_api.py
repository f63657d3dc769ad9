"""The API nodes talk to: enrol (one-time token), then config and health with their client
certificate.

The node is identified only by the certificate the TLS layer verified (``SSL_CLIENT_CERT`` in the
WSGI environ, as werkzeug, nginx and Apache name it); no URL or body field names a node, so a
node has no way to address another node's records.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, current_app, g, jsonify, request
from flask.typing import ResponseReturnValue

from sync_contract.health_schema import HealthError, validate_health

from . import registry
from .pki import CertificateAuthority

log = logging.getLogger(__name__)

bp = Blueprint("node_api", __name__, url_prefix="/api/node/v1")


def _ca() -> CertificateAuthority:
    return current_app.extensions["voicegate_master_ca"]


def _json_body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise registry.RegistryError("JSON-Objekt erwartet")
    return data


@bp.errorhandler(registry.RegistryError)
def _refused(exc: registry.RegistryError) -> ResponseReturnValue:
    return jsonify(error=str(exc)), exc.status


@bp.before_request
def _authenticate() -> None:
    if request.endpoint == "node_api.enroll":
        return
    g.node = registry.authenticate(request.environ.get("SSL_CLIENT_CERT"), _ca(), request.path)


@bp.post("/enroll")
def enroll() -> ResponseReturnValue:
    data = _json_body()
    node, cert = registry.enroll(
        data.get("token"), data.get("csr"), _ca(), current_app.config["NODE_CERT_DAYS"]
    )
    return jsonify(node_id=node.id, node_name=node.name, certificate=cert), 201


@bp.post("/renew")
def renew() -> ResponseReturnValue:
    data = _json_body()
    cert = registry.renew(g.node, data.get("csr"), _ca(), current_app.config["NODE_CERT_DAYS"])
    return jsonify(certificate=cert), 201


@bp.get("/config")
def config() -> ResponseReturnValue:
    return jsonify(registry.config_answer(g.node))


@bp.post("/health")
def health() -> ResponseReturnValue:
    try:
        report = validate_health(_json_body())
    except HealthError as exc:
        log.warning("Zustandsmeldung von Knoten %s abgelehnt: %s", g.node.name, exc)
        raise registry.RegistryError(f"Zustandsmeldung ungültig: {exc}") from exc
    registry.record_health(
        g.node,
        report,
        replay_window_s=current_app.config["REPLAY_WINDOW_S"],
        retention_days=current_app.config["HEALTH_RETENTION_DAYS"],
    )
    return jsonify(ok=True, config_version=g.node.config_version)
