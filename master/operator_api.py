"""JSON API for the platform operator (HTTP Basic with an operator login): the same data and
actions as the UI."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from sync_contract.config_schema import ConfigError

from . import overview, registry
from .models import Node
from .operator_auth import basic_auth_required

bp = Blueprint("operator_api", __name__, url_prefix="/api/v1")


@bp.errorhandler(registry.RegistryError)
def _refused(exc: registry.RegistryError) -> ResponseReturnValue:
    return jsonify(error=str(exc)), exc.status


@bp.errorhandler(ConfigError)
def _invalid(exc: ConfigError) -> ResponseReturnValue:
    return jsonify(error=str(exc)), 400


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise registry.RegistryError("JSON-Objekt erwartet")
    return data


def _node(name: str) -> Node:
    node = overview.find_node(name)
    if node is None:
        raise registry.RegistryError(f"Knoten {name} unbekannt", 404)
    return node


def _stale() -> int:
    return current_app.config["STALE_AFTER_S"]


@bp.get("/nodes")
@basic_auth_required
def list_nodes() -> ResponseReturnValue:
    return jsonify(nodes=[overview.node_to_json(n, _stale()) for n in overview.all_nodes()])


@bp.post("/nodes")
@basic_auth_required
def create_node() -> ResponseReturnValue:
    data = _body()
    node = registry.create_node(
        str(data.get("name", "")), str(data.get("customer", "")), str(data.get("address", ""))
    )
    token = registry.issue_token(node, current_app.config["ENROLL_TOKEN_HOURS"])
    return jsonify(node=overview.node_to_json(node, _stale()), enrollment_token=token), 201


@bp.get("/nodes/<name>")
@basic_auth_required
def show_node(name: str) -> ResponseReturnValue:
    return jsonify(overview.node_to_json(_node(name), _stale(), detail=True))


@bp.put("/nodes/<name>/config")
@basic_auth_required
def put_config(name: str) -> ResponseReturnValue:
    node = _node(name)
    registry.set_config(node, _body().get("config"))
    return jsonify(overview.node_to_json(node, _stale(), detail=True))


@bp.get("/nodes/<name>/health")
@basic_auth_required
def node_health(name: str) -> ResponseReturnValue:
    limit = min(max(request.args.get("limit", 50, type=int), 1), 1000)
    rows = overview.health_history(_node(name), limit)
    return jsonify(health=[overview.health_to_json(r) for r in rows])


@bp.post("/nodes/<name>/token")
@basic_auth_required
def new_token(name: str) -> ResponseReturnValue:
    node = _node(name)
    if node.state == "gesperrt":
        node.state = "wartet"
    token = registry.issue_token(node, current_app.config["ENROLL_TOKEN_HOURS"])
    return jsonify(enrollment_token=token), 201


@bp.post("/nodes/<name>/revoke")
@basic_auth_required
def revoke(name: str) -> ResponseReturnValue:
    revoked = registry.revoke_node(_node(name))
    return jsonify(revoked_certificates=revoked)


@bp.get("/numbers")
@basic_auth_required
def list_numbers() -> ResponseReturnValue:
    return jsonify(numbers=[
        {"number": n.number, "label": n.label, "node": n.node.name}
        for n in overview.all_numbers()
    ])


@bp.post("/numbers")
@basic_auth_required
def add_number() -> ResponseReturnValue:
    data = _body()
    node = _node(str(data.get("node", "")))
    row = registry.add_number(node, data.get("number"), data.get("label", ""))
    return jsonify(number=row.number, label=row.label, node=node.name), 201


@bp.delete("/numbers/<number>")
@basic_auth_required
def delete_number(number: str) -> ResponseReturnValue:
    registry.remove_number(number)
    return "", 204
