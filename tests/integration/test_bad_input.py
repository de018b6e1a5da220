"""Bad input never hurts anything; keys can be revoked; nobody reaches another user's session."""

from __future__ import annotations

import uuid
from urllib.parse import quote

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from coaching_assistant.cli import main
from tests.conftest import make_user
from tests.helpers import CONVERSATION
from tests.integration.test_pipeline import run, uploaded_session
from tests.integration.test_upload import new_session, stored_files


def other_sessions_untouched(client, headers, before: dict) -> bool:
    return all(client.get(f"/api/v1/sessions/{sid}", headers=headers).json()["status"] == status
               for sid, status in before.items())


@pytest.fixture
def bystander(client, user_headers, empty_queue):
    """A pending session of the same user that every bad request must leave alone."""
    sid, _, _ = uploaded_session(client, user_headers)
    return {sid: "pending"}


@pytest.mark.parametrize("filename, label", [
    ("../../../etc/passwd.mp3", "passwd.mp3"), ("..\\..\\boot.mp3", "boot.mp3"),
    ("evil\x00.sh.mp3", "evil%00.sh.mp3"), ("/absolute/path.mp3", "path.mp3"), ("\x00", None)])
def test_hostile_filenames_never_reach_the_filesystem(client, user_headers, settings, bystander, filename, label):
    sid = new_session(client, user_headers)
    with CONVERSATION.open("rb") as handle:
        response = client.post(f"/api/v1/sessions/{sid}/audio", files={"file": (filename, handle)},
                               headers=user_headers)
    if label:  # accepted: stored under a name the server made up; the client's name is a label
        assert response.status_code == 202, response.text
        session = client.get(f"/api/v1/sessions/{sid}", headers=user_headers).json()
        assert session["audio_filename"] == label
        assert "\x00" not in session["audio_filename"]
        stored = [p for p in stored_files(settings) if p.parent.name == sid]
        assert len(stored) == 1 and stored[0].parent.parent == settings.audio_dir
        assert stored[0].name.endswith(".mp3") and "passwd" not in stored[0].name
    else:  # or refused with a code, and nothing kept
        assert response.status_code == 415 and response.json()["code"] == "unsupported_format"
        assert not [p for p in stored_files(settings) if p.parent.name == sid]
    assert not (settings.audio_dir.parent / "etc").exists()
    assert other_sessions_untouched(client, user_headers, bystander)


@pytest.mark.parametrize("payload, code, start", [
    ({"title": "x" * 10_000}, "validation_error", "title"),
    ({"title": "ok", "language": "xx-INVALID"}, "unsupported_language", "Unsupported language 'xx-INVALID'"),
    ({"title": "ok", "language": "en-US\x00"}, "unsupported_language", "Unsupported language 'en-US\\x00'"),
    ({"title": "tab\x00null"}, "validation_error", "title"),
    ({"title": ["not", "a", "string"]}, "validation_error", "title"),
])
def test_bad_fields_are_named_and_nothing_is_created(client, user_headers, bystander, payload, code, start):
    before = client.get("/api/v1/sessions", headers=user_headers).json()["total"]
    response = client.post("/api/v1/sessions", json=payload, headers=user_headers)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == code and body["message"].startswith(start)
    assert client.get("/api/v1/sessions", headers=user_headers).json()["total"] == before
    assert other_sessions_untouched(client, user_headers, bystander)


def test_unicode_titles_round_trip(client, user_headers):
    title = "教練與客戶的第一次會談 🚀🧭 — ñandú «ok»"
    created = client.post("/api/v1/sessions", json={"title": title, "language": "zh-TW"},
                          headers=user_headers).json()
    assert created["title"] == title
    listed = client.get("/api/v1/sessions", headers=user_headers).json()["items"]
    assert title in [item["title"] for item in listed]


@pytest.mark.parametrize("path, status, code", [
    ("not-a-uuid", 422, "validation_error"), ("1", 422, "validation_error"),
    ("00000000-0000-0000-0000-00000000000Z", 422, "validation_error"),
    ("..%2F..%2Fetc", 404, "not_found"),  # decodes to another path, which no route serves
])
def test_non_uuid_ids_are_refused(client, user_headers, path, status, code):
    for method, suffix in [("GET", ""), ("GET", "/status"), ("POST", "/cancel"), ("DELETE", "")]:
        response = client.request(method, f"/api/v1/sessions/{path}{suffix}", headers=user_headers)
        assert response.status_code == status, (method, suffix, response.text)
        assert response.json()["code"] == code


# --- fuzzing: no input makes the API answer 500 -------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=300),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=20), children, max_size=4),
    max_leaves=12)
session_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries({}, optional={"title": json_values | st.text(max_size=400),
                                        "language": st.text(max_size=40) | json_values,
                                        "extra": json_values}))
query_values = st.text(max_size=30)


@hypothesis_settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=session_bodies)
def test_fuzz_create_session(client, user_headers, body):
    response = client.post("/api/v1/sessions", json=body, headers=user_headers)
    assert response.status_code in (201, 422), response.text
    assert response.status_code == 201 or response.json()["code"] in ("validation_error", "invalid_json",
                                                                         "unsupported_language")


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=200))
def test_fuzz_raw_bodies(client, user_headers, raw):
    response = client.post("/api/v1/sessions", content=raw,
                           headers={**user_headers, "Content-Type": "application/json"})
    assert response.status_code in (201, 400, 422), response.text
    assert response.status_code == 201 or response.json()["code"] in ("validation_error", "invalid_json")


@hypothesis_settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(status=query_values, page=query_values, page_size=query_values, wait=query_values,
       after=query_values, fmt=query_values, session_id=st.uuids().map(str) | query_values)
def test_fuzz_query_and_path_parameters(client, user_headers, status, page, page_size, wait, after, fmt,
                                        session_id):
    session_id = quote(session_id, safe="")
    responses = [
        client.get("/api/v1/sessions", params={"status": status, "page": page, "page_size": page_size},
                   headers=user_headers),
        client.get(f"/api/v1/sessions/{session_id}/status", params={"wait": wait[:1], "after": after},
                   headers=user_headers),
        client.get(f"/api/v1/sessions/{session_id}/transcript", params={"format": fmt}, headers=user_headers),
        client.post(f"/api/v1/sessions/{session_id}/cancel", headers=user_headers),
        client.post(f"/api/v1/sessions/{session_id}/retry-transcription", headers=user_headers),
    ]
    for response in responses:
        assert response.status_code < 500, (response.request.url, response.text)
        if response.status_code >= 400:
            assert response.json()["code"] and response.json()["message"]


# --- keys and ownership -------------------------------------------------------------------------

def test_a_revoked_key_stops_working_at_once(client):
    user, key = make_user()
    headers = {"Authorization": f"Bearer {key}"}
    assert client.get("/api/v1/sessions", headers=headers).status_code == 200
    result = CliRunner().invoke(main, ["revoke-key", user.email.upper()])
    assert result.exit_code == 0, result.output
    response = client.get("/api/v1/sessions", headers=headers)
    assert response.status_code == 401 and response.json()["code"] == "invalid_api_key"
    # a new key can be issued; the old one stays dead
    issued = CliRunner().invoke(main, ["create-user", user.email])
    new_key = issued.stdout.strip().splitlines()[-1]
    assert client.get("/api/v1/sessions", headers={"Authorization": f"Bearer {new_key}"}).status_code == 200
    assert client.get("/api/v1/sessions", headers=headers).status_code == 401


def test_revoking_an_unknown_user_is_an_error():
    result = CliRunner().invoke(main, ["revoke-key", f"nobody-{uuid.uuid4().hex[:6]}@example.com"])
    assert result.exit_code == 1 and "No user" in result.output


@pytest.mark.parametrize("state", ["pending", "completed"])
def test_another_users_session_is_404_for_every_action(client, user_headers, other_headers, settings,
                                                       empty_queue, state):
    sid, uri, task_id = uploaded_session(client, user_headers)
    if state == "completed":
        run(settings, sid, uri, task_id)
    queued = empty_queue.llen("celery")
    base = f"/api/v1/sessions/{sid}"
    attempts = [
        client.get(base, headers=other_headers),
        client.get(f"{base}/status", headers=other_headers),
        client.get(f"{base}/status?wait=0.2", headers=other_headers),
        client.get(f"{base}/transcript", headers=other_headers),
        client.get(f"{base}/transcript?format=txt", headers=other_headers),
        client.post(f"{base}/audio", files={"file": ("a.mp3", CONVERSATION.read_bytes())}, headers=other_headers),
        client.post(f"{base}/cancel", headers=other_headers),
        client.post(f"{base}/retry-transcription", headers=other_headers),
        client.delete(base, headers=other_headers),
    ]
    for response in attempts:
        assert response.status_code == 404, (response.request.method, response.request.url, response.text)
        assert response.json()["code"] == "session_not_found"
    assert client.get(base, headers=user_headers).json()["status"] == state
    assert empty_queue.llen("celery") == queued
    if state == "completed":
        assert client.get(f"{base}/transcript", headers=user_headers).json()["segments"]
