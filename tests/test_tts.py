"""Text to speech with the real pyttsx3/espeak-ng: per-utterance rate, voice and pitch in one
process, concurrency, the phrase cache, recorded prompts and the process-wide engine."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import soundfile as sf

from voicebot.audio.codecs import ulaw_decode
from voicebot.audio.wavfile import Audio, write_wav
from voicebot.errors import AudioError, TTSError
from voicebot.tts.base import TTS
from voicebot.tts.cache import CachingTTS
from voicebot.tts.prompts import load_prompt
from voicebot.tts.pyttsx3 import Pyttsx3TTS, telephone_audio, telephone_mulaw
from voicebot.tts.registry import delivery_for, load_tts

SENTENCE = "Thank you for calling. Your order has shipped and will arrive on Tuesday."


@pytest.fixture(scope="module")
def tts() -> Pyttsx3TTS:
    return Pyttsx3TTS()


def speech_span_s(audio: Audio) -> float:
    """Seconds from the first to the last clearly audible sample (ignores padding)."""
    loud = np.nonzero(np.abs(audio.pcm.astype(np.int32)) > 300)[0]
    return (loud[-1] - loud[0]) / audio.sample_rate


def median_f0(audio: Audio) -> float:
    """Median fundamental frequency (Hz) of the voiced 40 ms frames, by autocorrelation."""
    x = audio.pcm.astype(np.float64)
    rate, n = audio.sample_rate, int(0.04 * audio.sample_rate)
    level = np.sqrt((x ** 2).mean())
    f0s = []
    for i in range(0, len(x) - n, n // 2):
        frame = x[i:i + n] - x[i:i + n].mean()
        if np.sqrt((frame ** 2).mean()) < 0.3 * level:
            continue
        ac = np.correlate(frame, frame, "full")[n - 1:]
        lo, hi = int(rate / 400), int(rate / 60)
        lag = lo + int(np.argmax(ac[lo:hi]))
        if ac[lag] > 0.5 * ac[0]:
            f0s.append(rate / lag)
    return float(np.median(f0s))


# --- Pyttsx3TTS -------------------------------------------------------------------------------

def test_renders_int16_speech(tts):
    audio = tts.synthesize(SENTENCE)
    assert audio.sample_rate == 22050 and audio.pcm.dtype == np.int16
    assert 3.0 < speech_span_s(audio) < 6.5
    assert np.abs(audio.pcm).max() > 5000


def test_rate_changes_take_effect_every_time_in_one_process(tts):
    # pyttsx3 alone keeps the first rate for the whole process; here each utterance follows its rate
    spans = {rate: [] for rate in (100, 200, 320)}
    for rate in (100, 320, 200, 100, 320, 200):
        spans[rate].append(speech_span_s(tts.synthesize(SENTENCE, rate=rate)))
    slow, mid, fast = (np.mean(spans[r]) for r in (100, 200, 320))
    assert slow > 1.6 * mid and mid > 1.3 * fast
    for rate, values in spans.items():  # the same rate again gives the same length
        assert abs(values[0] - values[1]) < 0.05, rate


def test_voices_differ(tts):
    american = tts.synthesize(SENTENCE, voice="en-us")
    scottish = tts.synthesize(SENTENCE, voice="en-gb-scotland")
    female = tts.synthesize(SENTENCE, voice="en-us+f3")
    assert abs(speech_span_s(american) - speech_span_s(scottish)) > 0.05  # different phoneme timing
    assert median_f0(female) > 1.5 * median_f0(american)  # a female variant speaks higher
    assert american.sample_rate == scottish.sample_rate == female.sample_rate


def test_pitch_changes_the_fundamental(tts):
    low, normal = tts.synthesize(SENTENCE, pitch=20), tts.synthesize(SENTENCE, pitch=50)
    assert median_f0(low) < 0.9 * median_f0(normal)


def test_concurrent_synthesis_from_eight_threads(tts):
    texts = {"short": "Hello.", "long": SENTENCE}
    settings = [(name, rate, voice) for name in texts for rate in (140, 260) for voice in ("en-us", "en-us+f3")]
    reference = {}
    for s in settings:
        audio = tts.synthesize(texts[s[0]], rate=s[1], voice=s[2])
        reference[s] = (speech_span_s(audio), median_f0(audio))
    barrier = threading.Barrier(8)

    def work(i):
        barrier.wait()
        results = []
        for j in range(3):
            setting = settings[(i + j) % len(settings)]
            results.append((setting, tts.synthesize(texts[setting[0]], rate=setting[1], voice=setting[2])))
        return results

    with ThreadPoolExecutor(8) as pool:
        outcomes = [r for batch in pool.map(work, range(8)) for r in batch]
    assert len(outcomes) == 24
    for setting, audio in outcomes:  # every caller got its own text at its own rate and voice
        span, f0 = reference[setting]
        # (espeak-ng's first utterance after a voice switch runs up to ~60 ms longer)
        assert abs(speech_span_s(audio) - span) < 0.1, setting
        assert abs(median_f0(audio) - f0) < 0.15 * f0, setting


def test_settings_do_not_leak_between_utterances(tts, capfd):
    default = speech_span_s(tts.synthesize(SENTENCE))
    tts.synthesize(SENTENCE, voice="en-gb-scotland", rate=300, pitch=10)
    with pytest.raises(TTSError):
        tts.synthesize(SENTENCE, voice="no-such-voice")
    # espeak-ng's first utterance after a voice switch runs ~60 ms longer; 300 wpm would be 2 s shorter
    assert abs(speech_span_s(tts.synthesize(SENTENCE)) - default) < 0.15
    assert capfd.readouterr().out == ""  # pyttsx3's engine would print "Audio saved to ..."


@pytest.mark.parametrize("kwargs,message", [
    ({"text": ""}, "empty"), ({"text": "   "}, "empty"),
    ({"text": "hi", "voice": "no-such-voice"}, "unknown voice 'no-such-voice'"),
    ({"text": "hi", "voice": "mb/mb-us1"}, "unknown voice"),  # MBROLA is not installed
    ({"text": "hi", "voice": "en-us+nosuch"}, "unknown voice variant 'nosuch'"),
    ({"text": "hi", "rate": 10}, "rate 10"), ({"text": "hi", "rate": 1000}, "out of range"),
    ({"text": "hi", "pitch": 150}, "pitch 150"), ({"text": "hi", "rate": 150.5}, "rate 150.5"),
    ({"text": "hi", "voice": "en us"}, "unknown voice"), ({"text": "hi", "voice": ""}, "unknown voice ''"),
])
def test_bad_requests_raise_tts_error(tts, kwargs, message):
    text = kwargs.pop("text")
    with pytest.raises(TTSError, match=message):
        tts.synthesize(text, **kwargs)
    assert tts.synthesize("still works").duration_s > 0.3  # a bad request breaks nothing


def test_list_voices_has_english_and_no_mbrola(tts):
    voices = tts.list_voices()
    ids = {v.id for v in voices}
    assert "gmw/en-us" in ids and len(voices) > 50
    assert not any(i.startswith("mb/") for i in ids)
    english = next(v for v in voices if v.id == "gmw/en-us")
    assert english.languages == ("en-us",)
    tts.synthesize("hello", voice=english.id)
    assert {"f3", "m3"} <= set(tts.list_variants())


def test_telephone_helpers(tts):
    audio = tts.synthesize("Your balance is twelve dollars.")
    phone = telephone_audio(audio)
    assert phone.sample_rate == 8000
    assert abs(phone.duration_s - audio.duration_s) < 0.001
    payload = telephone_mulaw(audio)
    assert len(payload) == len(phone.pcm)
    decoded = ulaw_decode(payload).astype(np.float64)
    # mu-law keeps the waveform: strongly correlated with the linear 8 kHz audio
    assert np.corrcoef(decoded, phone.pcm.astype(np.float64))[0, 1] > 0.99


# --- CachingTTS -------------------------------------------------------------------------------

class GatedTTS(TTS):
    """Holds every render until ``gate`` opens, then renders with the real engine and counts."""

    name = "gated"

    def __init__(self, inner: TTS):
        self.inner, self.gate, self.calls = inner, threading.Event(), 0

    def synthesize(self, text, *, voice=None, rate=None, **style):
        self.calls += 1
        assert self.gate.wait(30)
        return self.inner.synthesize(text, voice=voice, rate=rate, **style)


def test_cache_returns_the_same_audio_and_counts(tts):
    cache = CachingTTS(tts, max_items=8)
    first = cache.synthesize("Welcome to Acme.", rate=150)
    again = cache.synthesize("Welcome to Acme.", rate=150)
    other = cache.synthesize("Welcome to Acme.", rate=250)
    assert again is first and other is not first
    assert speech_span_s(other) < speech_span_s(first)
    assert (cache.stats.renders, cache.stats.memory_hits) == (2, 1)
    with pytest.raises(ValueError):
        first.pcm[0] = 1  # shared audio is read-only


def test_cache_is_single_flight_across_threads(tts):
    gated = GatedTTS(tts)
    cache = CachingTTS(gated)
    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(cache.synthesize, "Please hold.") for _ in range(8)]
        deadline = time.monotonic() + 10
        while cache.stats.shared_waits < 7 and time.monotonic() < deadline:
            time.sleep(0.01)
        gated.gate.set()
        results = [f.result() for f in futures]
    assert gated.calls == 1 and cache.stats.renders == 1 and cache.stats.shared_waits == 7
    assert all(r is results[0] for r in results)


def test_cache_shares_errors_but_never_caches_them(tts):
    gated = GatedTTS(tts)
    cache = CachingTTS(gated)
    with ThreadPoolExecutor(3) as pool:
        futures = [pool.submit(cache.synthesize, "hi", voice="no-such-voice") for _ in range(3)]
        deadline = time.monotonic() + 10
        while cache.stats.shared_waits < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        gated.gate.set()
        for f in futures:
            with pytest.raises(TTSError, match="unknown voice"):
                f.result()
    assert gated.calls == 1 and len(cache) == 0
    with pytest.raises(TTSError):
        cache.synthesize("hi", voice="no-such-voice")
    assert gated.calls == 2


def test_cache_evicts_least_recently_used(tts):
    cache = CachingTTS(tts, max_items=2)
    for text in ("one", "two", "one", "three"):  # "two" is the least recently used when "three" arrives
        cache.synthesize(text)
    assert len(cache) == 2 and cache.stats.renders == 3
    cache.synthesize("one")
    assert cache.stats.renders == 3
    cache.synthesize("two")
    assert cache.stats.renders == 4


def test_disk_cache_survives_a_new_process_cache(tts, tmp_path):
    first = CachingTTS(tts, disk_dir=tmp_path / "tts-cache")
    audio = first.synthesize("Our hours are nine to five.", pitch=40)
    assert len(list((tmp_path / "tts-cache").glob("*.wav"))) == 1
    second = CachingTTS(tts, disk_dir=tmp_path / "tts-cache")
    again = second.synthesize("Our hours are nine to five.", pitch=40)
    assert second.stats.renders == 0 and second.stats.disk_hits == 1
    assert np.array_equal(again.pcm, audio.pcm) and again.sample_rate == audio.sample_rate
    second.synthesize("Our hours are nine to five.", pitch=60)  # another style is another entry
    assert second.stats.renders == 1


def test_damaged_disk_entry_is_rendered_again(tts, tmp_path):
    cache = CachingTTS(tts, disk_dir=tmp_path)
    cache.synthesize("Goodbye.")
    [entry] = tmp_path.glob("*.wav")
    entry.write_bytes(b"RIFF broken")
    fresh = CachingTTS(tts, disk_dir=tmp_path)
    assert fresh.synthesize("Goodbye.").duration_s > 0.3
    assert fresh.stats.renders == 1 and sf.info(str(entry)).frames > 0


# --- recorded prompts ------------------------------------------------------------------------

def test_prompt_any_rate_pcm_or_mulaw_becomes_8k(tts, tmp_path):
    audio = tts.synthesize("Thanks for waiting.")
    wide = write_wav(tmp_path / "wide.wav", audio)  # 22050 Hz PCM
    phone = write_wav(tmp_path / "phone.wav", telephone_audio(audio), mulaw=True)
    stereo = tmp_path / "stereo.wav"
    sf.write(str(stereo), np.stack([audio.pcm, audio.pcm], axis=1), 22050, subtype="PCM_16")
    for path in (wide, phone, stereo):
        prompt = load_prompt(path)
        assert prompt.sample_rate == 8000
        assert abs(prompt.duration_s - audio.duration_s) < 0.01
    assert load_prompt("phone.wav", base_dir=tmp_path) is load_prompt(phone)  # cached


def test_prompt_is_reloaded_when_the_file_changes(tts, tmp_path):
    path = write_wav(tmp_path / "greeting.wav", tts.synthesize("Hello."))
    short = load_prompt(path)
    time.sleep(0.01)
    write_wav(path, tts.synthesize("Hello and welcome to the Acme support line."))
    assert load_prompt(path).duration_s > short.duration_s + 1


@pytest.mark.parametrize("content,message", [
    (None, "no such file"), (b"", "empty"), (b"not audio" * 10, "not a readable WAV"),
])
def test_bad_prompt_names_the_file(tmp_path, content, message):
    path = tmp_path / "prompt.wav"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(AudioError) as info:
        load_prompt(path)
    assert str(info.value).startswith("recorded prompt") and str(path) in str(info.value) and message in str(info.value)


# --- registry ---------------------------------------------------------------------------------

def test_load_tts_is_one_cached_engine_per_process():
    engine = load_tts()
    assert load_tts() is engine and isinstance(engine, CachingTTS)
    engine.synthesize("Registry check.")
    assert engine.synthesize("Registry check.") is engine.synthesize("Registry check.")


def test_calm_delivery_is_slower_and_lower(tts):
    calm, normal = delivery_for("calm"), delivery_for("normal")
    assert calm.rate < normal.rate and calm.pitch < normal.pitch
    assert delivery_for(None) == normal
    calm_audio = tts.synthesize(SENTENCE, **calm.as_kwargs())
    normal_audio = tts.synthesize(SENTENCE, **normal.as_kwargs())
    assert speech_span_s(calm_audio) > 1.1 * speech_span_s(normal_audio)
    assert median_f0(calm_audio) < 0.95 * median_f0(normal_audio)
    with pytest.raises(TTSError, match="unknown speaking style 'angry'"):
        delivery_for("angry")
