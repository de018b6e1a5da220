"""Resemblyzer's speaker encoder in numpy: its shipped weights, without a torch install.

`pretrained.pt` (in the `resemblyzer` wheel, Apache-2.0) uses torch's legacy serialization: three
small pickles (magic number, protocol, system info), the object pickle whose tensors point at
storages by persistent id, a pickled list of storage keys, then each storage's raw bytes (an
8-byte little-endian element count, then the elements). The model is a 3-layer LSTM over 40 mel
bands (hidden size 256), a 256 → 256 linear layer and a ReLU, L2-normalised. Its input is a
40-band mel power spectrogram of 16 kHz audio: 25 ms Hann window, 10 ms hop, Slaney mel scale.
"""

from __future__ import annotations

import importlib.util
import pickle
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from coaching_assistant.services.audio import SAMPLE_RATE

N_FFT = 400  # 25 ms
HOP = 160  # 10 ms
N_MELS = 40
PARTIAL_FRAMES = 160  # one embedding per 1.6 s window
_DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
           "LongStorage": np.int64, "IntStorage": np.int32}


def default_weights_path() -> Path | None:
    """`pretrained.pt` inside the installed resemblyzer wheel, found without importing it (its
    package imports torch)."""
    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "pretrained.pt"
    return path if path.is_file() else None


@dataclass(frozen=True)
class _StorageRef:
    key: str
    dtype: type


@dataclass(frozen=True)
class _TensorRef:
    storage: _StorageRef
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor(storage: _StorageRef, offset: int, shape: tuple[int, ...], stride: tuple[int, ...],
                    *_ignored: Any) -> _TensorRef:
    return _TensorRef(storage, offset, tuple(shape), tuple(stride))


class _PlainUnpickler(pickle.Unpickler):
    """For the header pickles and the storage-key list: plain data, no globals at all."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"unexpected object in the weights file: {module}.{name}")


class _LegacyUnpickler(pickle.Unpickler):
    """The state dict: an OrderedDict of tensors. Anything else in the file is refused."""

    def __init__(self, handle: BinaryIO):
        super().__init__(handle)
        self.storages: dict[str, _StorageRef] = {}

    def find_class(self, module: str, name: str) -> Any:
        if module == "collections" and name == "OrderedDict":
            return OrderedDict
        if module == "torch._utils" and name in ("_rebuild_tensor", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _DTYPES:
            return name
        raise pickle.UnpicklingError(f"unexpected object in the weights file: {module}.{name}")

    def persistent_load(self, pid: Any) -> _StorageRef:
        if not isinstance(pid, tuple) or len(pid) < 3 or pid[0] != "storage" or pid[1] not in _DTYPES:
            raise pickle.UnpicklingError(f"unexpected storage in the weights file: {pid!r}")
        key = str(pid[2])
        return self.storages.setdefault(key, _StorageRef(key, _DTYPES[pid[1]]))


def load_state_dict(path: Path) -> dict[str, np.ndarray]:
    """The tensors of a legacy-format torch checkpoint as numpy arrays, by name. Only plain data,
    an OrderedDict and tensor records are accepted, and every tensor must lie inside its storage."""
    with path.open("rb") as handle:
        for _header in range(3):  # magic number, protocol version, system info
            _PlainUnpickler(handle).load()
        unpickler = _LegacyUnpickler(handle)
        checkpoint = unpickler.load()
        keys = _PlainUnpickler(handle).load()
        if not isinstance(checkpoint, dict) or not isinstance(keys, list):
            raise ValueError(f"{path} is not a legacy torch checkpoint")
        data = {}
        for key in keys:
            if str(key) not in unpickler.storages:
                raise ValueError(f"{path}: storage {key!r} is not used by any tensor")
            dtype = np.dtype(unpickler.storages[str(key)].dtype)
            count = int.from_bytes(handle.read(8), "little")
            raw = handle.read(count * dtype.itemsize)
            if len(raw) != count * dtype.itemsize:
                raise ValueError(f"{path} is truncated (storage {key!r})")
            data[str(key)] = np.frombuffer(raw, dtype=dtype)
    state = checkpoint.get("model_state", checkpoint)
    result = {}
    for name, ref in state.items():
        if isinstance(ref, _TensorRef):
            flat = data.get(ref.storage.key)
            if flat is None or ref.offset < 0 or any(n < 0 for n in ref.shape) or any(s < 0 for s in ref.stride):
                raise ValueError(f"{path}: tensor {name!r} has a bad layout")
            if all(ref.shape) and ref.offset + sum((n - 1) * s for n, s in zip(ref.shape, ref.stride, strict=True)) \
                    >= len(flat):
                raise ValueError(f"{path}: tensor {name!r} reaches past its storage")
            result[name] = np.lib.stride_tricks.as_strided(
                flat[ref.offset:], shape=ref.shape, strides=[s * flat.dtype.itemsize for s in ref.stride]).copy()
    return result


def _mel_filters() -> np.ndarray:
    """Slaney-style mel filterbank (librosa's default), shape (N_MELS, N_FFT // 2 + 1)."""
    def hz_to_mel(hz: np.ndarray) -> np.ndarray:
        hz = np.asarray(hz, dtype=np.float64)
        linear = hz / (200.0 / 3)
        log = 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
        return np.where(hz >= 1000.0, log, linear)

    def mel_to_hz(mel: np.ndarray) -> np.ndarray:
        linear = mel * (200.0 / 3)
        log = 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel - 15.0))
        return np.where(mel >= 15.0, log, linear)

    fft_freqs = np.linspace(0, SAMPLE_RATE / 2, N_FFT // 2 + 1)
    mel_freqs = mel_to_hz(np.linspace(hz_to_mel(np.array(0.0)), hz_to_mel(np.array(SAMPLE_RATE / 2.0)),
                                      N_MELS + 2))
    gaps = np.diff(mel_freqs)
    ramps = mel_freqs[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / gaps[:-1, None]
    upper = ramps[2:] / gaps[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_freqs[2:] - mel_freqs[:-2]))[:, None]
    return weights.astype(np.float32)


def mel_spectrogram(samples: np.ndarray, block: int = 20_000) -> np.ndarray:
    """(frames, N_MELS) mel power spectrogram, one frame per 10 ms (centred, zero-padded).
    Computed `block` frames at a time from views of the samples, so an hour of audio is never
    copied or transformed whole."""
    samples = np.asarray(samples, dtype=np.float32)
    half = N_FFT // 2
    count = 1 + len(samples) // HOP
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)  # periodic Hann
    mel = np.empty((count, N_MELS), np.float32)
    for first in range(0, count, block):
        last = min(count, first + block)
        lo, length = first * HOP - half, (last - 1 - first) * HOP + N_FFT  # the samples these frames cover
        piece = np.zeros(length, np.float32)
        start, stop = max(0, lo), min(len(samples), lo + length)
        if stop > start:
            piece[start - lo:stop - lo] = samples[start:stop]
        frames = np.lib.stride_tricks.as_strided(piece, shape=(last - first, N_FFT),
                                                 strides=(piece.strides[0] * HOP, piece.strides[0]))
        spectrum = np.fft.rfft(frames * window, axis=1)
        mel[first:last] = (spectrum.real ** 2 + spectrum.imag ** 2).astype(np.float32) @ _MEL_FILTERS.T
    return mel


_MEL_FILTERS = _mel_filters()


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


class SpeakerEncoder:
    """Embeds 1.6 s windows of mel frames into L2-normalised 256-dimensional speaker vectors."""

    def __init__(self, weights_path: Path):
        state = load_state_dict(weights_path)
        self.layers = []
        layer = 0
        while f"lstm.weight_ih_l{layer}" in state:
            self.layers.append((state[f"lstm.weight_ih_l{layer}"].T.copy(), state[f"lstm.weight_hh_l{layer}"].T.copy(),
                                state[f"lstm.bias_ih_l{layer}"] + state[f"lstm.bias_hh_l{layer}"]))
            layer += 1
        if not self.layers:
            raise ValueError(f"{weights_path} holds no LSTM weights")
        self.linear_weight = state["linear.weight"].T.copy()
        self.linear_bias = state["linear.bias"]

    def embed(self, windows: np.ndarray) -> np.ndarray:
        """windows: (batch, frames, N_MELS) → (batch, 256)."""
        inputs = windows.astype(np.float32)
        batch, steps, _ = inputs.shape
        for w_ih, w_hh, bias in self.layers:
            hidden = w_hh.shape[0]
            projected = inputs @ w_ih + bias  # every time step's input projection at once
            h = np.zeros((batch, hidden), np.float32)
            c = np.zeros((batch, hidden), np.float32)
            outputs = np.empty((batch, steps, hidden), np.float32)
            for t in range(steps):
                gates = projected[:, t] + h @ w_hh
                i, f, g, o = np.split(gates, 4, axis=1)  # torch's gate order
                c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
                h = _sigmoid(o) * np.tanh(c)
                outputs[:, t] = h
            inputs = outputs
        embedded = np.maximum(0, h @ self.linear_weight + self.linear_bias)
        norms = np.linalg.norm(embedded, axis=1, keepdims=True)
        return embedded / np.maximum(norms, 1e-8)
