"""Agenten: list, create (template first), edit, duplicate and delete agents."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from agents import manage
from agents.knowledge import KnowledgeError
from agents.knowledge.store import add_document, delete_document, documents_of
from agents.manage import FORMS_OF_ADDRESS, LANGUAGES, AgentInvalid
from agents.templates import TEMPLATES
from agents.templates.base import Template
from models import Agent, TimeWindow, db

from .agent_form import (
    STEP_KINDS,
    AgentForm,
    form_for_new,
    form_from_agent,
    parse_agent_form,
    target_key_param,
)
from .audit import record as audit
from .auth import admin_required

log = logging.getLogger(__name__)

bp = Blueprint("agents", __name__, url_prefix="/agenten")


def _template_or_404(key: str) -> Template:
    template = TEMPLATES.get(key)
    if template is None:
        abort(404)
    return template


def _agent_or_404(agent_id: int) -> Agent:
    agent = db.session.get(Agent, agent_id)
    if agent is None:
        abort(404)
    return agent


def _validate(template: Template, form: AgentForm) -> dict[str, str]:
    """The form's own errors (shape) first, then the agent's (meaning)."""
    errors = dict(form.errors)
    checked = manage.check_agent(db.session, template.key, form.name, form.params,
                                 language=form.language, form_of_address=form.form_of_address)
    for key, message in checked.items():
        errors.setdefault(key, message)
    return errors


def takes_documents(template: Template) -> bool:
    return "knowledge_lookup" in template.tool_kinds


def _render_form(template: Template, form: AgentForm, agent: Agent | None) -> str:
    others = db.session.scalars(select(Agent).order_by(Agent.name)).all()
    documents = documents_of(db.session, agent.id) if agent and takes_documents(template) else []
    return render_template(
        "agents/form.html", template=template, form=form, agent=agent,
        agents=[a for a in others if agent is None or a.id != agent.id],
        languages=LANGUAGES, forms_of_address=FORMS_OF_ADDRESS, step_kinds=STEP_KINDS,
        target_key=target_key_param(template), takes_documents=takes_documents(template),
        documents=documents,
    )


@bp.get("/")
@admin_required
def index() -> str:
    agents = db.session.scalars(select(Agent).order_by(Agent.name)).all()
    window_counts = dict(db.session.execute(
        select(TimeWindow.agent_id, func.count()).group_by(TimeWindow.agent_id)).all())
    return render_template("agents/index.html", agents=agents, templates=TEMPLATES,
                           window_counts=window_counts)


@bp.get("/neu")
@admin_required
def choose_template() -> str:
    return render_template("agents/choose.html", templates=TEMPLATES)


def _fields(form: AgentForm) -> dict[str, Any]:
    return {"language": form.language, "voice": form.voice,
            "form_of_address": form.form_of_address,
            "endpoint_silence_ms": form.endpoint_silence_ms}


@bp.route("/neu/<template_key>", methods=("GET", "POST"))
@admin_required
def create(template_key: str) -> Any:
    template = _template_or_404(template_key)
    if request.method == "GET":
        return _render_form(template, form_for_new(template), None)
    form = parse_agent_form(request.form, template)
    form.errors = _validate(template, form)
    if form.errors:
        return _render_form(template, form, None), 400
    try:
        agent = manage.create_agent(db.session, template.key, form.name, form.params,
                                    **_fields(form))
    except AgentInvalid as exc:
        db.session.rollback()
        form.errors = exc.errors
        return _render_form(template, form, None), 400
    db.session.commit()
    log.info("agent %s (%s) created", agent.id, template.key)
    audit("agent.create", f"Agent „{agent.name}“", f"agent:{agent.id}", template=template.key)
    if takes_documents(template):
        flash(f"Agent „{agent.name}“ angelegt. Laden Sie jetzt die Dokumente hoch, aus denen "
              "er antwortet.", "success")
        return redirect(url_for("agents.edit", agent_id=agent.id) + "#wissen")
    flash(f"Agent „{agent.name}“ angelegt.", "success")
    return redirect(url_for("agents.index"))


@bp.route("/<int:agent_id>", methods=("GET", "POST"))
@admin_required
def edit(agent_id: int) -> Any:
    agent = _agent_or_404(agent_id)
    template = _template_or_404(agent.template)
    if request.method == "GET":
        return _render_form(template, form_from_agent(agent), agent)
    form = parse_agent_form(request.form, template)
    form.errors = _validate(template, form)
    if form.errors:
        return _render_form(template, form, agent), 400
    try:
        manage.update_agent(db.session, agent, name=form.name, params=form.params,
                            **_fields(form))
    except AgentInvalid as exc:
        db.session.rollback()
        form.errors = exc.errors
        return _render_form(template, form, agent), 400
    db.session.commit()
    audit("agent.change", f"Agent „{agent.name}“", f"agent:{agent.id}")
    flash(f"Agent „{agent.name}“ gespeichert.", "success")
    return redirect(url_for("agents.index"))


@bp.post("/<int:agent_id>/duplizieren")
@admin_required
def duplicate(agent_id: int) -> Response:
    agent = _agent_or_404(agent_id)
    copy = manage.duplicate_agent(db.session, agent)
    db.session.commit()
    audit("agent.create", f"Agent „{copy.name}“", f"agent:{copy.id}", copy_of=agent.id)
    flash(f"Kopie „{copy.name}“ angelegt.", "success")
    return redirect(url_for("agents.edit", agent_id=copy.id))


@bp.route("/<int:agent_id>/loeschen", methods=("GET", "POST"))
@admin_required
def delete(agent_id: int) -> Any:
    """GET asks (naming the time windows that go too), POST deletes."""
    agent = _agent_or_404(agent_id)
    windows = manage.windows_using(db.session, agent.id)
    if request.method == "GET":
        return render_template("agents/delete.html", agent=agent, windows=windows,
                               referencing=manage.agents_referencing(db.session, agent.id))
    name = agent.name
    windows = manage.delete_agent(db.session, agent)
    db.session.commit()
    audit("agent.delete", f"Agent „{name}“", f"agent:{agent_id}", windows=len(windows))
    message = f"Agent „{name}“ gelöscht"
    message += f", dazu {len(windows)} Zeitfenster." if windows else "."
    flash(message, "success")
    return redirect(url_for("agents.index"))


@bp.post("/<int:agent_id>/wissen")
@admin_required
def upload_document(agent_id: int) -> Response:
    """A document the agent answers from (stored for keyword search; PDF, DOCX, TXT, MD)."""
    agent = _agent_or_404(agent_id)
    if not takes_documents(_template_or_404(agent.template)):
        abort(404)
    upload = request.files.get("dokument")
    if upload is None or not upload.filename:
        flash("Bitte eine Datei auswählen.", "error")
        return redirect(url_for("agents.edit", agent_id=agent_id) + "#wissen")
    try:
        document = add_document(db.session, agent.id, upload.filename, upload.read())
    except KnowledgeError as exc:
        db.session.rollback()
        flash(f"„{upload.filename}“ wurde nicht übernommen: {exc}", "error")
        return redirect(url_for("agents.edit", agent_id=agent_id) + "#wissen")
    db.session.commit()
    pieces = len(document.chunks)
    audit("knowledge.upload", f"Agent „{agent.name}“: {document.filename}", f"agent:{agent.id}")
    flash(f"„{document.filename}“ hochgeladen ({pieces} Abschnitt{'' if pieces == 1 else 'e'}).",
          "success")
    return redirect(url_for("agents.edit", agent_id=agent_id) + "#wissen")


@bp.post("/<int:agent_id>/wissen/<int:document_id>/loeschen")
@admin_required
def delete_knowledge(agent_id: int, document_id: int) -> Response:
    agent = _agent_or_404(agent_id)
    if document_id not in {d.id for d in documents_of(db.session, agent.id)}:
        abort(404)
    delete_document(db.session, document_id)
    db.session.commit()
    audit("knowledge.delete", f"Agent „{agent.name}“: Dokument {document_id}",
          f"agent:{agent.id}")
    flash("Dokument gelöscht.", "success")
    return redirect(url_for("agents.edit", agent_id=agent_id) + "#wissen")
