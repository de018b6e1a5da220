"""A signed-in user issues and revokes their own API key (the settings page's API)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.integration.test_web_auth import coach, signed_in

API_KEY = "/api/v1/me/api-key"
ME = "/api/v1/me"


def bearer(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"}


def issue(client: TestClient, headers: dict[str, str]) -> str:
    response = client.post(API_KEY, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["api_key"]


def test_a_key_issued_with_the_cookie_works_as_bearer_and_is_not_cached(client):
    email, old_key = coach()
    browser = signed_in(client, email)
    response = client.post(API_KEY, headers=browser)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"api_key", "prefix"} and body["api_key"].startswith(body["prefix"])
    me = client.get(ME, headers=bearer(body["api_key"]))
    assert me.status_code == 200 and me.json()["email"] == email
    assert me.json()["has_api_key"] and me.json()["api_key_prefix"] == body["prefix"]
    assert body["api_key"] != old_key


def test_a_new_key_ends_the_previous_one_at_once(client):
    email, first = coach()
    browser = signed_in(client, email)
    second = issue(client, browser)
    refused = client.get(ME, headers=bearer(first))
    assert (refused.status_code, refused.json()["code"]) == (401, "invalid_api_key")
    third = issue(client, bearer(second))  # a Bearer key may replace itself
    assert client.get(ME, headers=bearer(second)).status_code == 401
    assert client.get(ME, headers=bearer(third)).status_code == 200


def test_delete_revokes_the_key_and_the_cookie_still_works(client):
    email, key = coach()
    browser = signed_in(client, email)
    assert client.delete(API_KEY, headers=browser).status_code == 204
    refused = client.get(ME, headers=bearer(key))
    assert (refused.status_code, refused.json()["code"]) == (401, "invalid_api_key")
    me = client.get(ME, headers=browser)
    assert me.status_code == 200
    assert (me.json()["has_api_key"], me.json()["api_key_prefix"]) == (False, None)
    assert client.delete(API_KEY, headers=browser).status_code == 204  # none left: still 204


def test_a_key_can_revoke_itself(client):
    _, key = coach()
    assert client.delete(API_KEY, headers=bearer(key)).status_code == 204
    assert client.get(ME, headers=bearer(key)).status_code == 401


@pytest.mark.parametrize("method", ["post", "delete"])
def test_the_cookie_without_the_csrf_token_changes_nothing(client, method):
    email, key = coach()
    cookie_only = {"Cookie": signed_in(client, email)["Cookie"]}
    response = getattr(client, method)(API_KEY, headers=cookie_only)
    assert (response.status_code, response.json()["code"]) == (403, "csrf_failed")
    assert "api_key" not in response.json()
    assert client.get(ME, headers=bearer(key)).status_code == 200


def test_another_users_key_is_unaffected(client):
    email, _ = coach()
    _, others_key = coach()
    browser = signed_in(client, email)
    issue(client, browser)
    assert client.delete(API_KEY, headers=browser).status_code == 204
    assert client.get(ME, headers=bearer(others_key)).status_code == 200


def test_me_never_shows_the_key(client):
    email, _ = coach()
    browser = signed_in(client, email)
    key = issue(client, browser)
    for headers in (browser, bearer(key)):
        me = client.get(ME, headers=headers)
        assert me.status_code == 200 and key not in me.text
        assert key.startswith(me.json()["api_key_prefix"]) and len(me.json()["api_key_prefix"]) < len(key) // 3


def test_without_a_key_or_cookie_nothing_is_issued(client):
    response = client.post(API_KEY)
    assert (response.status_code, response.json()["code"]) == (401, "unauthorized")
