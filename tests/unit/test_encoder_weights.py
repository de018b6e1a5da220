"""The torch-free weights reader refuses anything but plain tensors lying inside their storage."""

from __future__ import annotations

import pickle
import sys
import types
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

from coaching_assistant.diarization.encoder import default_weights_path, load_state_dict


class _Tensor:
    def __init__(self, offset: int, shape: tuple[int, ...], stride: tuple[int, ...]):
        self.args = (offset, shape, stride)


def legacy_checkpoint(path: Path, tensors: dict[str, _Tensor], storage: np.ndarray, header: object = 1) -> None:
    """Write the legacy torch layout by hand: 3 header pickles, the state dict (tensors refer to
    storage "0" by persistent id), the storage keys, then the storage's count and bytes."""
    fake_torch, fake_utils = types.ModuleType("torch"), types.ModuleType("torch._utils")

    class FloatStorage:
        pass

    def _rebuild_tensor_v2(*args):  # only pickled by reference, never called here
        raise AssertionError

    FloatStorage.__module__, FloatStorage.__qualname__ = "torch", "FloatStorage"
    _rebuild_tensor_v2.__module__, _rebuild_tensor_v2.__qualname__ = "torch._utils", "_rebuild_tensor_v2"
    fake_torch.FloatStorage, fake_utils._rebuild_tensor_v2 = FloatStorage, _rebuild_tensor_v2
    marker = object()

    class Writer(pickle.Pickler):
        def persistent_id(self, obj):
            return ("storage", FloatStorage, "0", "cpu", len(storage)) if obj is marker else None

        def reducer_override(self, obj):
            if isinstance(obj, _Tensor):
                return _rebuild_tensor_v2, (marker, *obj.args, False, OrderedDict())
            return NotImplemented

    sys.modules.update({"torch": fake_torch, "torch._utils": fake_utils})
    try:
        with path.open("wb") as handle:
            pickle.dump(header, handle, protocol=2)
            pickle.dump(1001, handle, protocol=2)
            pickle.dump({"little_endian": True}, handle, protocol=2)
            Writer(handle, protocol=2).dump({"model_state": OrderedDict(tensors)})
            pickle.dump(["0"], handle, protocol=2)
            handle.write(len(storage).to_bytes(8, "little"))
            handle.write(storage.astype("<f4").tobytes())
    finally:
        del sys.modules["torch"], sys.modules["torch._utils"]


def test_a_well_formed_checkpoint_reads_back(tmp_path):
    path = tmp_path / "ok.pt"
    legacy_checkpoint(path, {"w": _Tensor(2, (2, 3), (3, 1)), "t": _Tensor(0, (2,), (4,))},
                      np.arange(8, dtype=np.float32))
    state = load_state_dict(path)
    assert state["w"].tolist() == [[2, 3, 4], [5, 6, 7]]
    assert state["t"].tolist() == [0, 4]


def test_a_tensor_reaching_past_its_storage_is_refused(tmp_path):
    path = tmp_path / "bad.pt"
    legacy_checkpoint(path, {"w": _Tensor(0, (1_000_000,), (1,))}, np.zeros(4, np.float32))
    with pytest.raises(ValueError, match="reaches past its storage"):
        load_state_dict(path)


def test_a_truncated_file_is_refused(tmp_path):
    path = tmp_path / "short.pt"
    legacy_checkpoint(path, {"w": _Tensor(0, (4,), (1,))}, np.zeros(4, np.float32))
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(ValueError, match="truncated"):
        load_state_dict(path)


class _Trap:
    """Unpickling this would create a file: the reader must refuse it first."""

    def __init__(self, target: Path):
        self.target = target

    def __reduce__(self):
        return Path.touch, (self.target,)


def test_code_in_any_pickle_of_the_file_is_never_run(tmp_path):
    target = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    legacy_checkpoint(path, {}, np.zeros(1, np.float32), header=_Trap(target))
    with pytest.raises(pickle.UnpicklingError, match="unexpected object"):
        load_state_dict(path)
    assert not target.exists()


def test_the_shipped_weights_are_the_expected_model():
    state = load_state_dict(default_weights_path())
    assert state["lstm.weight_ih_l0"].shape == (1024, 40)
    assert state["lstm.weight_hh_l2"].shape == (1024, 256)
    assert state["linear.weight"].shape == (256, 256)
    assert "torch" not in sys.modules
