"""Sign in with email and password for a session cookie, sign out, and who is signed in."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from coaching_assistant.api.auth import SESSION_COOKIE
from coaching_assistant.api.deps import AppSettings, CurrentUser, WebSessionToken
from coaching_assistant.api.lanes import ThreadLane
from coaching_assistant.api.proxy import client_address, is_https
from coaching_assistant.api.schemas import MeOut, SignedInOut, SignInIn, UploadLimitsOut
from coaching_assistant.core.database import new_session
from coaching_assistant.core.errors import CoachingError, ErrorCode
from coaching_assistant.core.task_queue import broker_client
from coaching_assistant.models import User
from coaching_assistant.services import audio, sign_in_limits, users, web_sessions

router = APIRouter(prefix="/api/v1", tags=["sign-in"])
# Argon2 takes tens of milliseconds and 64 MiB per check: two at a time per process, whatever arrives.
password_checks = ThreadLane(2)
WRONG_CREDENTIALS = "The email or the password is wrong."


def _sign_in(email: str, password: str, address: str) -> tuple[User, str]:
    email = users.normal_email(email)
    with broker_client(timeout=3) as limits:
        sign_in_limits.reserve(limits, email=email, address=address)
        with new_session() as db:
            user = users.verify_password(db, email=email, password=password)
            if user is None:
                raise CoachingError(WRONG_CREDENTIALS, ErrorCode.INVALID_CREDENTIALS)
            token = web_sessions.start(db, user)
        sign_in_limits.succeeded(limits, email=email, address=address)
    return user, token


@router.post("/auth/sign-in", response_model=SignedInOut, responses={401: {}, 429: {}})
async def sign_in(body: SignInIn, request: Request, response: Response, settings: AppSettings) -> SignedInOut:
    """Sign in: sets the session cookie and returns the CSRF token its writes need.

    A wrong email and a wrong password get the same 401 invalid_credentials; failures are limited
    per account and per client address (429 sign_in_rate_limited with Retry-After)."""
    user, token = await password_checks.run(_sign_in, body.email, body.password,
                                            client_address(request.scope, settings))
    response.set_cookie(SESSION_COOKIE, token, max_age=int(settings.web_session_max_days * 86400), path="/",
                        httponly=True, samesite="lax", secure=is_https(request.scope, settings))
    return SignedInOut(email=user.email, csrf_token=web_sessions.csrf_token(token))


@router.post("/auth/sign-out", status_code=204)
def sign_out(request: Request, token: WebSessionToken, settings: AppSettings) -> Response:
    """End this browser's session (with an API key there is none: nothing changes)."""
    if token is not None:
        with new_session() as db:
            web_sessions.end(db, token)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax",
                           secure=is_https(request.scope, settings))
    return response


@router.get("/me", response_model=MeOut)
def me(user: CurrentUser, token: WebSessionToken, settings: AppSettings) -> MeOut:
    return MeOut(email=user.email, has_password=user.password_hash is not None,
                 has_api_key=user.api_key_hash is not None, api_key_prefix=user.api_key_prefix,
                 csrf_token=web_sessions.csrf_token(token) if token is not None else None,
                 upload_limits=UploadLimitsOut(max_bytes=settings.max_upload_bytes,
                                               max_seconds=settings.max_audio_seconds,
                                               formats=sorted(audio.SUPPORTED_FORMATS)))
