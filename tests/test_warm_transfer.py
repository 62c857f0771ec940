"""Warm transfers and queues over the real app, real server and the simulated Twilio (REST
stand-in + ``TwilioRooms`` playing conferences, queues and the agent's phone), with the
``EchoSession`` as the call (no speech models: key 0 transfers, key 9 hangs up).

Shown: the caller waits on hold in a conference (the Media Stream has ended: nothing is
transcribed), the agent's leg hears the spoken summary before joining, an agent who does not
answer gives the caller back to the bot with ``resumed=transfer_failed`` on a fresh stream, a
queue announces the caller's position and gives them back after the longest wait; bad webhook
input is refused."""
from __future__ import annotations

import io
import socket
import wave
import xml.etree.ElementTree as ET

import pytest
from conftest import ACCOUNT_SID, AUTH_TOKEN, make_settings, signed_post

from voicebot.testing.echo_session import EchoSession
from voicebot.testing.live_server import LiveServer
from voicebot.testing.rest_standin import RestStandin
from voicebot.testing.twilio_rooms import TwilioRooms
from voicebot.testing.twilio_sim import Keys, TwilioSimulator

AGENT, OUR_NUMBER = "+15550100000", "+15550009999"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from voicebot.web.app import create_app

    standin = RestStandin(ACCOUNT_SID, AUTH_TOKEN)
    port = _free_port()
    options = {"transfer_to": AGENT}
    settings = make_settings(tmp_path_factory.mktemp("warm"), standin.url, public_url=f"http://127.0.0.1:{port}",
                             transfer_mode="warm", twilio_number=OUR_NUMBER, ring_timeout_s=15, queue_max_wait_s=60)
    sessions = []

    def factory(call_sid, io_, state):
        sessions.append(EchoSession(call_sid, io_, state, **options))
        return sessions[-1]

    app = create_app(settings, session_factory=factory)
    with LiveServer(app, port=port) as live:
        yield type("Server", (), {"url": live.url, "standin": standin, "options": options, "sessions": sessions,
                                  "db": app.extensions["voicebot"].db})
    standin.stop()


def _sim(server) -> TwilioSimulator:
    return TwilioSimulator(server.url, auth_token=AUTH_TOKEN, account_sid=ACCOUNT_SID, rest_standin=server.standin,
                           fast=True, reply_timeout_s=10, final_wait_s=5)


@pytest.fixture()
def rooms(server):
    made = []

    def build(agent: str) -> TwilioRooms:
        made.append(TwilioRooms(server.standin, agent=agent))
        return made[-1]

    yield build
    for r in made:
        r.agent = "detached"  # the stand-in outlives the test: later calls are not this test's
        server.standin._listeners.remove(r._updated)
        server.standin._create_listeners.remove(r._created)


def test_warm_transfer_holds_the_caller_and_whispers_the_summary_to_the_agent(server, rooms):
    room = rooms("answer")
    server.options["transfer_to"] = AGENT
    result = _sim(server).call([Keys("0")], caller="+15550004444")
    sid = result.call_sid
    assert result.ended_by == "transferred (REST)"
    [leg] = [c for c in server.standin.created if c.params["Url"].endswith(f"call={sid}&transfer={leg_id(server, sid)}")]
    assert (leg.params["To"], leg.params["From"], leg.params["Timeout"]) == (AGENT, OUR_NUMBER, "15")
    caller_twiml = ET.fromstring(result.transfer["twiml"])
    conference = caller_twiml.find("Dial/Conference")
    assert conference.text == f"handoff-{sid}" and conference.get("startConferenceOnEnter") == "false"
    hold = ET.fromstring(room.hold_twiml[sid]).find("Play")
    assert hold.get("loop") == "0" and hold.text == f"{server.url}/twilio/handoff/hold.wav"
    with wave.open(io.BytesIO(signed_get(server.url + "/twilio/handoff/hold.wav")), "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getnframes()) == (8000, 1, 32000)
    whisper = ET.fromstring(room.whispers[sid])
    assert [child.tag for child in whisper] == ["Say", "Dial"]  # the summary first, then the room
    assert "Reason: caller pressed 0, about agent." in whisper.find("Say").text
    assert whisper.find("Dial/Conference").get("startConferenceOnEnter") == "true" and f"handoff-{sid}" in room.started
    assert room.given_back == {}


def leg_id(server, sid: str) -> int:
    from voicebot.storage import calls

    return calls.load_call(server.db, sid)["transfer_ids"][-1]


def signed_get(url: str) -> bytes:
    import requests

    response = requests.get(url, timeout=5)
    assert response.status_code == 200 and response.headers["Content-Type"] == "audio/wav"
    return response.content


def test_an_agent_who_does_not_answer_gives_the_caller_back_to_the_bot(server, rooms):
    room = rooms("no-answer")
    server.options["transfer_to"] = AGENT
    sim = _sim(server)
    first = sim.call([Keys("0")], caller="+15550004444")
    back = room.wait_given_back(first.call_sid)
    assert back is not None, room.log
    stream = ET.fromstring(back).find("Connect/Stream")
    params = {p.get("name"): p.get("value") for p in stream.findall("Parameter")}
    assert params["resumed"] == "transfer_failed" and params["caller"] == "+15550004444" and len(params["token"]) >= 32
    before = len(server.sessions)
    again = sim.resume(first.call_sid, back, [Keys("9")])
    assert len(server.sessions) == before + 1  # a new conversation on the returning stream
    session = server.sessions[-1]
    assert session.call_sid == first.call_sid and session.digits == ["9"] and again.hung_up_by_bot


def test_a_queue_announces_the_position_and_gives_the_caller_back_after_the_longest_wait(server, rooms):
    room = rooms("answer")
    server.options["transfer_to"] = "queue:support"
    try:
        result = _sim(server).call([Keys("0")])
    finally:
        server.options["transfer_to"] = AGENT
    sid = result.call_sid
    enqueue = ET.fromstring(result.transfer["twiml"]).find("Enqueue")
    assert enqueue.text == "support" and enqueue.get("waitUrl") == f"{server.url}/twilio/handoff/queue-wait"
    first = ET.fromstring(room.announcements[sid][0])
    assert first.find("Say").text == "You are next in line." and first.find("Play") is not None
    assert ET.fromstring(room.advance_queue(sid, 30)).find("Say").text == "You are next in line."
    assert ET.fromstring(room.advance_queue(sid, 61)).find("Leave") is not None
    params = {p.get("name"): p.get("value") for p in ET.fromstring(room.given_back[sid]).findall("Connect/Stream/Parameter")}
    assert params["resumed"] == "queue_timeout"


def test_handoff_webhooks_refuse_bad_input(server):
    base = server.url
    assert signed_post(base, "/twilio/handoff/agent-status?call=CAx", {"CallStatus": "no-answer"}, token="wrong").status_code == 403
    assert signed_post(base, "/twilio/handoff/agent-status?call=CAx", {}).status_code == 400
    unknown = signed_post(base, "/twilio/handoff/agent-status?call=CA" + "f" * 32, {"CallStatus": "no-answer"})
    assert unknown.status_code == 204  # logged; no call to give back
    assert signed_post(base, "/twilio/handoff/queue-wait", {"QueuePosition": "x"}).status_code == 400
    assert "<Say>You are number 3 in line.</Say>" in signed_post(base, "/twilio/handoff/queue-wait",
                                                                 {"QueuePosition": "3", "QueueTime": "5"}).text
    assert "<Hangup" in signed_post(base, "/twilio/handoff/queue-left?call=CAx", {"QueueResult": "bridged"}).text
    whisper = signed_post(base, "/twilio/handoff/agent?call=CAx&transfer=999999", {"CallStatus": "in-progress"}).text
    assert "No details were kept" in whisper
