"""Users and API keys. Keys are shown once and stored only as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from coaching_assistant.models import User

KEY_PREFIX = "ca_"


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def create_user(db: Session, *, email: str) -> tuple[User, str]:
    """Create a user (or give an existing one a new key) and return it with its new API key."""
    email = email.strip().lower()
    if "@" not in email or len(email) > 320:
        raise ValueError(f"not an email address: {email!r}")
    api_key = KEY_PREFIX + secrets.token_urlsafe(32)
    user = db.scalar(select(User).where(User.email == email)) or User(email=email)
    user.api_key_hash = hash_key(api_key)
    user.api_key_prefix = api_key[:10]
    db.add(user)
    db.commit()
    return user, api_key


def authenticate(db: Session, *, api_key: str) -> User | None:
    digest = hash_key(api_key)
    user = db.scalar(select(User).where(User.api_key_hash == digest))
    # The lookup is by hash; compare again in constant time so timing says nothing about the key.
    if user is None or not hmac.compare_digest(user.api_key_hash or "", digest):
        return None
    return user


def revoke_key(db: Session, *, email: str) -> bool:
    """Remove the user's key hash so the key stops working; False if there is no such user."""
    user = db.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        return False
    user.api_key_hash = None
    user.api_key_prefix = None
    db.commit()
    return True
