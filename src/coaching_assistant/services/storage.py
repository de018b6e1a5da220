"""Where uploaded audio lives. Files get server-generated names; tasks accept only our URIs."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from coaching_assistant.core.config import Settings
from coaching_assistant.core.errors import ErrorCode, PermanentError


def incoming_dir(settings: Settings) -> Path:
    path = settings.audio_dir / ".incoming"
    path.mkdir(parents=True, exist_ok=True)
    return path


def store(settings: Settings, *, temp_path: Path, session_id: uuid.UUID, extension: str) -> str:
    """Move a received upload into place and return its storage URI (an absolute local path)."""
    target_dir = settings.audio_dir / str(session_id)
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / f"{uuid.uuid4().hex}.{extension}"
    temp_path.replace(target)
    return str(target)


def delete(settings: Settings, uri: str | None) -> None:
    """Remove a session's stored audio: a file under our storage directory (and its per-session
    directory once empty), or an object in the configured bucket. Anything else is not ours."""
    if not uri:
        return
    if uri.startswith("gs://"):
        try:
            check_location(settings, uri)
        except PermanentError:
            return
        _delete_gcs(settings, uri)
        return
    try:
        path = _local_path(settings, uri)
    except PermanentError:
        return  # not ours to delete
    path.unlink(missing_ok=True)
    parent = path.parent
    # Only ever a directory of our own making: <audio_dir>/<session uuid>/
    if parent.parent == settings.audio_dir and _is_uuid(parent.name):
        try:
            parent.rmdir()
        except OSError:
            pass  # not empty


def _is_uuid(name: str) -> bool:
    try:
        uuid.UUID(name)
    except ValueError:
        return False
    return True


def _local_path(settings: Settings, uri: str) -> Path:
    if "\x00" in uri or "://" in uri:
        raise PermanentError(f"Audio location {uri!r} is not a storage path", code=ErrorCode.AUDIO_LOCATION_REJECTED)
    path = Path(uri).resolve()
    root = settings.audio_dir
    if not path.is_relative_to(root):
        raise PermanentError(f"Audio location {uri!r} is outside the configured storage",
                             code=ErrorCode.AUDIO_LOCATION_REJECTED)
    return path


def check_location(settings: Settings, uri: str) -> None:
    """Accept only locations the server itself configured, so a task message cannot make the
    worker read arbitrary files or fetch arbitrary URLs: a path under the local audio directory,
    or `gs://<GCS_BUCKET>/…`."""
    if uri.startswith("gs://"):
        bucket_name, _, blob_name = uri[len("gs://"):].partition("/")
        if not settings.gcs_bucket or bucket_name != settings.gcs_bucket or not blob_name:
            raise PermanentError(f"Audio location {uri!r} is not in the configured bucket",
                                 code=ErrorCode.AUDIO_LOCATION_REJECTED)
    else:
        _local_path(settings, uri)


@contextmanager
def local_copy(settings: Settings, uri: str) -> Iterator[Path]:
    """Yield a local path for a storage location that passes `check_location`."""
    check_location(settings, uri)
    if uri.startswith("gs://"):
        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / "audio"
            _gcs_blob(settings, uri).download_to_filename(str(target), timeout=settings.gcs_timeout_seconds)
            yield target
        return
    path = _local_path(settings, uri)
    if not path.is_file():
        raise PermanentError("The session's audio file is missing from storage", code=ErrorCode.AUDIO_MISSING)
    yield path


def _delete_gcs(settings: Settings, uri: str) -> None:
    blob = _gcs_blob(settings, uri)
    from google.api_core.exceptions import NotFound

    try:
        blob.delete(timeout=settings.gcs_timeout_seconds)
    except NotFound:
        pass  # already gone


def _gcs_blob(settings: Settings, uri: str) -> Any:
    try:
        from google.cloud import storage as gcs  # type: ignore[attr-defined]
        from google.oauth2 import service_account
    except ImportError as exc:
        raise PermanentError("gs:// audio needs `pip install coaching-assistant[google]`",
                             code=ErrorCode.GOOGLE_NOT_INSTALLED) from exc
    from coaching_assistant.stt.google import decode_credentials

    bucket_name, _, blob_name = uri[len("gs://"):].partition("/")
    credentials = None
    if settings.google_application_credentials_json:
        credentials = service_account.Credentials.from_service_account_info(
            decode_credentials(settings.google_application_credentials_json))
    client = gcs.Client(project=settings.google_project_id, credentials=credentials)
    return client.bucket(bucket_name).blob(blob_name)
