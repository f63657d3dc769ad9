"""Operator authentication: a session login for the UI, HTTP Basic for the JSON API."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import g, jsonify, redirect, request, session, url_for

from . import registry
from .models import Operator, mdb

F = TypeVar("F", bound=Callable[..., Any])


def login_required(view: F) -> F:
    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        operator_id = session.get("operator_id")
        operator = mdb.session.get(Operator, operator_id) if operator_id else None
        if operator is None:
            return redirect(url_for("master_ui.login", next=request.path))
        g.operator = operator
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def basic_auth_required(view: F) -> F:
    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        auth = request.authorization
        operator = None
        if auth is not None and auth.type == "basic" and auth.username and auth.password:
            operator = registry.check_operator(auth.username, auth.password)
        if operator is None:
            response = jsonify(error="Anmeldung erforderlich")
            response.status_code = 401
            response.headers["WWW-Authenticate"] = 'Basic realm="voicegate-master"'
            return response
        g.operator = operator
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]
