"""Users, their API keys and their sign-in passwords.

Keys are shown once and stored only as a SHA-256 hash: they are random 256-bit tokens, so a fast
hash suffices and lets a key be looked up by it. Passwords are chosen by people, so they get
Argon2 (pwdlib), slow on purpose; an email without a password is checked against a dummy hash, so
the time an answer takes says nothing about whether the email exists.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import uuid

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import select
from sqlalchemy.orm import Session

from coaching_assistant.core.errors import CoachingError, ErrorCode, Unauthorized
from coaching_assistant.models import User
from coaching_assistant.services import web_sessions

KEY_PREFIX = "ca_"
SHOWN_PREFIX_CHARS = 10  # "ca_" and 7 characters of the key, kept to name it
MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 1024  # Argon2 takes any length; a cap keeps a huge one from costing more
passwords = PasswordHash((Argon2Hasher(),))


def normal_email(email: str) -> str:
    return email.strip().lower()


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def hash_password(password: str) -> str:
    """The Argon2 hash of an acceptable password; CoachingError (422) for one too short or too long."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise CoachingError(f"The password must have at least {MIN_PASSWORD_CHARS} characters.",
                            ErrorCode.PASSWORD_TOO_SHORT)
    if len(password) > MAX_PASSWORD_CHARS:
        raise CoachingError(f"The password may have at most {MAX_PASSWORD_CHARS} characters.",
                            ErrorCode.PASSWORD_TOO_LONG)
    return passwords.hash(password)


@functools.cache
def _dummy_hash() -> str:
    return passwords.hash(secrets.token_urlsafe(16))


def create_user(db: Session, *, email: str, password: str | None = None) -> tuple[User, str]:
    """Create a user (or give an existing one a new key) and return it with its new API key; with
    `password`, also set it (checked before anything is written)."""
    email = normal_email(email)
    if "@" not in email or len(email) > 320:
        raise ValueError(f"not an email address: {email!r}")
    password_hash = hash_password(password) if password is not None else None
    user = db.scalar(select(User).where(User.email == email)) or User(email=email)
    api_key = _replace_key(user)
    if password_hash is not None:
        user.password_hash = password_hash
    db.add(user)
    db.commit()
    return user, api_key


def key_prefix(api_key: str) -> str:
    """The start of a key kept with its hash, so a user can tell which key they hold."""
    return api_key[:SHOWN_PREFIX_CHARS]


def _replace_key(user: User) -> str:
    """Give `user` a new API key, so the old one (if any) stops working once committed; returns the key."""
    api_key = KEY_PREFIX + secrets.token_urlsafe(32)
    user.api_key_hash = hash_key(api_key)
    user.api_key_prefix = key_prefix(api_key)
    return api_key


def _forget_key(user: User) -> None:
    user.api_key_hash = None
    user.api_key_prefix = None


def _existing_user(db: Session, user_id: uuid.UUID) -> User:
    user = db.get(User, user_id)
    if user is None:  # deleted since the request was authenticated
        raise Unauthorized("This user no longer exists.")
    return user


def issue_key(db: Session, user_id: uuid.UUID) -> str:
    """A new API key for the user, replacing any old one at once (to be shown once: only its hash
    is stored)."""
    api_key = _replace_key(_existing_user(db, user_id))
    db.commit()
    return api_key


def revoke_user_key(db: Session, user_id: uuid.UUID) -> None:
    """Remove the user's API key, if they have one; it stops working at once."""
    _forget_key(_existing_user(db, user_id))
    db.commit()


def authenticate(db: Session, *, api_key: str) -> User | None:
    digest = hash_key(api_key)
    user = db.scalar(select(User).where(User.api_key_hash == digest))
    # The lookup is by hash; compare again in constant time so timing says nothing about the key.
    if user is None or not hmac.compare_digest(user.api_key_hash or "", digest):
        return None
    return user


def revoke_key(db: Session, *, email: str) -> bool:
    """Remove the user's key hash so the key stops working; False if there is no such user."""
    user = db.scalar(select(User).where(User.email == normal_email(email)))
    if user is None:
        return False
    _forget_key(user)
    db.commit()
    return True


def set_password(db: Session, *, email: str, password: str) -> bool:
    """Set (or replace) the user's password and sign them out of every browser; False if there is
    no such user."""
    password_hash = hash_password(password)
    user = db.scalar(select(User).where(User.email == normal_email(email)))
    if user is None:
        return False
    user.password_hash = password_hash
    web_sessions.end_all(db, user.id)
    db.commit()
    return True


def verify_password(db: Session, *, email: str, password: str) -> User | None:
    """The user whose email and password these are, else None, in the same time either way.

    A hash made with weaker parameters than today's is replaced once the password verifies."""
    user = db.scalar(select(User).where(User.email == normal_email(email)))
    stored = user.password_hash if user is not None else None
    if len(password) > MAX_PASSWORD_CHARS:
        return None  # never a valid password, whoever's
    valid, new_hash = passwords.verify_and_update(password, stored or _dummy_hash())
    if not valid or user is None or stored is None:
        return None
    if new_hash is not None:
        user.password_hash = new_hash
        db.commit()
    return user
