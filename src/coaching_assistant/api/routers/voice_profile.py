"""/api/v1/me/voice-profile: what the user's voice profile holds, the setting that lets confirmed
roles add to it, and deleting it (services/voice_profiles.py). Thin adapters."""

from __future__ import annotations

from fastapi import APIRouter, Response

from coaching_assistant.api.deps import CurrentUser, DbSession
from coaching_assistant.api.schemas import VoiceProfileIn, VoiceProfileOut
from coaching_assistant.services import voice_profiles

router = APIRouter(prefix="/api/v1/me", tags=["voice profile"])


@router.get("/voice-profile", response_model=VoiceProfileOut)
def voice_profile(user: CurrentUser, db: DbSession) -> VoiceProfileOut:
    """The sessions and seconds of the coach's voice the profile holds; `sessions: 0` when there is none."""
    profile = voice_profiles.profile_of(db, user.id)
    return VoiceProfileOut(sessions=profile.sessions if profile else 0, seconds=profile.seconds if profile else 0.0,
                           updated_at=profile.updated_at if profile else None,
                           learning=voice_profiles.is_learning(db, user.id))


@router.patch("/voice-profile", response_model=VoiceProfileOut)
def set_learning(body: VoiceProfileIn, user: CurrentUser, db: DbSession) -> VoiceProfileOut:
    """Turn learning from confirmed roles on or off; what the profile holds stays."""
    voice_profiles.set_learning(db, user.id, body.learning)
    return voice_profile(user, db)


@router.delete("/voice-profile", status_code=204)
def delete_voice_profile(user: CurrentUser, db: DbSession) -> Response:
    """Delete the profile at once (204 also when there was none): sessions transcribed from now on
    get their roles from the evidence of words until roles are confirmed again."""
    voice_profiles.forget(db, user.id)
    return Response(status_code=204)
