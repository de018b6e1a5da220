"""Signing in with email and password: the cookie, its limits, its expiry and what it may do."""

from __future__ import annotations

import uuid
from datetime import timedelta
from http.cookies import SimpleCookie

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from coaching_assistant.core.config import get_settings
from coaching_assistant.models import WebSession, utcnow
from coaching_assistant.services import users, web_sessions
from coaching_assistant.services.sign_in_limits import KEY_PREFIX
from tests.conftest import make_user

PASSWORD = "a long enough password"
SIGN_IN = "/api/v1/auth/sign-in"
SESSIONS = "/api/v1/sessions"


@pytest.fixture(autouse=True)
def _no_failures_counted(redis_client):
    """Every test starts with no failed sign-ins counted (TestClient's address is always the same)."""
    def forget() -> None:
        for key in redis_client.scan_iter(KEY_PREFIX + "*"):
            redis_client.delete(key)

    forget()
    yield
    forget()


def coach(password: str | None = PASSWORD) -> tuple[str, str]:
    """A new user with this password; returns (email, API key)."""
    user, key = make_user()
    if password is not None:
        from coaching_assistant.core.database import new_session

        with new_session() as db:
            users.set_password(db, email=user.email, password=password)
    return user.email, key


def sign_in(client: TestClient, email: str, password: str = PASSWORD, **headers: str):
    response = client.post(SIGN_IN, json={"email": email, "password": password}, headers=headers)
    client.cookies.clear()  # each request below says which cookie it sends
    return response


def cookie_of(response) -> dict[str, str]:
    """The session cookie the response set, as request headers."""
    jar = SimpleCookie(response.headers["set-cookie"])
    return {"Cookie": f"ca_session={jar['ca_session'].value}"}


def stored_session(browser: dict[str, str]):
    """The WHERE clause for the browser's row in web_session."""
    return WebSession.token_hash == web_sessions.hash_token(SimpleCookie(browser["Cookie"])["ca_session"].value)


def signed_in(client: TestClient, email: str) -> dict[str, str]:
    """Request headers for a signed-in browser: its cookie and the CSRF token for writes."""
    response = sign_in(client, email)
    assert response.status_code == 200, response.text
    return {**cookie_of(response), "X-CSRF-Token": response.json()["csrf_token"]}


# --- signing in -----------------------------------------------------------------------------------

def test_sign_in_sets_an_httponly_lax_cookie_that_is_not_secure_over_http(client):
    email, _ = coach()
    response = sign_in(client, email.upper())
    assert response.status_code == 200, response.text
    assert response.json()["email"] == email and len(response.json()["csrf_token"]) >= 32
    morsel = SimpleCookie(response.headers["set-cookie"])["ca_session"]
    assert morsel["httponly"] and morsel["samesite"] == "lax" and morsel["path"] == "/"
    assert not morsel["secure"]
    assert len(morsel.value) >= 40 and morsel.value not in response.text


def test_only_the_token_hash_is_stored(client, db):
    email, _ = coach()
    token = SimpleCookie(sign_in(client, email).headers["set-cookie"])["ca_session"].value
    stored = db.scalars(select(WebSession.token_hash)).all()
    assert web_sessions.hash_token(token) in stored and token not in stored


def test_the_cookie_is_secure_over_https(app, backends):
    email, _ = coach()
    with TestClient(app, base_url="https://testserver") as https_client:
        response = sign_in(https_client, email)
    assert response.status_code == 200, response.text
    assert SimpleCookie(response.headers["set-cookie"])["ca_session"]["secure"]


@pytest.mark.parametrize("trusted", [True, False])
def test_x_forwarded_proto_counts_only_from_a_trusted_proxy(client, settings, monkeypatch, trusted):
    monkeypatch.setattr(settings, "trust_proxy_headers", trusted)
    email, _ = coach()
    response = sign_in(client, email, **{"X-Forwarded-Proto": "https"})
    assert response.status_code == 200, response.text
    assert bool(SimpleCookie(response.headers["set-cookie"])["ca_session"]["secure"]) is trusted


def test_a_wrong_password_an_unknown_email_and_a_user_without_password_get_the_same_answer(client):
    email, _ = coach()
    keyless, _ = coach(password=None)
    answers = [sign_in(client, email, "the wrong password"),
               sign_in(client, f"nobody-{uuid.uuid4().hex[:8]}@example.com"),
               sign_in(client, keyless, PASSWORD)]
    assert {(r.status_code, r.text) for r in answers} == {
        (401, '{"code":"invalid_credentials","message":"The email or the password is wrong."}')}
    assert not any("set-cookie" in r.headers for r in answers)


def test_sign_in_needs_no_key_but_its_body_is_capped(client, settings):
    too_big = settings.max_json_body_bytes + 1
    response = client.post(SIGN_IN, content=b"{}", headers={"Content-Length": str(too_big),
                                                            "Content-Type": "application/json"})
    assert response.status_code == 413 and response.json()["code"] == "body_too_large"
    assert client.post(SIGN_IN, json={"email": "x@example.com"}).json()["code"] == "validation_error"


def test_sign_in_without_its_attempt_counter_is_503_not_unlimited(client, settings, monkeypatch):
    email, _ = coach()
    monkeypatch.setattr(settings, "celery_broker_url", "redis://127.0.0.1:1/0")
    response = sign_in(client, email)
    assert response.status_code == 503 and response.json()["code"] == "service_unavailable"
    assert "set-cookie" not in response.headers and response.headers["Retry-After"]


# --- limits on failures ---------------------------------------------------------------------------

def test_failures_are_limited_per_account_with_retry_after(client, settings, monkeypatch):
    monkeypatch.setattr(settings, "sign_in_failures_per_email", 3)
    email, _ = coach()
    other, _ = coach()
    for _ in range(3):
        assert sign_in(client, email, "not the password").status_code == 401
    for password in ("not the password", PASSWORD):  # now even the right one waits
        limited = sign_in(client, email, password)
        assert limited.status_code == 429 and limited.json()["code"] == "sign_in_rate_limited"
        assert 0 < int(limited.headers["Retry-After"]) <= settings.sign_in_failure_window_minutes * 60
    assert sign_in(client, other).status_code == 200  # another account from the same address


def test_an_unknown_email_is_limited_like_a_known_one(client, settings, monkeypatch):
    monkeypatch.setattr(settings, "sign_in_failures_per_email", 2)
    email, _ = coach()
    unknown = f"nobody-{uuid.uuid4().hex[:8]}@example.com"
    answers = {}
    for address in (email, unknown):
        answers[address] = [sign_in(client, address, "not the password") for _ in range(3)]
    assert [(r.status_code, r.json()) for r in answers[email]] == \
           [(r.status_code, r.json()) for r in answers[unknown]]
    assert [r.status_code for r in answers[email]] == [401, 401, 429]


def test_a_successful_sign_in_clears_its_accounts_failures(client, settings, monkeypatch):
    monkeypatch.setattr(settings, "sign_in_failures_per_email", 3)
    email, _ = coach()
    for _ in range(2):
        sign_in(client, email, "not the password")
    assert sign_in(client, email).status_code == 200
    for _ in range(3):
        assert sign_in(client, email, "not the password").status_code == 401


def test_failures_are_limited_per_client_address(client, settings, monkeypatch):
    monkeypatch.setattr(settings, "sign_in_failures_per_address", 3)
    monkeypatch.setattr(settings, "trust_proxy_headers", True)
    email, _ = coach()
    for _ in range(3):  # a different account each time: only the address limit applies
        assert sign_in(client, f"guess-{uuid.uuid4().hex[:8]}@example.com", **{"X-Forwarded-For": "203.0.113.7"}
                       ).status_code == 401
    limited = sign_in(client, email, **{"X-Forwarded-For": "203.0.113.7"})
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    assert sign_in(client, email, **{"X-Forwarded-For": "198.51.100.2"}).status_code == 200


def test_an_untrusted_x_forwarded_for_does_not_escape_the_address_limit(client, settings, monkeypatch):
    monkeypatch.setattr(settings, "sign_in_failures_per_address", 2)
    email, _ = coach()
    for n in range(2):
        sign_in(client, f"guess-{uuid.uuid4().hex[:8]}@example.com", **{"X-Forwarded-For": f"192.0.2.{n}"})
    assert sign_in(client, email, **{"X-Forwarded-For": "192.0.2.99"}).status_code == 429


# --- what the cookie does -------------------------------------------------------------------------

def test_the_cookie_works_on_the_existing_endpoints(client):
    email, key = coach()
    browser = signed_in(client, email)
    created = client.post(SESSIONS, json={"title": "Weekly"}, headers=browser)
    assert created.status_code == 201, created.text
    listed = client.get(SESSIONS, headers={"Cookie": browser["Cookie"]})
    assert listed.status_code == 200 and [s["id"] for s in listed.json()["items"]] == [created.json()["id"]]
    with_key = client.get(SESSIONS, headers={"Authorization": f"Bearer {key}"})
    assert with_key.json()["items"] == listed.json()["items"]


def test_me_says_who_is_signed_in_and_how(client):
    email, key = coach()
    browser = signed_in(client, email)
    by_cookie = client.get("/api/v1/me", headers={"Cookie": browser["Cookie"]}).json()
    limits = by_cookie.pop("upload_limits")
    assert by_cookie == {"email": email, "has_password": True, "has_api_key": True,
                         "api_key_prefix": key[:10], "csrf_token": browser["X-CSRF-Token"]}
    settings = get_settings()
    assert limits == {"max_bytes": settings.max_upload_bytes, "max_seconds": settings.max_audio_seconds,
                      "formats": ["flac", "m4a", "mp3", "ogg", "wav", "webm"]}
    by_key = client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"}).json()
    assert by_key["csrf_token"] is None and by_key["email"] == email


def test_without_key_or_cookie_or_with_a_made_up_cookie_is_401(client):
    assert client.get(SESSIONS).json()["code"] == "unauthorized"
    made_up = client.get(SESSIONS, headers={"Cookie": "ca_session=" + "x" * 43})
    assert made_up.status_code == 401 and made_up.json()["code"] == "unauthorized"


def test_a_bad_key_is_refused_even_with_a_good_cookie(client):
    email, _ = coach()
    browser = signed_in(client, email)
    response = client.get(SESSIONS, headers={"Cookie": browser["Cookie"], "Authorization": "Bearer ca_nope"})
    assert response.status_code == 401 and response.json()["code"] == "invalid_api_key"


def test_two_users_are_isolated_through_cookies_as_through_keys(client):
    first, first_key = coach()
    second, second_key = coach()
    first_browser, second_browser = signed_in(client, first), signed_in(client, second)
    sid = client.post(SESSIONS, json={"title": "Private"}, headers=first_browser).json()["id"]
    for headers in (second_browser, {"Authorization": f"Bearer {second_key}"}):
        assert client.get(f"{SESSIONS}/{sid}", headers=headers).status_code == 404
        assert client.delete(f"{SESSIONS}/{sid}", headers=headers).status_code == 404
        assert client.get(SESSIONS, headers=headers).json()["items"] == []
    assert client.get(f"{SESSIONS}/{sid}", headers={"Authorization": f"Bearer {first_key}"}).status_code == 200
    assert client.get(f"{SESSIONS}/{sid}", headers=first_browser).status_code == 200


# --- how a session ends ---------------------------------------------------------------------------

def test_sign_out_ends_the_session_and_clears_the_cookie(client):
    email, _ = coach()
    browser = signed_in(client, email)
    other_browser = signed_in(client, email)
    response = client.post("/api/v1/auth/sign-out", headers=browser)
    assert response.status_code == 204
    cleared = SimpleCookie(response.headers["set-cookie"])["ca_session"]
    assert cleared.value in ("", '""') and cleared["max-age"] == "0"
    assert client.get(SESSIONS, headers=browser).status_code == 401
    assert client.get(SESSIONS, headers=other_browser).status_code == 200  # only this browser


def test_a_session_idle_for_too_long_has_expired(client, db, settings):
    email, _ = coach()
    browser = signed_in(client, email)
    assert client.get(SESSIONS, headers=browser).status_code == 200
    idle = timedelta(minutes=settings.web_session_idle_minutes)
    this = stored_session(browser)
    db.execute(update(WebSession).where(this).values(last_seen_at=utcnow() - idle + timedelta(minutes=1)))
    db.commit()
    assert client.get(SESSIONS, headers=browser).status_code == 200  # a minute left: and it is renewed
    db.expire_all()
    assert utcnow() - db.scalar(select(WebSession.last_seen_at).where(this)) < timedelta(minutes=1)
    db.execute(update(WebSession).where(this).values(last_seen_at=utcnow() - idle - timedelta(seconds=1)))
    db.commit()
    expired = client.get(SESSIONS, headers=browser)
    assert expired.status_code == 401 and "sign in again" in expired.json()["message"]


def test_the_idle_limit_is_a_setting(client, settings, monkeypatch, db):
    email, _ = coach()
    browser = signed_in(client, email)
    monkeypatch.setattr(settings, "web_session_idle_minutes", 0.01)
    db.execute(update(WebSession).where(stored_session(browser)).values(last_seen_at=utcnow() - timedelta(seconds=2)))
    db.commit()
    assert client.get(SESSIONS, headers=browser).status_code == 401


def test_a_session_ends_at_its_absolute_cap_however_active(client, db):
    email, _ = coach()
    browser = signed_in(client, email)
    db.execute(update(WebSession).where(stored_session(browser)).values(expires_at=utcnow()))
    db.commit()
    assert client.get(SESSIONS, headers=browser).status_code == 401
    assert db.scalar(select(WebSession).where(stored_session(browser))) is None


def test_a_new_password_signs_the_user_out_everywhere(client, db):
    email, key = coach()
    browser = signed_in(client, email)
    users.set_password(db, email=email, password="a different long password")
    assert client.get(SESSIONS, headers=browser).status_code == 401
    assert client.get(SESSIONS, headers={"Authorization": f"Bearer {key}"}).status_code == 200


# --- CSRF -----------------------------------------------------------------------------------------

def csrf_refused(response) -> bool:
    return response.status_code == 403 and response.json()["code"] == "csrf_failed"


def test_a_cookie_write_without_the_right_csrf_token_is_refused_before_its_body(client):
    email, _ = coach()
    other, _ = coach()
    browser = signed_in(client, email)
    cookie = {"Cookie": browser["Cookie"]}
    wrong = [cookie, {**cookie, "X-CSRF-Token": ""}, {**cookie, "X-CSRF-Token": "0" * 64},
             {**cookie, "X-CSRF-Token": signed_in(client, other)["X-CSRF-Token"]},  # another session's
             {**cookie, "X-CSRF-Token": signed_in(client, email)["X-CSRF-Token"]}]  # the same user's other one
    for headers in wrong:
        refused = client.post(SESSIONS, json={"title": "Forged"}, headers=headers)
        assert csrf_refused(refused) and refused.headers["Connection"] == "close"
    assert client.get(SESSIONS, headers=cookie).json()["items"] == []  # nothing was made
    assert client.post(SESSIONS, json={"title": "Mine"}, headers=browser).status_code == 201


def test_every_write_method_needs_the_token_and_reads_do_not(client):
    email, _ = coach()
    browser = signed_in(client, email)
    cookie = {"Cookie": browser["Cookie"]}
    sid = client.post(SESSIONS, json={"title": "Kept"}, headers=browser).json()["id"]
    assert client.get(f"{SESSIONS}/{sid}", headers=cookie).status_code == 200
    assert client.get("/api/v1/me", headers=cookie).status_code == 200
    assert csrf_refused(client.delete(f"{SESSIONS}/{sid}", headers=cookie))
    assert csrf_refused(client.patch(f"{SESSIONS}/{sid}/speaker-roles", json={"speaker_roles": {}}, headers=cookie))
    assert csrf_refused(client.put(f"{SESSIONS}/{sid}", json={}, headers=cookie))
    assert csrf_refused(client.post("/api/v1/auth/sign-out", headers=cookie))
    assert client.get(f"{SESSIONS}/{sid}", headers=cookie).status_code == 200  # still there, still signed in
    assert client.delete(f"{SESSIONS}/{sid}", headers=browser).status_code == 204


def test_a_cookie_write_from_another_origin_is_refused_even_with_the_token(client):
    email, _ = coach()
    browser = signed_in(client, email)
    for origin in ("https://evil.example", "null", "https://testserver", "http://testserver.evil.example"):
        assert csrf_refused(client.post(SESSIONS, json={"title": "x"}, headers={**browser, "Origin": origin}))
    for origin in ("http://testserver", "http://testserver:80", "HTTP://TestServer"):
        assert client.post(SESSIONS, json={"title": "x"}, headers={**browser, "Origin": origin}).status_code == 201


def test_a_key_needs_no_csrf_token_even_with_a_cookie_beside_it(client):
    email, key = coach()
    browser = signed_in(client, email)
    headers = {"Authorization": f"Bearer {key}", "Cookie": browser["Cookie"], "Origin": "https://evil.example"}
    assert client.post(SESSIONS, json={"title": "Scripted"}, headers=headers).status_code == 201


def test_sign_in_from_another_origin_is_refused(client):
    email, _ = coach()
    refused = sign_in(client, email, Origin="https://evil.example")
    assert csrf_refused(refused) and "set-cookie" not in refused.headers
    assert sign_in(client, email, Origin="http://testserver").status_code == 200


def test_the_origin_of_an_https_server_is_its_https_origin(app, backends):
    email, _ = coach()
    with TestClient(app, base_url="https://testserver") as https_client:
        browser = signed_in(https_client, email)
        for origin, status in (("http://testserver", 403), ("https://testserver:443", 201)):
            response = https_client.post(SESSIONS, json={"title": "x"}, headers={**browser, "Origin": origin})
            assert response.status_code == status, response.text
