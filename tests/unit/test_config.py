from __future__ import annotations

import pytest

from coaching_assistant.core.config import Settings, redacted
from coaching_assistant.services.languages import normalize_language


def test_database_url_uses_psycopg3_and_sqlite_default(tmp_path):
    assert Settings(database_url="postgresql://u:p@h:5432/db").sqlalchemy_url == \
        "postgresql+psycopg://u:p@h:5432/db"
    default = Settings(database_url=None, data_dir=tmp_path).sqlalchemy_url
    assert default == f"sqlite:///{tmp_path / 'coaching_assistant.db'}"


def test_the_default_data_dir_is_the_users_whatever_the_current_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("DATA_DIR")
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    assert Settings().data_dir == tmp_path / "home" / ".local" / "share" / "coaching-transcript"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert Settings().data_dir == tmp_path / "xdg" / "coaching-transcript"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/xdg")  # the XDG spec says: ignore it
    assert Settings().data_dir == tmp_path / "home" / ".local" / "share" / "coaching-transcript"
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "mine"))
    assert Settings().data_dir == tmp_path / "mine"


@pytest.mark.parametrize("url, shown", [
    ("postgresql://coach_user:coach_pass_dev@db:5432/x", "postgresql://***@db:5432/x"),
    ("redis://:s3cret@127.0.0.1:6379/0", "redis://***@127.0.0.1:6379/0"),
    ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
    ("sqlite:////data/coaching_assistant.db", "sqlite:////data/coaching_assistant.db"),
])
def test_urls_are_shown_without_credentials(url, shown):
    assert redacted(url) == shown


def test_celery_urls_fall_back_to_redis_url():
    settings = Settings(redis_url="redis://:redis_pass_dev@localhost:6379/0", celery_broker_url=None,
                        celery_result_backend=None)
    assert settings.broker_url == settings.result_backend == "redis://:redis_pass_dev@localhost:6379/0"
    explicit = Settings(redis_url="redis://a:1/0", celery_broker_url="redis://b:2/0",
                        celery_result_backend="redis://c:3/1")
    assert (explicit.broker_url, explicit.result_backend) == ("redis://b:2/0", "redis://c:3/1")


def test_unknown_provider_is_refused():
    with pytest.raises(ValueError):
        Settings(stt_provider="nope")


@pytest.mark.parametrize("tag, expected", [
    ("en-US", "en-US"), ("en-us", "en-US"), ("zh-TW", "zh-TW"), ("cmn-Hant-TW", "cmn-Hant-TW"),
    ("ja", "ja"), ("xx-YY", None), ("english", None), ("", None), ("en-US-x-private-long", None),
])
def test_language_tags(tag, expected):
    assert normalize_language(tag) == expected


def test_celery_is_configured_for_at_least_once_json_only():
    from coaching_assistant.core.celery_app import TRANSCRIBE_AUDIO_TASK, celery_app
    from coaching_assistant.tasks.transcription_tasks import transcribe_audio

    conf = celery_app.conf
    assert conf.accept_content == ["json"] and conf.task_serializer == "json"
    assert conf.result_serializer == "json"
    assert conf.task_track_started and conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1
    assert conf.broker_transport_options["visibility_timeout"] > conf.task_time_limit
    assert transcribe_audio.name == TRANSCRIBE_AUDIO_TASK
    assert celery_app.amqp.router.route({}, TRANSCRIBE_AUDIO_TASK)["queue"].name == "celery"


def test_webhook_deliveries_have_a_queue_every_default_worker_consumes():
    from coaching_assistant.core.celery_app import DELIVER_WEBHOOK_TASK, celery_app
    from coaching_assistant.tasks.webhook_tasks import deliver_webhook

    assert deliver_webhook.name == DELIVER_WEBHOOK_TASK
    assert celery_app.amqp.router.route({}, DELIVER_WEBHOOK_TASK)["queue"].name == "webhooks"
    # a worker started without -Q consumes every queue of task_queues
    assert [q.name for q in celery_app.conf.task_queues] == ["celery", "webhooks"]


def test_auto_is_a_language_and_a_detected_chinese_session_writes_traditional():
    from coaching_assistant.services.languages import check_language, text_language

    assert check_language(" Auto ") == "auto"
    assert text_language("auto", None) == "auto"
    assert text_language("auto", "zh") == "zh-TW"
    assert text_language("auto", "es") == "es"
    assert text_language("en-US", "zh") == "en-US"  # a language asked for wins
