"""Decoding counts what it decodes, refuses implausible formats, and never holds a recording whole."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from coaching_assistant.core.errors import PermanentError
from coaching_assistant.services import audio
from tests.generated_audio import bursts, hide_flac_length, long_flac, wav_file
from tests.helpers import CONVERSATION


def test_the_decoded_file_reads_back_in_blocks(tmp_path):
    source = wav_file(tmp_path / "tone.wav", seconds=3.0)
    expected = audio.decode(source)
    with audio.decode_to_file(source, work_dir=tmp_path) as decoded:
        assert len(decoded) == len(expected) == 48000 and decoded.duration_seconds == 3.0
        assert np.array_equal(decoded[:], expected)
        assert np.array_equal(decoded[1000:17000], expected[1000:17000])
        assert np.array_equal(decoded[-10:], expected[-10:])
        assert decoded[50000:60000].size == 0
        assert decoded[:5].dtype == np.float32
        with pytest.raises(ValueError):
            decoded[::2]
        # the file has no name: nothing to find in the work directory, nothing left to delete
        assert [p.name for p in tmp_path.iterdir()] == ["tone.wav"]
    with pytest.raises(ValueError):  # closed
        decoded[0:10]


def test_the_fixture_decodes_to_the_values_the_engines_always_got():
    """Short recordings must be transcribed exactly as before: the same float32 samples."""
    with audio.decode_to_file(CONVERSATION) as decoded:
        samples = decoded[:]
    assert len(samples) == 743040  # 46.44 s
    assert samples.dtype == np.float32 and float(np.abs(samples).max()) < 1.0
    # int16 / 32768, as the whole-array decoder computed it
    assert np.array_equal(samples, (np.round(samples * 32768).astype(np.int16).astype(np.float32) / 32768.0))


def test_a_flac_header_that_hides_the_length_decodes_to_the_real_length(tmp_path):
    liar = hide_flac_length(long_flac(tmp_path / "liar.flac", 120))
    assert audio.probe(liar, "flac").duration_seconds < 2  # what the header makes the probe believe
    with audio.decode_to_file(liar, work_dir=tmp_path) as decoded:
        assert decoded.duration_seconds == 120.0
        assert np.allclose(decoded[0:16000 * 20], bursts(20), atol=1e-4)


@pytest.mark.slow
def test_decoding_stops_past_the_maximum_without_holding_what_it_decoded(tmp_path):
    """A header that says one second, and half an hour behind it: decoding stops at the limit, and
    what was decoded up to there was never in memory (a list of chunks was 58 MB of int16 here)."""
    liar = hide_flac_length(long_flac(tmp_path / "liar.flac", 1900))
    tracemalloc.start()
    try:
        with pytest.raises(PermanentError) as raised:
            audio.decode(liar, max_seconds=1800)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert raised.value.code == "audio_too_long" and "1800" in raised.value.message
    assert peak < 8_000_000, f"decoding held {peak / 1e6:.0f} MB"
    assert [p.name for p in tmp_path.iterdir()] == ["liar.flac"]


@pytest.mark.parametrize("refused, accepted, code", [
    ({"rate": 1, "seconds": 20}, {"rate": 8000}, "sample_rate_too_low"),
    ({"rate": 4000}, {"rate": 8000}, "sample_rate_too_low"),
    ({"channels": 16}, {"rate": 44100, "channels": 8}, "too_many_channels"),
    ({"channels": 255}, {"channels": 2}, "too_many_channels")])
def test_formats_no_conversation_has_fail_in_the_worker_too(tmp_path, refused, accepted, code):
    """A file stored before the upload checked these (or one whose frames differ from its header)
    fails with the upload's code, not a 4 GB resampling or FFmpeg's 'Invalid argument'; the limits
    themselves decode to 16 kHz mono."""
    with pytest.raises(PermanentError) as raised:
        audio.decode(wav_file(tmp_path / "odd.wav", **{"seconds": 1, **refused}))
    assert raised.value.code == code
    plausible = wav_file(tmp_path / "ok.wav", **{"seconds": 2, **accepted})
    assert len(audio.decode(plausible)) == pytest.approx(32000, abs=32)
