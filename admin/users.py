"""Admin accounts: argon2 password hashes and the two roles."""

from __future__ import annotations

import functools
import logging

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from models import User, db

log = logging.getLogger(__name__)

ROLES = {"admin": "Administrator", "user": "Benutzer"}
MIN_PASSWORD_LENGTH = 10

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the user does not exist, so a wrong name costs as long as a wrong
    password."""
    return _hasher.hash("voicegate-no-such-user")


class UserError(ValueError):
    """A user cannot be created as asked (message in German)."""


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def create_user(username: str, password: str, role: str = "user") -> User:
    """Add a user (caller commits)."""
    username = username.strip()
    if not username:
        raise UserError("Der Benutzername darf nicht leer sein.")
    if role not in ROLES:
        raise UserError(f"Unbekannte Rolle „{role}“ (erlaubt: {', '.join(ROLES)}).")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"Das Passwort muss mindestens {MIN_PASSWORD_LENGTH} Zeichen lang sein.")
    if db.session.scalar(db.select(User).filter_by(username=username)) is not None:
        raise UserError(f"Den Benutzer „{username}“ gibt es schon.")
    user = User(username=username, password_hash=hash_password(password), role=role)
    db.session.add(user)
    return user


def authenticate(username: str, password: str) -> User | None:
    """The user when name and password match, else None. Upgrades outdated hashes."""
    user = db.session.scalar(db.select(User).filter_by(username=username.strip()))
    try:
        _hasher.verify(user.password_hash if user else _dummy_hash(), password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if user is None:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        db.session.commit()
    return user
