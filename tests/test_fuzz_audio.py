"""Property-based tests of the audio decoders: mu-law codec on any bytes and samples, and
``read_wav`` on arbitrary and damaged files (``AudioError`` or audio, never another error)."""
from __future__ import annotations

import io

import fuzz_settings  # noqa: F401  (loads the bounded CI profile)
import numpy as np
import soundfile as sf
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from voicebot.audio.codecs import ulaw_decode, ulaw_encode
from voicebot.audio.wavfile import Audio, read_wav
from voicebot.errors import AudioError


@given(st.binary(max_size=2000))
def test_ulaw_decode_any_bytes_and_reencode_is_stable(data):
    pcm = ulaw_decode(data)
    assert pcm.dtype == np.int16 and len(pcm) == len(data)
    assert np.array_equal(ulaw_decode(ulaw_encode(pcm)), pcm)


@given(hnp.arrays(st.sampled_from([np.int16, np.int32, np.int64, np.float32, np.float64]),
                  st.integers(0, 500), elements={"allow_nan": False, "allow_infinity": False}))
def test_ulaw_encode_any_numeric_samples(samples):
    encoded = ulaw_encode(samples)
    assert isinstance(encoded, bytes) and len(encoded) == len(samples)


def _valid_wav(rate=8000, n=400, subtype="PCM_16") -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, (np.sin(np.arange(n) / 5) * 8000).astype(np.int16), rate, format="WAV", subtype=subtype)
    return buffer.getvalue()


def _read(tmp_path_factory, data: bytes):
    path = tmp_path_factory.mktemp("wav") / "input.wav"
    path.write_bytes(data)
    try:
        return read_wav(path)
    except AudioError as error:
        assert "\n" not in str(error)
        return error


@given(st.binary(max_size=600))
def test_read_wav_arbitrary_bytes(tmp_path_factory, data):
    assert isinstance(_read(tmp_path_factory, b"RIFF" + data if data[:1] == b"\x00" else data), (Audio, AudioError))


@given(st.sampled_from(["PCM_16", "ULAW", "FLOAT", "PCM_U8"]), st.sampled_from([8000, 16000, 44100]),
       st.lists(st.tuples(st.integers(0, 80), st.integers(0, 255)), min_size=1, max_size=6),
       st.integers(0, 900))
def test_read_wav_damaged_header_or_truncated(tmp_path_factory, subtype, rate, flips, cut):
    data = bytearray(_valid_wav(rate, subtype=subtype))
    for position, value in flips:
        data[position % len(data)] = value
    result = _read(tmp_path_factory, bytes(data[:max(cut, 1)] if cut < len(data) else data))
    assert isinstance(result, (Audio, AudioError))
    if isinstance(result, Audio):
        assert result.pcm.dtype == np.int16 and len(result.pcm) > 0
