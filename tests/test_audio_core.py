"""Audio core: G.711 mu-law against libsndfile and sox, resampling, WAV reading and writing,
and every bad-input case of ``read_wav``."""
from __future__ import annotations

import io
import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf

from voicebot.audio.codecs import ulaw_decode, ulaw_encode
from voicebot.audio.resample import resample, to_float, to_int16
from voicebot.audio.wavfile import Audio, read_wav, write_wav
from voicebot.errors import AudioError, VoicebotError

ALL_INT16 = np.arange(-32768, 32768, dtype=np.int16)
ALL_CODES = np.arange(256, dtype=np.uint8)
needs_sox = pytest.mark.skipif(shutil.which("sox") is None, reason="sox is not installed")


def tone(freq_hz: float, rate: int, seconds: float = 1.0, amplitude: int = 10000) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (np.sin(2 * np.pi * freq_hz * t) * amplitude).astype(np.int16)


def peak_hz(pcm: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64) * np.hanning(len(pcm))))
    return float(np.fft.rfftfreq(len(pcm), 1.0 / rate)[np.argmax(spectrum)])


def sox_raw(args_in: list[str], data: bytes, args_out: list[str]) -> bytes:
    # -D: no dither, so sox's own codec is compared rather than its noise
    result = subprocess.run(["sox", "-D", "-t", "raw", "-r", "8000", "-c", "1", *args_in, "-", "-t", "raw", *args_out, "-"],
                            input=data, capture_output=True, check=True)
    return result.stdout


# --- mu-law ---------------------------------------------------------------------------------

def test_mulaw_code_round_trip_is_exact_for_every_code():
    decoded = ulaw_decode(ALL_CODES.tobytes())
    reencoded = np.frombuffer(ulaw_encode(decoded), dtype=np.uint8)
    # 0x7F is "negative zero": it decodes to 0, which encodes as 0xFF (positive zero)
    expected = ALL_CODES.copy()
    expected[0x7F] = 0xFF
    assert np.array_equal(reencoded, expected)


def test_mulaw_quantisation_error_is_within_the_segment_step():
    values = ALL_INT16.astype(np.int32)
    error = np.abs(ulaw_decode(ulaw_encode(ALL_INT16)).astype(np.int32) - values)
    clipped = np.abs(values) > 32124  # beyond the largest code
    # the step doubles per segment, 8 in the first and 1024 in the last; the decoder returns
    # the middle of the step, so the error is at most half a step
    assert error[~clipped].max() <= 512
    assert error[np.abs(values) < 100].max() <= 4


def test_mulaw_encoder_matches_libsndfile_for_every_int16_value():
    buffer = io.BytesIO()
    sf.write(buffer, ALL_INT16, 8000, subtype="ULAW", format="RAW")
    assert ulaw_encode(ALL_INT16) == buffer.getvalue()


def test_mulaw_decoder_matches_libsndfile_for_every_code():
    theirs, _ = sf.read(io.BytesIO(ALL_CODES.tobytes()), format="RAW", subtype="ULAW",
                        samplerate=8000, channels=1, dtype="int16")
    assert np.array_equal(ulaw_decode(ALL_CODES.tobytes()), theirs)


@needs_sox
def test_mulaw_decoder_matches_sox_for_every_code():
    theirs = np.frombuffer(sox_raw(["-e", "mu-law", "-b", "8"], ALL_CODES.tobytes(), ["-e", "signed", "-b", "16"]), dtype="<i2")
    assert np.array_equal(ulaw_decode(ALL_CODES.tobytes()), theirs)


@needs_sox
def test_mulaw_encoder_matches_sox_on_14_bit_values():
    # G.711 encodes 14-bit samples. sox rounds 16-bit input to 14 bits where libsndfile (and
    # the ITU reference) truncate, so the two disagree only on values with low bits set.
    # On exactly representable values (multiples of 4) sox and voicebot must agree bit for bit.
    values = ALL_INT16[ALL_INT16 % 4 == 0]
    theirs = sox_raw(["-e", "signed", "-b", "16"], values.astype("<i2").tobytes(), ["-e", "mu-law", "-b", "8"])
    assert ulaw_encode(values) == theirs


def test_mulaw_encode_accepts_other_dtypes_and_clips():
    assert ulaw_encode(np.array([1e9, -1e9])) == ulaw_encode(np.array([32767, -32768], dtype=np.int16))
    assert ulaw_encode(np.zeros(0, dtype=np.int16)) == b""
    assert len(ulaw_encode(np.zeros(160, dtype=np.int16))) == 160


# --- resampling -----------------------------------------------------------------------------

@pytest.mark.parametrize("freq,src,dst", [(440, 8000, 16000), (1000, 16000, 8000), (3000, 16000, 8000),
                                          (1000, 22050, 8000), (700, 48000, 8000), (300, 8000, 48000)])
def test_resampling_preserves_a_tones_frequency_and_level(freq, src, dst):
    out = resample(tone(freq, src), src, dst)
    assert out.dtype == np.int16
    assert abs(len(out) - dst) <= 1  # one second in, one second out
    assert abs(peak_hz(out, dst) - freq) <= 2
    middle = out[dst // 10: -dst // 10]
    assert 0.9 * 10000 < np.abs(middle).max() < 1.1 * 10000


def test_downsampling_removes_what_the_new_rate_cannot_carry():
    # 5 kHz cannot exist at 8 kHz; without a low-pass it would alias to 3 kHz at full level
    out = resample(tone(5000, 16000), 16000, 8000)
    assert np.abs(out[800:-800]).max() < 0.01 * 10000  # away from the edges' filter ramp


def test_resample_same_rate_and_empty_input():
    pcm = tone(440, 8000, 0.1)
    assert np.array_equal(resample(pcm, 8000, 8000), pcm)
    assert len(resample(np.zeros(0, dtype=np.int16), 8000, 16000)) == 0


def test_float_conversion_round_trip_and_clipping():
    pcm = ALL_INT16[::97]
    assert np.array_equal(to_int16(to_float(pcm)), pcm)
    assert list(to_int16(np.array([2.0, -2.0]))) == [32767, -32768]


# --- WAV files --------------------------------------------------------------------------------

def test_pcm_wav_round_trip_is_exact(tmp_path):
    audio = Audio(tone(440, 16000, 0.5), 16000)
    path = write_wav(tmp_path / "pcm.wav", audio)
    assert sf.info(str(path)).subtype == "PCM_16"
    back = read_wav(path)
    assert back.sample_rate == 16000 and np.array_equal(back.pcm, audio.pcm)
    assert back.duration_s == pytest.approx(0.5)


def test_mulaw_wav_round_trip_equals_the_codec(tmp_path):
    audio = Audio(tone(440, 8000, 0.5), 8000)
    path = write_wav(tmp_path / "ulaw.wav", audio, mulaw=True)
    assert sf.info(str(path)).subtype == "ULAW"
    assert path.stat().st_size < 0.5 * 8000 + 100  # one byte per sample
    back = read_wav(path)
    assert np.array_equal(back.pcm, ulaw_decode(ulaw_encode(audio.pcm)))


@needs_sox
def test_reads_a_mulaw_wav_written_by_sox(tmp_path):
    source = write_wav(tmp_path / "src.wav", Audio(tone(600, 16000, 0.5), 16000))
    target = tmp_path / "phone.wav"
    subprocess.run(["sox", str(source), "-r", "8000", "-e", "mu-law", str(target)], check=True)
    audio = read_wav(target)
    assert audio.sample_rate == 8000
    assert abs(peak_hz(audio.pcm, 8000) - 600) <= 3


def test_float_wav_is_read_as_int16(tmp_path):
    path = tmp_path / "float.wav"
    sf.write(str(path), to_float(tone(440, 8000, 0.2)), 8000, subtype="FLOAT")
    audio = read_wav(path)
    assert audio.pcm.dtype == np.int16 and np.abs(audio.pcm).max() > 9000


def test_stereo_is_mixed_only_when_allowed(tmp_path):
    left, right = tone(440, 8000, 0.2), np.zeros(1600, dtype=np.int16)
    path = tmp_path / "stereo.wav"
    sf.write(str(path), np.stack([left, right], axis=1), 8000, subtype="PCM_16")
    with pytest.raises(AudioError, match="stereo.wav.*2 channels"):
        read_wav(path)
    mixed = read_wav(path, allow_stereo=True)
    assert np.abs(mixed.pcm.astype(int) - left.astype(int) // 2).max() <= 1


def bad_files(tmp_path) -> dict:
    good = write_wav(tmp_path / "good.wav", Audio(tone(440, 8000, 0.5), 8000)).read_bytes()
    files = {
        "empty": b"",
        "truncated_header": good[:30],
        "not_wav_text": b"this is not audio at all, just some words\n" * 20,
        "riff_garbage": b"RIFF\x24\x00\x00\x00WAVEjunk" + bytes(64),
    }
    paths = {}
    for name, data in files.items():
        paths[name] = tmp_path / f"{name}.wav"
        paths[name].write_bytes(data)
    paths["flac"] = tmp_path / "flac.wav"  # a real FLAC file wearing a .wav name
    sf.write(str(paths["flac"]), tone(440, 8000, 0.2), 8000, format="FLAC")
    paths["rate_11025"] = tmp_path / "rate_11025.wav"
    sf.write(str(paths["rate_11025"]), tone(440, 11025, 0.2), 11025, subtype="PCM_16")
    paths["no_samples"] = tmp_path / "no_samples.wav"
    sf.write(str(paths["no_samples"]), np.zeros(0, dtype=np.int16), 8000, subtype="PCM_16")
    paths["stereo"] = tmp_path / "stereo.wav"
    sf.write(str(paths["stereo"]), np.zeros((800, 2), dtype=np.int16), 8000, subtype="PCM_16")
    paths["missing"] = tmp_path / "missing.wav"
    paths["directory"] = tmp_path / "directory.wav"
    paths["directory"].mkdir()
    return paths


@pytest.mark.parametrize("case,expected", [
    ("missing", "no such file"), ("empty", "empty"), ("truncated_header", "not a readable WAV"),
    ("not_wav_text", "not a readable WAV"), ("riff_garbage", "not a readable WAV"), ("flac", "not a WAV file"),
    ("rate_11025", "unsupported sample rate 11025"), ("no_samples", "no audio samples"),
    ("stereo", "2 channels"), ("directory", ""),
])
def test_bad_input_gives_one_line_audio_error_naming_the_file(tmp_path, case, expected):
    path = bad_files(tmp_path)[case]
    with pytest.raises(AudioError) as info:
        read_wav(path)
    message = str(info.value)
    assert isinstance(info.value, VoicebotError)
    assert str(path) in message and expected in message
    assert "\n" not in message


def test_framer_hands_on_whole_frames_and_keeps_the_rest():
    from voicebot.audio.frames import Framer

    framer = Framer(160)
    pcm = np.arange(400, dtype=np.int16)
    assert framer.feed(pcm[:100]) == []
    first = framer.feed(pcm[100:330])
    assert [len(f) for f in first] == [160, 160] and np.array_equal(np.concatenate(first), pcm[:320])
    last = framer.feed(pcm[330:])
    assert last == [] and np.array_equal(framer.feed(np.arange(400, 480, dtype=np.int16))[0], np.arange(320, 480, dtype=np.int16))
