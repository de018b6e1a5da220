"""Which audio locations a task may read: our storage directory, or gs:// in our bucket only."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from coaching_assistant.core.config import Settings
from coaching_assistant.core.errors import PermanentError
from coaching_assistant.services import storage


class FakeGCS:
    """Stands in for google.cloud.storage at the client boundary."""

    downloads: list[tuple[str, str]] = []
    deleted: list[tuple[str, str]] = []

    class Client:
        def __init__(self, project=None, credentials=None):
            self.project = project

        def bucket(self, name):
            client = self

            class Bucket:
                def blob(self, blob_name):
                    class Blob:
                        def download_to_filename(self, filename, timeout=None):
                            assert timeout == 300
                            FakeGCS.downloads.append((name, blob_name))
                            Path(filename).write_bytes(b"audio bytes")

                        def delete(self, timeout=None):
                            assert timeout == 300
                            FakeGCS.deleted.append((name, blob_name))
                    return Blob()
            assert client.project == "proj"
            return Bucket()


@pytest.fixture
def fake_gcs(monkeypatch):
    pytest.importorskip("google.cloud.storage")
    module = types.ModuleType("google.cloud.storage")
    module.Client = FakeGCS.Client
    monkeypatch.setitem(sys.modules, "google.cloud.storage", module)
    import google.cloud

    monkeypatch.setattr(google.cloud, "storage", module, raising=False)
    FakeGCS.downloads.clear()
    FakeGCS.deleted.clear()
    return FakeGCS


def test_gs_uri_in_the_configured_bucket_is_downloaded(tmp_path, fake_gcs):
    settings = Settings(data_dir=tmp_path, gcs_bucket="coach-audio", google_project_id="proj")
    with storage.local_copy(settings, "gs://coach-audio/sessions/a.mp3") as path:
        assert path.read_bytes() == b"audio bytes"
    assert fake_gcs.downloads == [("coach-audio", "sessions/a.mp3")]
    assert not path.exists()  # the temporary copy is cleaned up


def test_delete_removes_objects_of_the_configured_bucket_only(tmp_path, fake_gcs):
    settings = Settings(data_dir=tmp_path, gcs_bucket="coach-audio", google_project_id="proj")
    storage.delete(settings, "gs://coach-audio/sessions/a.mp3")
    storage.delete(settings, "gs://other-bucket/sessions/a.mp3")  # not ours: left alone
    assert fake_gcs.deleted == [("coach-audio", "sessions/a.mp3")]


@pytest.mark.parametrize("uri", ["gs://other-bucket/a.mp3", "gs://coach-audio/", "gs://coach-audio"])
def test_other_buckets_are_refused(tmp_path, fake_gcs, uri):
    settings = Settings(data_dir=tmp_path, gcs_bucket="coach-audio", google_project_id="proj")
    with pytest.raises(PermanentError) as raised, storage.local_copy(settings, uri):
        pass
    assert raised.value.code == "audio_location_rejected"
    assert fake_gcs.downloads == []


def test_gs_uris_are_refused_when_no_bucket_is_configured(tmp_path):
    with pytest.raises(PermanentError) as raised, storage.local_copy(Settings(data_dir=tmp_path),
                                                                     "gs://coach-audio/a.mp3"):
        pass
    assert raised.value.code == "audio_location_rejected"


@pytest.mark.parametrize("relative", ["../escape.mp3", "audio/../../escape.mp3"])
def test_paths_outside_storage_are_refused(tmp_path, relative):
    settings = Settings(data_dir=tmp_path / "data")
    (tmp_path / "escape.mp3").write_bytes(b"x")
    with pytest.raises(PermanentError) as raised, storage.local_copy(settings,
                                                                     str(settings.audio_dir / relative)):
        pass
    assert raised.value.code == "audio_location_rejected"


def test_missing_file_in_storage(tmp_path):
    settings = Settings(data_dir=tmp_path)
    with pytest.raises(PermanentError) as raised, storage.local_copy(settings,
                                                                     str(settings.audio_dir / "x/none.mp3")):
        pass
    assert raised.value.code == "audio_missing"


def test_delete_removes_only_the_sessions_own_file(tmp_path):
    import uuid

    settings = Settings(data_dir=tmp_path)
    settings.audio_dir.mkdir(parents=True)
    loose = settings.audio_dir / "talk.mp3"  # a file queued by hand, directly in storage
    neighbour = settings.audio_dir / "other.mp3"
    session_dir = settings.audio_dir / str(uuid.uuid4())
    session_dir.mkdir()
    owned = session_dir / "a.mp3"
    for path in (loose, neighbour, owned):
        path.write_bytes(b"x")
    storage.delete(settings, str(loose))
    assert not loose.exists() and neighbour.exists() and settings.audio_dir.is_dir()
    storage.delete(settings, str(owned))
    assert not session_dir.exists() and neighbour.exists()
    storage.delete(settings, "/etc/passwd")  # never outside storage
    assert Path("/etc/passwd").exists()
