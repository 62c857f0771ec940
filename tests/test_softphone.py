"""The browser softphone (``WS /chat/voice``): its protocol against the real app with the echo
session (audio resampled into 20 ms frames at 8 kHz, paced bot audio, marks, barge-in clear,
hang-up, bad audio refused with a clear error), and a whole call from Chromium's fake
microphone through the real pipeline, whose live transcript shows the order status answer,
ending in a handoff from the page's keypad."""
from __future__ import annotations

import base64
import json
import struct

import numpy as np
import pytest
import requests
import websocket

from tests.conftest import wait_for
from voicebot.audio.resample import StreamResampler
from voicebot.config import PROJECT_ROOT
from voicebot.storage import calls
from voicebot.telephony.browser import FORMAT_HELP, TOO_MANY

FIXTURE = PROJECT_ROOT / "audio_fixtures" / "order_4172.wav"


def connect(url: str):
    return websocket.create_connection(url.replace("http", "ws") + "/chat/voice", timeout=10)


def closing(ws) -> tuple[int, bytes]:
    opcode, data = ws.recv_data(control_frame=True)
    assert opcode == websocket.ABNF.OPCODE_CLOSE
    return struct.unpack(">H", data[:2])[0], data[2:]


@pytest.mark.parametrize("start,error", [
    ({"type": "start", "format": "float32", "sample_rate": 16000}, f"unsupported audio format 'float32': {FORMAT_HELP}"),
    ({"type": "start", "format": "pcm_s16le", "sample_rate": 12345}, f"unsupported sample rate 12345: {FORMAT_HELP}"),
    ({"type": "hello"}, f"expected a start message: {FORMAT_HELP}"),
])
def test_wrong_formats_and_rates_get_a_clear_error(echo_server, start, error):
    ws = connect(echo_server.url)
    ws.send(json.dumps(start))
    assert json.loads(ws.recv()) == {"type": "error", "error": error}
    assert closing(ws)[0] == 1003


def test_audio_before_start_is_refused(echo_server):
    ws = connect(echo_server.url)
    ws.send_binary(b"\x00\x01" * 100)
    assert json.loads(ws.recv())["error"] == f"audio before the start message: {FORMAT_HELP}"
    assert closing(ws)[0] == 1003


def test_a_call_resamples_the_microphone_plays_paced_audio_and_echoes_keys(echo_server):
    ws = connect(echo_server.url)
    ws.send(json.dumps({"type": "start", "format": "pcm_s16le", "sample_rate": 16000}))
    ready = json.loads(ws.recv())
    assert ready["type"] == "ready" and ready["sample_rate"] == 8000
    session = echo_server.sessions[ready["call_sid"]]
    greeting = []
    while True:
        message = json.loads(ws.recv())
        if message["type"] == "mark":
            assert message["name"] == "greeting"
            break
        assert message["type"] == "audio"
        greeting.append(np.frombuffer(base64.b64decode(message["pcm"]), dtype="<i2"))
    assert [len(f) for f in greeting] == [160] * 30  # 0.6 s of tone in 20 ms frames
    ws.send(json.dumps({"type": "mark", "name": "greeting"}))
    one_second = (8000 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)).astype("<i2")
    expected, resampler = 0, StreamResampler(16000, 8000)
    for chunk in np.array_split(one_second, 4):
        ws.send_binary(chunk.tobytes())
        expected += len(resampler.feed(chunk))
    assert 7000 < expected <= 8000  # 1 s at 16 kHz is 8000 samples at 8 kHz, less what the filter holds back (~66 ms)
    assert wait_for(lambda: session.frames == expected // 160)  # in 20 ms frames of 160 samples
    assert wait_for(lambda: session.marks == ["greeting"])
    heard = np.concatenate(session.audio_in)
    assert abs(np.sqrt(np.mean(heard[400:-400].astype(float) ** 2)) - 8000 / np.sqrt(2)) < 300  # the tone, resampled
    ws.send(json.dumps({"type": "dtmf", "digit": "9"}))  # the echo session says goodbye and hangs up
    kinds = []
    while not kinds or kinds[-1] != "hangup":
        message = json.loads(ws.recv())
        kinds.append(message["type"])
    assert kinds[0] == "clear" and kinds.count("mark") == 1 and kinds[-2:] == ["mark", "hangup"]
    assert wait_for(lambda: session.stopped is not None)


def test_one_address_may_hold_only_a_few_calls_at_once(echo_server):
    first, second = connect(echo_server.url), connect(echo_server.url)
    for ws in (first, second):
        ws.send(json.dumps({"type": "start", "format": "pcm_s16le", "sample_rate": 16000}))
        assert json.loads(ws.recv())["type"] == "ready"
    third = connect(echo_server.url)
    assert json.loads(third.recv()) == {"type": "error", "error": TOO_MANY}
    assert closing(third)[0] == 1008
    first.send(json.dumps({"type": "hangup"}))
    first.close()
    fourth = None
    for _ in range(50):  # the first call's thread lets go of its place
        fourth = connect(echo_server.url)
        fourth.send(json.dumps({"type": "start", "format": "pcm_s16le", "sample_rate": 16000}))
        if json.loads(fourth.recv())["type"] == "ready":
            break
        fourth = None
    assert fourth is not None
    for ws in (second, fourth):
        ws.send(json.dumps({"type": "hangup"}))
        ws.close()


def test_an_odd_audio_message_is_refused(echo_server):
    ws = connect(echo_server.url)
    ws.send(json.dumps({"type": "start", "format": "pcm_s16le", "sample_rate": 48000}))
    assert json.loads(ws.recv())["type"] == "ready"
    ws.send_binary(b"\x00\x01\x02")
    while True:
        message = json.loads(ws.recv())
        if message["type"] == "error":
            break
    assert message["error"] == f"an audio message of 3 bytes is not 16-bit PCM: {FORMAT_HELP}"


def test_the_page_sends_the_microphone_in_20_ms_pieces(echo_server, launch_chromium, tmp_path):
    """The softphone's microphone tap (static/chat/mic-capture.js, an AudioWorklet) sends 20 ms of
    16 kHz PCM per message: 640 bytes. Its ScriptProcessorNode predecessor sent 8,192-byte
    (256 ms) buffers, which made every barge-in and end of turn up to a quarter second late."""
    from voicebot.audio.wavfile import Audio, write_wav

    tone = (3000 * np.sin(2 * np.pi * 300 * np.arange(5 * 16000) / 16000)).astype(np.int16)
    browser = launch_chromium(extra_args=["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                                          f"--use-file-for-fake-audio-capture={write_wav(tmp_path / 'tone.wav', Audio(tone, 16000))}"])
    page = browser.new_page()
    sent: list[int] = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(len(payload)) if isinstance(payload, bytes) else None))
    page.goto(echo_server.url + "/chat")
    page.click("#softphone-call")
    page.wait_for_selector("#softphone-state >> text=connected", timeout=30_000)
    session = echo_server.sessions[page.get_attribute("#softphone", "data-call")]
    assert wait_for(lambda: session.frames >= 50, timeout=30)  # a second of microphone at the bot
    page.click("#softphone-hangup")
    page.wait_for_selector("#softphone-call:not([disabled])")  # (Playwright reports the frames sent meanwhile)
    assert len(sent) >= 50 and set(sent) == {640}, sorted(set(sent))
    page.close()


def one_utterance(folder) -> str:
    """The fixture between 11 s and 40 s of silence, at 16 kHz: Chromium loops its fake microphone's
    file, so without the silence the caller would talk on and on. The greeting and the menu play
    for ~8 s from about when the microphone starts and the menu then waits 6 s for an answer, so
    the caller speaks inside that window (or over the menu: barge-in) however late the page's
    call starts. 14 s of lead, as before, sat at the window's end: on a busy machine the menu's
    silence timeout fired first, the reprompt cut off the caller's first digit ("11 2")."""
    from voicebot.audio.wavfile import Audio, read_wav, write_wav

    speech = read_wav(FIXTURE).at_rate(16000).pcm
    pcm = np.concatenate([np.zeros(11 * 16000, np.int16), speech, np.zeros(40 * 16000, np.int16)])
    return str(write_wav(folder / "order_4172_once.wav", Audio(pcm, 16000)))


@pytest.mark.slow
def test_the_softphone_page_talks_to_the_real_pipeline(real_server, launch_chromium, tmp_path):
    browser = launch_chromium(extra_args=["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                                          f"--use-file-for-fake-audio-capture={one_utterance(tmp_path)}",
                                          "--autoplay-policy=no-user-gesture-required"])
    context = browser.new_context()
    page = context.new_page()
    page.goto(real_server.url + "/chat")
    page.click("#softphone-call")
    page.wait_for_selector("#softphone-transcript .bot >> text=Welcome to Acme.", timeout=60_000)
    try:
        page.wait_for_selector("#softphone-transcript .bot >> text=has shipped and arrives Thursday", timeout=120_000)
    finally:
        lines = page.locator("#softphone-transcript p").all_inner_texts()
        print("softphone transcript:", lines)
        call_sid = page.get_attribute("#softphone", "data-call")
        record = call_sid and calls.load_call(real_server.state.db, call_sid)
        for line in (record or {}).get("transcript", []):  # on a failure: what was recognised, how and when
            print("stored line:", line)
    assert "Bot: Order 4 1 7 2 has shipped and arrives Thursday." in lines
    heard = [line for line in lines if line.startswith("You: ")]
    assert heard, lines  # what the caller said, as recognised
    page.wait_for_selector("#softphone-transcript .bot >> text=Anything else?", timeout=60_000)
    page.click(".softphone-key[data-digit='0']")  # the keypad: 0 is the demo flow's agent key
    try:  # the goodbye prompt plays out in the page (its marks come back) before the transfer
        page.wait_for_selector("#softphone-state >> text=transferred to an agent (agent_requested)", timeout=120_000)
    finally:
        print("softphone state:", page.inner_text("#softphone-state"),
              "transcript:", page.locator("#softphone-transcript p").all_inner_texts())
    record = calls.load_call(real_server.state.db, call_sid)
    assert len(record["transfer_ids"]) == 1  # the handoff the agent opens, with the conversation
    handed = requests.get(f"{real_server.url}/agent/transfers/{record['transfer_ids'][0]}", timeout=10).json()
    assert handed["reason"] == "agent_requested"
    assert "Order 4 1 7 2 has shipped and arrives Thursday." in [t["text"] for t in handed["transcript"]]
    page.wait_for_selector("#softphone-call:not([disabled])")  # the bot ended the call: a new one may start
    assert page.inner_text("#softphone-state") == "transferred to an agent (agent_requested)"
    context.close()


def test_the_hang_up_button_ends_the_call_on_both_sides(echo_server, launch_chromium):
    """The page's own hang-up: the page says the call ended and the server's session is stopped."""
    browser = launch_chromium(extra_args=["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"])
    context = browser.new_context()
    page = context.new_page()
    page.goto(echo_server.url + "/chat")
    page.click("#softphone-call")
    page.wait_for_selector("#softphone[data-call]", timeout=30_000)
    call_sid = page.get_attribute("#softphone", "data-call")
    page.wait_for_selector("#softphone-hangup:not([disabled])")
    page.click("#softphone-hangup")
    page.wait_for_selector("#softphone-state >> text=call ended")
    assert wait_for(lambda: echo_server.sessions[call_sid].stopped is not None, timeout=10)
    assert page.is_enabled("#softphone-call") and page.is_disabled("#softphone-hangup")
    context.close()
