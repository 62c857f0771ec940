"""Local sound devices for real: PortAudio over ALSA ``file`` PCMs defined in a temporary
``.asoundrc`` (this machine has no sound card). Capture reads a raw file we wrote; playback
writes a raw file we read back."""
from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest

from voicebot.audio import devices
from voicebot.audio.devices import FRAME_SAMPLES, LocalAudio
from voicebot.errors import AudioError

ASOUNDRC = """
pcm.vb_speaker_raw {{ type file; slave.pcm "null"; file "{dir}/played.raw"; format "raw" }}
pcm.vb_mic_raw {{ type file; slave.pcm "null"; file "/dev/null"; infile "{dir}/mic.raw"; format "raw" }}
pcm.vb_speaker {{ type plug; slave {{ pcm "vb_speaker_raw"; format S16_LE; rate 48000; channels 1 }} }}
pcm.vb_mic {{ type plug; slave {{ pcm "vb_mic_raw"; format S16_LE; rate 48000; channels 1 }} }}
"""


def tone(freq_hz: float, rate: int, seconds: float, amplitude: int = 8000) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (np.sin(2 * np.pi * freq_hz * t) * amplitude).astype(np.int16)


def peak_hz(pcm: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64) * np.hanning(len(pcm))))
    return float(np.fft.rfftfreq(len(pcm), 1.0 / rate)[np.argmax(spectrum)])


def use_home(home) -> None:
    """Point ALSA at ``home``/.asoundrc and make PortAudio re-read its devices."""
    os.environ["HOME"] = str(home)
    devices.refresh_devices()


@pytest.fixture(scope="module")
def alsa(tmp_path_factory):
    root = tmp_path_factory.mktemp("alsa")
    (root / ".asoundrc").write_text(ASOUNDRC.format(dir=root))
    tone(440, 48000, 3.0).astype("<i2").tofile(root / "mic.raw")  # the "microphone" at 48 kHz
    old_home = os.environ.get("HOME")
    use_home(root)
    yield root
    if old_home is None:
        os.environ.pop("HOME", None)
    else:
        os.environ["HOME"] = old_home
    devices.refresh_devices()


def test_portaudio_lists_the_alsa_file_devices(alsa):
    found = {d["name"]: d for d in devices.list_devices()}
    assert {"vb_speaker_raw", "vb_mic_raw", "vb_speaker", "vb_mic"} <= set(found)
    assert found["vb_mic"]["inputs"] >= 1 and found["vb_speaker"]["outputs"] >= 1


def test_capture_resamples_the_device_rate_to_20ms_8k_frames(alsa):
    mic = LocalAudio("vb_mic_raw", input_rate=48000)  # the device runs at 48 kHz; we resample
    frames = list(mic.frames(max_seconds=1.0))
    assert len(frames) == 50
    assert all(f.dtype == np.int16 and f.shape == (FRAME_SAMPLES,) for f in frames)
    audio = np.concatenate(frames)
    assert abs(peak_hz(audio, 8000) - 440) <= 2
    steady = audio[800:]  # past the resampler's start-up delay
    assert 0.9 * 8000 < np.abs(steady).max() < 1.1 * 8000
    # streaming resampling: no clicks at 20 ms frame boundaries (a 440 Hz sine moves < 2800/sample)
    assert np.abs(np.diff(steady.astype(np.int32))).max() < 3500


def test_capture_opens_an_8k_capable_device_at_8k(alsa):
    frames = list(LocalAudio("vb_mic").frames(max_seconds=0.5))  # ALSA's plug converts to 8 kHz
    assert len(frames) == 25
    assert abs(peak_hz(np.concatenate(frames), 8000) - 440) <= 15  # ALSA's own (linear) converter


def test_stop_ends_capture_from_inside_the_loop(alsa):
    mic = LocalAudio("vb_mic_raw", input_rate=48000)
    taken = []
    for frame in mic.frames():
        taken.append(frame)
        if len(taken) == 3:
            mic.stop()
    assert len(taken) == 3


def test_playback_resamples_8k_to_the_device_rate_and_writes_it(alsa):
    played = alsa / "played.raw"
    played.unlink(missing_ok=True)
    speaker = LocalAudio(output_device="vb_speaker_raw", output_rate=48000)
    assert speaker.play(tone(300, 8000, 1.0)) is True
    written = np.fromfile(played, dtype="<i2")
    assert abs(len(written) - 48000) < 48000 * 0.05
    assert abs(peak_hz(written, 48000) - 300) <= 2
    assert 0.9 * 8000 < np.abs(written[4800:-4800]).max() < 1.1 * 8000


def test_playback_through_an_8k_capable_device(alsa):
    played = alsa / "played.raw"
    played.unlink(missing_ok=True)
    assert LocalAudio(output_device="vb_speaker").play(tone(500, 8000, 0.5)) is True
    written = np.fromfile(played, dtype="<i2")  # plug wrote it at its slave rate, 48 kHz
    assert abs(len(written) - 24000) < 24000 * 0.1
    assert abs(peak_hz(written, 48000) - 500) <= 15


def test_interrupt_cuts_playback_short(alsa):
    played = alsa / "played.raw"
    played.unlink(missing_ok=True)
    speaker = LocalAudio(output_device="vb_speaker_raw", output_rate=48000)
    long_prompt = tone(300, 8000, 300.0)  # the null device has no clock: this plays in ~0.6 s
    result = {}
    player = threading.Thread(target=lambda: result.update(done=speaker.play(long_prompt)))
    player.start()
    deadline = time.monotonic() + 20
    while not (played.exists() and played.stat().st_size > 0) and time.monotonic() < deadline:
        time.sleep(0.001)
    speaker.interrupt()
    player.join(20)
    assert result["done"] is False
    assert played.stat().st_size < 300 * 48000 * 2


def test_unknown_device_names_the_device(alsa):
    with pytest.raises(AudioError, match="input device 'no-such-mic' not found"):
        next(LocalAudio("no-such-mic").frames())
    with pytest.raises(AudioError, match="output device 'no-such-speaker' not found"):
        LocalAudio(output_device="no-such-speaker").play(np.zeros(160, dtype=np.int16))


def test_no_sound_card_gives_a_clear_error(alsa, tmp_path):
    use_home(tmp_path)  # no .asoundrc, no card: PortAudio sees nothing
    try:
        if devices.list_devices():
            pytest.skip("this machine has a real sound card")
        with pytest.raises(AudioError, match="no input sound device found"):
            next(LocalAudio().frames())
        with pytest.raises(AudioError, match="no output sound device found"):
            LocalAudio().play(np.zeros(160, dtype=np.int16))
    finally:
        use_home(alsa)
