"""Barge-in onset: how soon the session's detector fires after a caller starts talking over the bot.

    python benchmarks/barge_in.py --split choose          # read_speech_en 1-20 and RAVDESS (for choices)
    python benchmarks/barge_in.py --split report          # read_speech_en 21-40 (held out)

Each utterance goes through G.711 mu-law after 1 s of silence into ``BargeInDetector`` (the
session's WebRTC VAD and minimum speech), for each setting below. Reported: time from the
speech onset (the first 20 ms frame above 10% of the loudest, as the simulated Twilio times
barge-in) to the detector firing, p50/p95/max; utterances it never fires on; how many 150 ms
snippets of the same speech (a "mhm") fire it; and how many 3 s stretches of line noise
(white and low-frequency, at -40 and -30 dBFS) fire it. A false fire cuts the bot's prompt.
"""
from __future__ import annotations

import argparse

import numpy as np

from vad_compare import utterances
from voicebot.audio.codecs import ulaw_decode, ulaw_encode
from voicebot.audio.vad import VoiceActivityDetector
from voicebot.session.playback import BargeInDetector

FRAME = 160
SETTINGS = [  # (WebRTC aggressiveness, frames the VAD may drop inside an onset)
    (3, 0), (3, 2), (3, 3), (2, 0), (2, 2),
]


def phone(pcm: np.ndarray) -> np.ndarray:
    return ulaw_decode(ulaw_encode(np.clip(pcm, -32768, 32767).astype(np.int16)))


def onset_frame(pcm: np.ndarray) -> int:
    n = len(pcm) // FRAME
    rms = np.sqrt((pcm[: n * FRAME].astype(np.float64).reshape(n, FRAME) ** 2).mean(axis=1))
    return int(np.flatnonzero(rms >= max(100.0, 0.1 * rms.max()))[0])


def fires_at(pcm: np.ndarray, aggressiveness: int, gap_frames: int) -> int | None:
    detector = BargeInDetector(VoiceActivityDetector(8000, engine="webrtc", aggressiveness=aggressiveness), gap_frames=gap_frames)
    for i in range(len(pcm) // FRAME):
        if detector.feed(pcm[i * FRAME:(i + 1) * FRAME]):
            return i
    return None


def noises(rng) -> list[np.ndarray]:
    out = []
    for rms in (330.0, 1000.0):  # -40 and -30 dBFS
        for _ in range(10):
            out.append(phone(rng.normal(0, rms, 24000)))
            rumble = np.cumsum(rng.normal(0, 1, 24000))
            rumble -= np.convolve(rumble, np.ones(400) / 400, "same")
            out.append(phone(rumble / rumble.std() * rms))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=["choose", "report"], default="choose")
    args = parser.parse_args()
    lead = np.zeros(8000, np.int16)
    speech = [phone(np.concatenate([lead, u])) for u in utterances(200, args.split)]
    snippets = [np.concatenate([s[onset_frame(s) * FRAME:][:1200], np.zeros(8000, np.int16)]) for s in speech]
    line_noise = noises(np.random.default_rng(1))
    print(f"{len(speech)} utterances ({args.split} split), {len(line_noise)} noise stretches")
    for aggressiveness, gap in SETTINGS:
        latencies, never = [], 0
        for pcm in speech:
            fired = fires_at(pcm, aggressiveness, gap)
            if fired is None:
                never += 1
            else:
                latencies.append((fired - onset_frame(pcm) + 1) * 20)
        lat = np.array(latencies)
        short = sum(fires_at(s, aggressiveness, gap) is not None for s in snippets)
        noise = sum(fires_at(n, aggressiveness, gap) is not None for n in line_noise)
        print(f"aggressiveness {aggressiveness}, gap {gap}: onset -> fire p50 {np.percentile(lat, 50):.0f} / p95 "
              f"{np.percentile(lat, 95):.0f} / max {lat.max()} ms, over 300 ms {int((lat > 300).sum())}, never {never}; "
              f"150 ms snippets firing {short}/{len(snippets)}; noise firing {noise}/{len(line_noise)}", flush=True)


if __name__ == "__main__":
    main()
