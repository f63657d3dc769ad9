"""The operator UI: nodes, node detail with health history, numbers. German, server-rendered."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue

from sync_contract.config_schema import (
    ENGINE_CHOICES,
    ENGINE_LABELS,
    LIMITS,
    MODEL_KEYS,
    ConfigError,
)
from sync_contract.health_schema import ENGINE_STATES

from . import overview, registry
from .models import Node
from .operator_auth import login_required

bp = Blueprint("master_ui", __name__, template_folder="templates")


@bp.app_context_processor
def _helpers() -> dict[str, Any]:
    return {
        "health_label": lambda node: overview.health_label(
            node, current_app.config["STALE_AFTER_S"]
        ),
        "engine_state": lambda value: ENGINE_STATES.get(value, value),
        "gib": lambda value: f"{value / 2**30:.1f} GiB".replace(".", ","),
    }


def _node(name: str) -> Node:
    node = overview.find_node(name)
    if node is None:
        abort(404)
    return node


@bp.route("/anmelden", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    if request.method == "POST":
        operator = registry.check_operator(
            request.form.get("username", ""), request.form.get("password", "")
        )
        if operator is not None:
            session.clear()
            session["operator_id"] = operator.id
            target = request.args.get("next", "")
            return redirect(target if target.startswith("/") and not target.startswith("//")
                            else url_for("master_ui.nodes"))
        flash("Benutzername oder Passwort falsch.", "fehler")
    return render_template("master/login.html")


@bp.post("/abmelden")
def logout() -> ResponseReturnValue:
    session.clear()
    return redirect(url_for("master_ui.login"))


@bp.get("/")
@login_required
def nodes() -> ResponseReturnValue:
    return render_template("master/nodes.html", nodes=overview.all_nodes())


@bp.route("/knoten/neu", methods=["GET", "POST"])
@login_required
def new_node() -> ResponseReturnValue:
    if request.method == "POST":
        try:
            node = registry.create_node(
                request.form.get("name", "").strip(),
                request.form.get("customer", "").strip(),
                request.form.get("address", "").strip(),
            )
        except registry.RegistryError as exc:
            flash(str(exc), "fehler")
            return render_template("master/node_new.html", form=request.form), 400
        token = registry.issue_token(node, current_app.config["ENROLL_TOKEN_HOURS"])
        return render_template("master/token.html", node=node, token=token), 201
    return render_template("master/node_new.html", form={})


@bp.get("/knoten/<name>")
@login_required
def node_detail(name: str) -> ResponseReturnValue:
    node = _node(name)
    return render_template(
        "master/node_detail.html",
        node=node,
        history=overview.health_history(node, 50),
        config=node.desired_config or {},
        engine_choices=ENGINE_CHOICES,
        engine_labels=ENGINE_LABELS,
        model_keys=MODEL_KEYS,
        limits=LIMITS,
    )


def _config_from_form(form: Any) -> dict[str, Any]:
    engines = {k: form.get(k, "") for k in ENGINE_CHOICES if form.get(k)}
    engines.update({k: form.get(k, "").strip() for k in MODEL_KEYS if form.get(k, "").strip()})
    features: dict[str, bool] = {}
    for line in form.get("features", "").splitlines():
        if not line.strip():
            continue
        name, _, value = line.partition(":")
        if value.strip().lower() not in {"an", "aus"}:
            raise ConfigError(f"Funktionsschalter {name.strip()[:40]!r}: 'an' oder 'aus' angeben")
        features[name.strip()] = value.strip().lower() == "an"
    limits: dict[str, int] = {}
    for key in LIMITS:
        value = form.get(f"limit_{key}", "").strip()
        if value:
            if not value.isdigit():
                raise ConfigError(f"{LIMITS[key][2]}: ganze Zahl erwartet")
            limits[key] = int(value)
    return {
        "software_version": form.get("software_version", "").strip(),
        "engines": engines,
        "features": features,
        "limits": limits,
    }


@bp.post("/knoten/<name>/konfiguration")
@login_required
def save_config(name: str) -> ResponseReturnValue:
    node = _node(name)
    try:
        registry.set_config(node, _config_from_form(request.form))
    except ConfigError as exc:
        flash(f"Konfiguration nicht gespeichert: {exc}", "fehler")
    else:
        flash(f"Konfiguration gespeichert (Version {node.config_version}).", "ok")
    return redirect(url_for("master_ui.node_detail", name=name))


@bp.post("/knoten/<name>/nummern")
@login_required
def add_number(name: str) -> ResponseReturnValue:
    node = _node(name)
    try:
        registry.add_number(
            node, request.form.get("number", "").strip(), request.form.get("label", "").strip()
        )
    except (registry.RegistryError, ConfigError) as exc:
        flash(str(exc), "fehler")
    else:
        flash("Rufnummer zugeordnet.", "ok")
    return redirect(url_for("master_ui.node_detail", name=name))


@bp.post("/nummern/<number>/entfernen")
@login_required
def remove_number(number: str) -> ResponseReturnValue:
    try:
        registry.remove_number(number)
    except registry.RegistryError as exc:
        flash(str(exc), "fehler")
    else:
        flash(f"Rufnummer {number} entfernt.", "ok")
    back = request.form.get("back", "")
    if not back.startswith("/") or back.startswith("//"):
        back = url_for("master_ui.numbers")
    return redirect(back)


@bp.post("/knoten/<name>/token")
@login_required
def new_token(name: str) -> ResponseReturnValue:
    node = _node(name)
    if node.state == "gesperrt":
        node.state = "wartet"
    token = registry.issue_token(node, current_app.config["ENROLL_TOKEN_HOURS"])
    return render_template("master/token.html", node=node, token=token)


@bp.post("/knoten/<name>/sperren")
@login_required
def revoke(name: str) -> ResponseReturnValue:
    count = registry.revoke_node(_node(name))
    flash(f"Knoten gesperrt, {count} Zertifikat(e) widerrufen.", "ok")
    return redirect(url_for("master_ui.node_detail", name=name))


@bp.get("/nummern")
@login_required
def numbers() -> ResponseReturnValue:
    return render_template("master/numbers.html", numbers=overview.all_numbers())
