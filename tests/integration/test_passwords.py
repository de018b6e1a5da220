"""Passwords in the database: set by the CLI from stdin, verified the same way for every failure."""

from __future__ import annotations

import subprocess
import uuid

from click.testing import CliRunner
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import select

from coaching_assistant.cli import main
from coaching_assistant.models import User
from coaching_assistant.services import users
from tests.conftest import BIN, base_env, make_user

PASSWORD = "correct horse battery"


def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "coaching-assistant"), *args], env=base_env(), input=stdin,
                          capture_output=True, text=True, timeout=120)


def email() -> str:
    return f"pw-{uuid.uuid4().hex[:8]}@example.com"


def stored_user(db, address: str) -> User:
    db.expire_all()
    return db.scalar(select(User).where(User.email == address))


def test_verify_password_accepts_only_the_password_of_that_email(db):
    user, _ = make_user()
    assert users.set_password(db, email=user.email.upper(), password=PASSWORD)
    assert users.verify_password(db, email=f" {user.email.upper()} ", password=PASSWORD).id == user.id
    assert users.verify_password(db, email=user.email, password=PASSWORD + "x") is None
    assert users.verify_password(db, email=email(), password=PASSWORD) is None  # no such user
    assert users.verify_password(db, email=user.email, password="y" * 5000) is None


def test_a_user_without_a_password_never_verifies(db):
    user, _ = make_user()
    assert stored_user(db, user.email).password_hash is None
    assert users.verify_password(db, email=user.email, password="") is None
    assert users.verify_password(db, email=user.email, password=PASSWORD) is None


def test_a_hash_with_weaker_parameters_is_replaced_when_the_password_verifies(db):
    user, _ = make_user()
    stored = stored_user(db, user.email)
    stored.password_hash = Argon2Hasher(time_cost=1, memory_cost=8192).hash(PASSWORD)
    db.commit()
    weak = stored.password_hash
    assert users.verify_password(db, email=user.email, password="wrong password") is None
    assert stored_user(db, user.email).password_hash == weak  # a wrong password changes nothing
    assert users.verify_password(db, email=user.email, password=PASSWORD) is not None
    renewed = stored_user(db, user.email).password_hash
    assert renewed != weak and not Argon2Hasher().check_needs_rehash(renewed)
    assert users.verify_password(db, email=user.email, password=PASSWORD) is not None


def test_create_user_reads_the_password_from_stdin_and_still_prints_the_key(db):
    address = email()
    created = cli("create-user", address, "--password-stdin", stdin=PASSWORD + "\n")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith(users.KEY_PREFIX) and PASSWORD not in created.stdout + created.stderr
    assert users.authenticate(db, api_key=key).email == address
    assert users.verify_password(db, email=address, password=PASSWORD) is not None


def test_create_user_without_the_flag_reads_nothing_and_sets_no_password(db):
    address = email()
    created = cli("create-user", address, stdin=PASSWORD + "\n")
    assert created.returncode == 0, created.stderr
    assert created.stdout.strip().splitlines()[-1].startswith(users.KEY_PREFIX)
    assert stored_user(db, address).password_hash is None


def test_a_short_password_creates_nothing(db):
    address = email()
    created = cli("create-user", address, "--password-stdin", stdin="short\n")
    assert created.returncode == 2 and "at least 10 characters" in created.stderr
    assert stored_user(db, address) is None
    empty = cli("create-user", address, "--password-stdin", stdin="")
    assert empty.returncode == 2 and "no password" in empty.stderr


def test_set_password_replaces_the_password_and_keeps_the_key(db):
    user, key = make_user()
    assert cli("set-password", user.email, "--password-stdin", stdin=PASSWORD + "\r\n").returncode == 0
    assert cli("set-password", user.email, "--password-stdin", stdin="another long one\n").returncode == 0
    assert users.verify_password(db, email=user.email, password="another long one") is not None
    assert users.verify_password(db, email=user.email, password=PASSWORD) is None
    assert users.authenticate(db, api_key=key) is not None
    unknown = cli("set-password", email(), "--password-stdin", stdin=PASSWORD + "\n")
    assert unknown.returncode == 1 and "No user" in unknown.stderr


def test_set_password_without_the_flag_asks_twice_without_echo(db):
    user, _ = make_user()
    mismatch = CliRunner().invoke(main, ["set-password", user.email], input=f"{PASSWORD}\nsomething else\n")
    assert mismatch.exit_code != 0 and stored_user(db, user.email).password_hash is None
    result = CliRunner().invoke(main, ["set-password", user.email], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    assert users.verify_password(db, email=user.email, password=PASSWORD) is not None
