"""Session endpoints through the real app, database and broker (no worker needed)."""

from __future__ import annotations

import uuid

import pytest


def create(client, headers, title="Weekly coaching", language="en-US"):
    response = client.post("/api/v1/sessions", json={"title": title, "language": language}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def test_every_endpoint_requires_an_api_key(client):
    some_id = uuid.uuid4()
    for method, path in [("get", "/api/v1/sessions"), ("post", "/api/v1/sessions"),
                         ("get", f"/api/v1/sessions/{some_id}"), ("delete", f"/api/v1/sessions/{some_id}"),
                         ("get", f"/api/v1/sessions/{some_id}/status"),
                         ("get", f"/api/v1/sessions/{some_id}/transcript"),
                         ("post", f"/api/v1/sessions/{some_id}/audio"),
                         ("post", f"/api/v1/sessions/{some_id}/retry-transcription")]:
        response = client.request(method, path)
        assert response.status_code == 401, (method, path)
        assert response.json()["code"] == "unauthorized"
    bad = client.get("/api/v1/sessions", headers={"Authorization": "Bearer ca_not-a-real-key"})
    assert bad.status_code == 401
    assert bad.json()["code"] == "invalid_api_key"


def test_api_keys_are_stored_hashed(db):
    from sqlalchemy import select

    from coaching_assistant.models import User
    from tests.conftest import make_user

    user, key = make_user()
    stored = db.scalar(select(User).where(User.id == user.id))
    assert key not in (stored.api_key_hash, stored.api_key_prefix)
    assert len(stored.api_key_hash) == 64


def test_create_session_returns_the_documented_fields(client, user_headers):
    body = create(client, user_headers, title="教練 session 🚀", language="en-us")
    assert body["status"] == "uploading"
    assert body["language"] == "en-US"
    assert body["title"] == "教練 session 🚀"
    for field in ("id", "audio_filename", "duration_seconds", "segments_count", "error_code",
                  "error_message", "created_at", "updated_at"):
        assert field in body
    fetched = client.get(f"/api/v1/sessions/{body['id']}", headers=user_headers).json()
    assert fetched["title"] == "教練 session 🚀"


@pytest.mark.parametrize("payload, code", [
    ({"title": "", "language": "en-US"}, "validation_error"),
    ({"title": "   ", "language": "en-US"}, "validation_error"),
    ({"title": "x" * 256, "language": "en-US"}, "validation_error"),
    ({"title": "ok", "language": "klingon"}, "unsupported_language"),
    ({"title": "ok", "language": "xx-YY"}, "unsupported_language"),
    ({"title": "ok", "language": "en-US", "unexpected": 1}, "validation_error"),
    ({"language": "en-US"}, "validation_error"),
])
def test_bad_session_input_is_a_422_with_a_code(client, user_headers, payload, code):
    response = client.post("/api/v1/sessions", json=payload, headers=user_headers)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == code and body["message"]


def test_malformed_json_is_reported_as_such(client, user_headers):
    response = client.post("/api/v1/sessions", content=b'{"title": ', headers={
        **user_headers, "Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_json"


def test_unknown_and_non_uuid_ids(client, user_headers):
    missing = client.get(f"/api/v1/sessions/{uuid.uuid4()}", headers=user_headers)
    assert missing.status_code == 404 and missing.json()["code"] == "session_not_found"
    not_uuid = client.get("/api/v1/sessions/not-a-uuid", headers=user_headers)
    assert not_uuid.status_code == 422 and not_uuid.json()["code"] == "validation_error"


def test_list_is_paginated_filtered_and_private(client, user_headers, other_headers):
    ids = [create(client, user_headers, title=f"s{i}")["id"] for i in range(5)]
    create(client, other_headers, title="someone else's")
    page1 = client.get("/api/v1/sessions?page=1&page_size=2", headers=user_headers).json()
    page3 = client.get("/api/v1/sessions?page=3&page_size=2", headers=user_headers).json()
    assert page1["total"] == 5 and len(page1["items"]) == 2 and len(page3["items"]) == 1
    seen = {item["id"] for p in (1, 2, 3) for item in
            client.get(f"/api/v1/sessions?page={p}&page_size=2", headers=user_headers).json()["items"]}
    assert seen == set(ids)
    assert client.get("/api/v1/sessions?status=completed", headers=user_headers).json()["total"] == 0
    assert client.get("/api/v1/sessions?status=uploading", headers=user_headers).json()["total"] == 5
    assert client.get("/api/v1/sessions?status=bogus", headers=user_headers).status_code == 422


def titles(client, headers, query):
    body = client.get("/api/v1/sessions", params=query, headers=headers).json()
    assert body["total"] == len(body["items"]), body
    return sorted(item["title"] for item in body["items"])


def test_search_by_title_ignores_case_and_sees_only_ones_own(client, user_headers, other_headers):
    for title in ("Weekly coaching with Ana", "WEEKLY review", "Intake call", "教練 會談 週一"):
        create(client, user_headers, title=title)
    create(client, other_headers, title="weekly coaching of someone else")
    assert titles(client, user_headers, {"q": "weekly"}) == ["WEEKLY review", "Weekly coaching with Ana"]
    assert titles(client, user_headers, {"q": "  Coaching "}) == ["Weekly coaching with Ana"]
    assert titles(client, user_headers, {"q": "會談"}) == ["教練 會談 週一"]
    assert titles(client, user_headers, {"q": "nothing like this"}) == []
    assert len(titles(client, user_headers, {"q": ""})) == 4  # an empty search is no search
    assert titles(client, other_headers, {"q": "ana"}) == []  # "Ana" is the first user's
    assert titles(client, user_headers, {"q": "weekly", "status": "completed"}) == []
    assert titles(client, user_headers, {"q": "weekly", "status": "uploading"}) == [
        "WEEKLY review", "Weekly coaching with Ana"]
    too_long = client.get("/api/v1/sessions", params={"q": "x" * 256}, headers=user_headers)
    assert too_long.status_code == 422 and too_long.json()["code"] == "validation_error"


def test_search_wildcards_and_escape_characters_are_literal(client, user_headers):
    for title in ("100% done", "1000 done", "snake_case", "snakeXcase", "back\\slash", "a/b"):
        create(client, user_headers, title=title)
    assert titles(client, user_headers, {"q": "%"}) == ["100% done"]
    assert titles(client, user_headers, {"q": "0% d"}) == ["100% done"]
    assert titles(client, user_headers, {"q": "_"}) == ["snake_case"]
    assert titles(client, user_headers, {"q": "e_c"}) == ["snake_case"]
    assert titles(client, user_headers, {"q": "\\"}) == ["back\\slash"]
    assert titles(client, user_headers, {"q": "/"}) == ["a/b"]


def test_search_pages_count_only_the_matches(client, user_headers):
    for i in range(3):
        create(client, user_headers, title=f"match {i}")
        create(client, user_headers, title=f"other {i}")
    first = client.get("/api/v1/sessions", params={"q": "MATCH", "page_size": 2}, headers=user_headers).json()
    second = client.get("/api/v1/sessions", params={"q": "MATCH", "page_size": 2, "page": 2},
                        headers=user_headers).json()
    assert first["total"] == 3 and len(first["items"]) == 2 and len(second["items"]) == 1
    assert {i["title"] for i in first["items"] + second["items"]} == {"match 0", "match 1", "match 2"}


def test_status_of_a_new_session(client, user_headers):
    sid = create(client, user_headers)["id"]
    status = client.get(f"/api/v1/sessions/{sid}/status", headers=user_headers).json()
    assert status["status"] == "uploading" and status["progress"] == 0
    assert status["task_state"] is None
    for field in ("message", "duration_processed", "duration_total", "started_at",
                  "estimated_completion", "processing_speed"):
        assert field in status


def test_status_reads_the_session_and_its_progress_in_one_statement(client, user_headers):
    """A worker changes both rows in one transaction; two SELECTs could see two moments (a
    `pending` session with its next run's progress)."""
    from sqlalchemy import event

    from coaching_assistant.core.config import get_settings
    from coaching_assistant.core.database import get_engine

    engine = get_engine(get_settings().sqlalchemy_url)
    sid = create(client, user_headers)["id"]
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith("SELECT") and "FROM users" not in statement:
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        assert client.get(f"/api/v1/sessions/{sid}/status", headers=user_headers).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert len(statements) == 1 and "processing_status" in statements[0], statements


def test_transcript_before_completion_is_a_409(client, user_headers):
    sid = create(client, user_headers)["id"]
    response = client.get(f"/api/v1/sessions/{sid}/transcript", headers=user_headers)
    assert response.status_code == 409
    assert response.json()["code"] == "transcript_not_ready"
    bad_format = client.get(f"/api/v1/sessions/{sid}/transcript?format=doc", headers=user_headers)
    assert bad_format.status_code == 422


def test_retry_only_from_failed(client, user_headers):
    sid = create(client, user_headers)["id"]
    response = client.post(f"/api/v1/sessions/{sid}/retry-transcription", headers=user_headers)
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_session_status"


def test_openapi_docs_are_served(client):
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    upload = spec["paths"]["/api/v1/sessions/{session_id}/audio"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]


def test_a_session_names_its_model(client, user_headers):
    default = create(client, user_headers)
    assert default["model"] == "auto"
    chosen = client.post("/api/v1/sessions", json={"title": "t", "language": "en-US", "model": "BASE"},
                         headers=user_headers)
    assert chosen.status_code == 201 and chosen.json()["model"] == "base"
    assert client.get(f"/api/v1/sessions/{chosen.json()['id']}", headers=user_headers).json()["model"] == "base"


@pytest.mark.parametrize("payload, code, message", [
    ({"model": "large-v9"}, "unknown_model", "Unknown model 'large-v9'; this server offers: auto, tiny.en, base."),
    ({"model": "tiny.en", "language": "zh-TW"}, "unsupported_language",
     "The model tiny.en is English-only and cannot transcribe 'zh-TW'; use auto or base."),
])
def test_a_model_the_server_cannot_use_is_refused_and_nothing_stored(client, user_headers, payload, code, message):
    response = client.post("/api/v1/sessions", json={"title": "t", "language": "en-US", **payload},
                           headers=user_headers)
    assert response.status_code == 422
    assert response.json() == {"code": code, "message": message}
    assert client.get("/api/v1/sessions", headers=user_headers).json()["total"] == 0


def test_language_auto_is_accepted_and_an_unsupported_one_lists_what_is(client, user_headers):
    assert create(client, user_headers, language="AUTO")["language"] == "auto"
    for tag in ("zh-tw", "cmn-hant-tw", "en-us"):
        assert create(client, user_headers, language=tag)["language"] in ("zh-TW", "cmn-Hant-TW", "en-US")
    refused = client.post("/api/v1/sessions", json={"title": "t", "language": "tlh"}, headers=user_headers)
    assert refused.status_code == 422
    body = refused.json()
    assert body["code"] == "unsupported_language"
    assert body["message"].startswith("Unsupported language 'tlh': use auto (detected from the audio) or a "
                                      "BCP-47 tag such as en-US, zh-TW or cmn-Hant-TW whose language is one of: af, ")
    assert ", zh." in body["message"] and " es, " in body["message"]
    assert client.get("/api/v1/sessions", headers=user_headers).json()["total"] == 4
