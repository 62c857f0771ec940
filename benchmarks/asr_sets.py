"""The recorded-speech evaluation sets of the ASR benchmarks, with their choose/report split.

Everything is delivered as a phone line delivers it: 8 kHz through G.711 mu-law.

Split (docs/asr.md): every routing choice, threshold and decoder setting is made on the
**choose** part only; the **report** part is decoded once, for the numbers in the docs.
- Digits: FSDD has two speakers (jackson, nicolas), takes 5-49. Choose on takes 5-19 of both;
  report on takes 20-49 of both (recordings never used for a choice), per speaker too.
- Digit strings: 4 FSDD takes of one speaker concatenated with natural gaps (0.15-0.35 s),
  drawn from that part's takes only.
- Open speech: choose on RAVDESS sentences (every 4th clip: 12 actors, two fixed sentences)
  and read_speech_en sentences 1-20; report on read_speech_en sentences 21-40 and CMU's
  pocketsphinx-testdata recordings (Debian package: LibriVox, card names, "go forward").
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voicebot.audio.codecs import ulaw_decode, ulaw_encode
from voicebot.audio.resample import resample
from voicebot.audio.wavfile import read_wav
from voicebot.testing.datasets import shared_datasets_dir

DATASETS = shared_datasets_dir()
CMU = Path("/usr/share/pocketsphinx/test/data")
SPEAKERS = ("jackson", "nicolas")
CHOOSE_TAKES, REPORT_TAKES = range(5, 20), range(20, 50)


@dataclass(frozen=True)
class Item:
    """One utterance: 8 kHz int16 audio (mu-law round-tripped) and what was said."""

    name: str
    pcm: np.ndarray
    transcript: str


def telephone(pcm: np.ndarray, rate: int) -> np.ndarray:
    """``pcm`` as a phone line delivers it: 8 kHz, through G.711 mu-law."""
    return ulaw_decode(ulaw_encode(resample(np.asarray(pcm, dtype=np.int16), rate, 8000)))


def fsdd(speakers, takes) -> list[Item]:
    """Isolated spoken digits of ``speakers`` for ``takes``; transcript = the digit ("7")."""
    rows = csv.DictReader(open(DATASETS / "fsdd_digits" / "manifest.csv"))
    out = []
    for row in rows:
        digit, speaker, take = Path(row["path"]).stem.split("_")
        if speaker in speakers and int(take) in takes:
            out.append(Item(Path(row["path"]).stem, telephone(read_wav(DATASETS / "fsdd_digits" / row["path"]).pcm, 8000), digit))
    return out


def digit_strings(speakers, takes, count: int, seed: int, length: int = 4) -> list[Item]:
    """``count`` random ``length``-digit strings, each said by one speaker (alternating) from
    ``takes``, 0.2 s of silence before, 0.15-0.35 s between digits; transcript = the digits."""
    rng = np.random.default_rng(seed)
    takes = list(takes)
    out = []
    for i in range(count):
        number = "".join(str(d) for d in rng.integers(0, 10, length))
        speaker = speakers[i % len(speakers)]
        parts = [np.zeros(1600, dtype=np.int16)]
        for d in number:
            take = int(rng.choice(takes))
            parts += [read_wav(DATASETS / "fsdd_digits" / "wav" / f"{d}_{speaker}_{take}.wav").pcm,
                      np.zeros(int(rng.uniform(0.15, 0.35) * 8000), dtype=np.int16)]
        out.append(Item(f"{number}_{speaker}", telephone(np.concatenate(parts), 8000), number))
    return out


def ravdess(every: int = 4) -> list[Item]:
    """Every ``every``-th RAVDESS clip (12 actors, "kids/dogs are ... by the door")."""
    root = DATASETS / "emotional_speech_ravdess"
    rows = list(csv.DictReader(open(root / "manifest.csv")))[::every]
    return [Item(r["path"], telephone(read_wav(root / r["path"]).pcm, 8000), r["statement"]) for r in rows]


def read_speech() -> list[Item]:
    """The 40 read_speech_en sentences (one speaker)."""
    root = DATASETS / "read_speech_en"
    out = []
    for row in csv.DictReader(open(root / "manifest.csv")):
        audio = read_wav(root / row["path"])
        out.append(Item(row["path"], telephone(audio.pcm, audio.sample_rate), row["transcript"]))
    return out


def cmu_sentences() -> list[Item]:
    """pocketsphinx-testdata: 5 LibriVox sentences, 5 card names, "go forward ten meters"."""
    if not CMU.exists():
        return []
    out = []
    for folder, listing in (("librivox", "transcription"), ("cards", "cards.transcription")):
        for line in (CMU / folder / listing).read_text().splitlines():
            text, name = line.rsplit("(", 1)
            audio = read_wav(CMU / folder / f"{name.strip(' )')}.wav")
            out.append(Item(f"{folder}/{name.strip(' )')}", telephone(audio.pcm, audio.sample_rate), text.replace("<s>", "").replace("</s>", "").strip()))
    out.append(Item("goforward", telephone(np.fromfile(CMU / "goforward.raw", dtype="<i2"), 16000), "go forward ten meters"))
    return out


def cmu_digits() -> list[Item]:
    """pocketsphinx-testdata's TIDIGITS utterance "two nine three four zero"."""
    if not CMU.exists():
        return []
    return [Item("tidigits/dhd.2934z", telephone(np.fromfile(CMU / "tidigits" / "dhd.2934z.raw", dtype="<i2"), 16000), "29340")]
