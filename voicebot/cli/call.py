"""``voicebot call``: a whole simulated phone call, with WAV fixtures as the caller.

Each TURN is a caller turn, played when the bot is listening: ``FILE.wav`` (speech),
``dtmf:123`` (keypresses), ``bargein:5`` or ``bargein:FILE.wav`` (pressed/spoken while the bot
is still talking). ``--dtmf D`` adds keypress turns after them. Against ``--url`` (a running
``voicebot serve``) or, without it, an in-process server on a free port with the real models
and a local Twilio REST stand-in.
"""
from __future__ import annotations

import json

import click

from voicebot.errors import TelephonyError


def parse_turns(specs: tuple[str, ...], dtmf: tuple[str, ...]):
    """Turn specs into simulator turns; raises ``AudioError``/``TelephonyError`` naming the bad one."""
    from voicebot.testing.twilio_sim import Keys, Speech

    turns = []
    for spec in list(specs) + [f"dtmf:{d}" for d in dtmf]:
        interrupt = spec.startswith("bargein:")
        body = spec.split(":", 1)[1] if spec.startswith(("dtmf:", "bargein:")) else spec
        if spec.startswith("dtmf:") or (interrupt and not body.lower().endswith(".wav")):
            if not body or any(c not in "0123456789*#" for c in body):
                raise TelephonyError(f"{spec!r}: keys must be digits, * or #")
            turns.append(Keys(body, interrupt=interrupt))
        else:
            turns.append(Speech.from_wav(body, interrupt=interrupt))
    if not turns:
        raise TelephonyError("no caller turns: give at least one FIXTURE.wav or --dtmf KEY")
    return turns


@click.command("call")
@click.argument("turns", nargs=-1)
@click.option("--url", default="", help="A running voicebot server (default: start one in-process).")
@click.option("--dtmf", multiple=True, help="Keys to press as a caller turn (repeatable).")
@click.option("--out", "out", type=click.Path(dir_okay=False), default=None, help="Write the bot's audio to this WAV.")
@click.option("--fast", is_flag=True, help="Send caller speech as fast as possible instead of in real time.")
@click.option("--reply-timeout", "reply_timeout_s", default=60.0, show_default=True, type=click.FloatRange(min=1),
              help="Seconds the caller waits for the bot to answer a turn before going on (a busy machine is slow).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line instead of tables.")
@click.option("--from", "caller", default="+15550001111", show_default=True, help="Caller number (From).")
@click.option("--to", "called", default="+15550009999", show_default=True, help="Called number (To).")
@click.option("--auth-token", default=None, help="Twilio auth token to sign with (default: TWILIO_AUTH_TOKEN).")
@click.option("--public-url", default="", help="The server's VOICEBOT_PUBLIC_URL, when it is set (signatures use it).")
def call(turns, url, dtmf, out, fast, reply_timeout_s, as_json, caller, called, auth_token, public_url):
    """Simulate a phone call over Twilio's webhook + Media Streams protocol.

    Each TURN is a caller turn, played when the bot is listening: FILE.wav (speech),
    dtmf:KEYS (keypresses), or bargein:KEYS / bargein:FILE.wav (while the bot is still
    talking). Prints what the bot heard, understood and said, and each turn's latency.

    \b
    Example:
      voicebot call dtmf:1 audio_fixtures/order_4172.wav dtmf:0 --out bot.wav
      voicebot call audio_fixtures/order_4172.wav --url http://127.0.0.1:8000
    """
    from voicebot.config import load_settings

    caller_turns = parse_turns(turns, dtmf)
    settings = load_settings()
    token = auth_token or settings.twilio_auth_token
    caller_options = {"fast": fast, "reply_timeout_s": reply_timeout_s}
    if url:
        result = _call_server(url, settings, token, public_url, caller_options, caller_turns, caller, called)
    else:
        result = _call_in_process(settings, caller_options, caller_turns, caller, called, quiet=as_json)
    if out:
        from voicebot.audio.wavfile import Audio, write_wav

        write_wav(out, Audio(result.bot_audio, 8000))
    _print(result, as_json, out)


def _call_server(url, settings, token, public_url, caller_options: dict, turns, caller, called):
    from voicebot.testing.twilio_sim import TwilioSimulator

    sim = TwilioSimulator(url, auth_token=token, account_sid=settings.twilio_account_sid, public_url=public_url,
                          **caller_options)
    return sim.call(turns, caller=caller, called=called)


def _call_in_process(settings, caller_options: dict, turns, caller, called, quiet):
    from rich.console import Console

    from voicebot.testing.in_process import bot_in_process
    from voicebot.testing.twilio_sim import TwilioSimulator

    status = Console(stderr=True, quiet=quiet).status("loading models...")
    status.start()
    try:
        with bot_in_process(settings) as bot:
            status.stop()
            sim = TwilioSimulator(bot.url, auth_token=settings.twilio_auth_token, account_sid=settings.twilio_account_sid,
                                  rest_standin=bot.standin, **caller_options)
            return sim.call(turns, caller=caller, called=called)
    finally:
        status.stop()


def _print(result, as_json: bool, out: str | None) -> None:
    if as_json:
        for event in result.events:
            click.echo(json.dumps({"type": "event", **event}))
        for turn in result.turns:
            click.echo(json.dumps({"type": "turn", **turn.__dict__}))
        for line in result.transcript:
            fields = {k: line.get(k) for k in ("speaker", "text", "intent", "confidence", "frustration", "latency_ms")}
            click.echo(json.dumps({"type": "transcript", **fields, "stages_ms": _stages_ms(line)}))
        click.echo(json.dumps({"type": "summary", "call_sid": result.call_sid, "ended_by": result.ended_by,
                               "transfer": result.transfer or (result.transfers[-1] if result.transfers else None),
                               "bot_audio_s": round(len(result.bot_audio) / 8000, 2), "out": out}))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    timeline = Table(title=f"call {result.call_sid}", show_lines=False)
    for column in ("t (s)", "who", "what"):
        timeline.add_column(column)
    for event in result.events:
        timeline.add_row(f"{event['t']:.2f}", event["who"], event["what"])
    console.print(timeline)
    if result.transcript:
        heard = Table(title="what the bot heard, understood and said")
        for column in ("who", "text", "intent", "conf", "latency ms", "stages ms"):
            heard.add_column(column)
        for line in result.transcript:
            conf = line.get("confidence")
            stages = " ".join(f"{k} {v:.0f}" for k, v in (_stages_ms(line) or {}).items() if k != "total")
            heard.add_row(line["speaker"], line["text"] or "", line.get("intent") or "",
                          f"{conf:.2f}" if isinstance(conf, (int, float)) else "", _fmt(line.get("latency_ms")), stages)
        console.print(heard)
    turns = Table(title="caller turns")
    for column in ("turn", "sent at (s)", "latency ms", "clear ms"):
        turns.add_column(column)
    for turn in result.turns:
        turns.add_row(turn.label, f"{turn.started_s:.2f}", _fmt(turn.latency_ms), _fmt(turn.clear_ms))
    console.print(turns)
    transfer = result.transfer or (result.transfers[-1] if result.transfers else None)
    if transfer:
        console.print(f"transferred to {transfer.get('destination')}" + (f" (context record {transfer['id']})" if "id" in transfer else ""))
    console.print(f"ended: {result.ended_by}" + (f"; bot audio written to {out}" if out else ""))


def _stages_ms(line: dict) -> dict | None:
    """The server's per-stage latency of a caller turn (endpoint, asr, nlu, flow, tts), in ms."""
    stages = (line.get("details") or {}).get("stages")
    if not isinstance(stages, dict):
        return None
    return {k: round(1000 * v, 1) for k, v in stages.items() if isinstance(v, (int, float))}


def _fmt(value) -> str:
    return "" if value is None else f"{value:.0f}"
