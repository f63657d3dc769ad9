"""German error pages."""

from __future__ import annotations

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

MESSAGES = {
    403: ("Keine Berechtigung", "Diese Seite ist Administratoren vorbehalten."),
    404: ("Nicht gefunden", "Diese Seite oder diesen Eintrag gibt es nicht (mehr)."),
    405: ("Nicht erlaubt", "Diese Aktion ist so nicht möglich."),
}


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError) -> tuple[str, int]:
        return render_template(
            "errors.html", title="Formular abgelaufen",
            message="Das Formular ist abgelaufen oder unvollständig. Bitte laden Sie die Seite "
                    "neu und versuchen Sie es noch einmal."), 400

    for code, (title, message) in MESSAGES.items():
        def handler(error: HTTPException, title: str = title, message: str = message,
                    code: int = code) -> tuple[str, int]:
            return render_template("errors.html", title=title, message=message), code

        app.register_error_handler(code, handler)
