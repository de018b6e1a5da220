"""The rules a sign-in password must meet, and what is stored for it."""

from __future__ import annotations

import pytest

from coaching_assistant.core.errors import CoachingError
from coaching_assistant.services.users import MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS, hash_password, passwords


@pytest.mark.parametrize(("password", "code"), [
    ("x" * (MIN_PASSWORD_CHARS - 1), "password_too_short"),
    ("", "password_too_short"),
    ("x" * (MAX_PASSWORD_CHARS + 1), "password_too_long"),
])
def test_a_password_outside_the_limits_is_refused_with_its_code(password, code):
    with pytest.raises(CoachingError) as refused:
        hash_password(password)
    assert refused.value.code == code and refused.value.status_code == 422
    assert str(MIN_PASSWORD_CHARS if code == "password_too_short" else MAX_PASSWORD_CHARS) in refused.value.message


@pytest.mark.parametrize("password", ["x" * MIN_PASSWORD_CHARS, "口令" * 5, "y" * MAX_PASSWORD_CHARS])
def test_the_stored_hash_is_argon2id_salted_and_never_the_password(password):
    first, second = hash_password(password), hash_password(password)
    assert first.startswith("$argon2id$") and password not in first
    assert first != second  # a salt of its own each time
    assert passwords.verify(password, first) and not passwords.verify(password + "!", first)
