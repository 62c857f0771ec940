"""``voicebot talk`` end to end on sound devices: ALSA ``file`` PCMs in a temporary ``.asoundrc``
stand in for the microphone (a raw file we write) and the speaker (a raw file we read back),
since this machine has no sound card. The speaker "file" is a pipe appending to
played.raw: each prompt chunk opens the device anew, and a plain file would be truncated. The bot, its models and the demo flow are the real ones;
the caller's order number is recorded human speech (FSDD digits)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from voicebot.audio.resample import resample
from voicebot.audio.wavfile import read_wav
from voicebot.config import PROJECT_ROOT

ASOUNDRC = """
pcm.vb_speaker_raw {{ type file; slave.pcm "null"; file "|cat >> {dir}/played.raw"; format "raw" }}
pcm.vb_mic_raw {{ type file; slave.pcm "null"; file "/dev/null"; infile "{dir}/mic.raw"; format "raw" }}
pcm.vb_speaker {{ type plug; slave {{ pcm "vb_speaker_raw"; format S16_LE; rate 48000; channels 1 }} }}
pcm.vb_mic {{ type plug; slave {{ pcm "vb_mic_raw"; format S16_LE; rate 48000; channels 1 }} }}
"""
# A laptop's rate: talk opens the devices at 48 kHz (--device-rate) and resamples to and from the
# 8 kHz line itself. (Letting ALSA's plug convert instead is no test: its file plugin then
# misreads the input file's timing.)
DEVICE_RATE = 48000


def _run_talk(home, *args, timeout=300):
    env = {**os.environ, "HOME": str(home), "VOICEBOT_DATA_DIR": str(home / "var"),
           "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "voicebot.cli.main", "talk", *args], env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture()
def alsa_home(tmp_path):
    (tmp_path / ".asoundrc").write_text(ASOUNDRC.format(dir=tmp_path))
    return tmp_path


def test_talk_answers_a_spoken_order_number_through_the_sound_devices(alsa_home):
    from voicebot.tts.registry import load_tts

    silence = lambda s: np.zeros(int(s * 8000), dtype=np.int16)  # noqa: E731
    menu_choice = load_tts().synthesize("where is my order").at_rate(8000).pcm  # plumbing: words reach the flow
    order_number = read_wav(PROJECT_ROOT / "audio_fixtures" / "order_4172.wav").at_rate(8000).pcm  # human speech
    caller = np.concatenate([silence(2.0), menu_choice, silence(6.0), order_number, silence(8.0)])
    resample(caller, 8000, DEVICE_RATE).astype("<i2").tofile(alsa_home / "mic.raw")
    seconds = len(caller) / 8000

    done = _run_talk(alsa_home, "-i", "vb_mic", "-o", "vb_speaker", "--device-rate", str(DEVICE_RATE), "--seconds", f"{seconds:.2f}", "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    said = [line["text"] for line in lines if line["type"] == "bot"]
    heard = [line["text"] for line in lines if line["type"] == "you"]
    assert said[0] == "Hi Ana, welcome back to Acme."
    assert "Please say or key in your order number." in said, (said, heard)
    # the recorded digits are heard through the 48 kHz microphone and answered through the speaker
    assert "Order 4 1 7 2 has shipped and arrives Thursday." in said, (said, heard)
    assert "the microphone overflowed" not in done.stderr, done.stderr  # the microphone lost no audio
    played = np.fromfile(alsa_home / "played.raw", dtype="<i2")
    assert len(played) / DEVICE_RATE > 5.0 and np.abs(played).max() > 1000  # the replies reached the speaker


def test_talk_without_a_sound_card_is_a_one_line_error(tmp_path):
    done = _run_talk(tmp_path, "--seconds", "1", timeout=60)  # no .asoundrc: PortAudio sees no device
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "no input sound device found" in done.stderr and len(done.stderr.strip().splitlines()) == 1
