"""Regenerate audio_fixtures/ from ../shared/datasets (real human speech only).

- read_*.wav: telephone-quality (8 kHz G.711 mu-law) copies of read_speech_en sentences.
- order_NNNN.wav: spoken order numbers, FSDD digits of ONE speaker joined with 0.25 s gaps,
  16-bit 8 kHz. Takes 5-19 are used (the FSDD tuning split; benchmarks test on takes 20-49).

Run: python benchmarks/make_fixtures.py [--datasets ../shared/datasets]
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

from voicebot.audio.wavfile import Audio, read_wav, write_wav

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "audio_fixtures"
READ_SENTENCES = ("LJ001-0001", "LJ001-0012", "LJ001-0049")
ORDERS = {"order_4172.wav": ("4172", "jackson"), "order_5093.wav": ("5093", "nicolas"), "order_9999.wav": ("9999", "jackson")}
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
FSDD = ("Free Spoken Digit Dataset (github.com/Jakobovski/free-spoken-digit-dataset)", "CC BY-SA 4.0")
READ = ("read_speech_en: dc_tts recordings of LJ Speech prompts (github.com/PhilippMatthes/dc_tts)", "Apache-2.0 (recording), public domain (text)")


def make_order(datasets: Path, digits: str, speaker: str, gap_s: float = 0.25) -> tuple[Audio, list[str]]:
    """Concatenate one take per digit (a different take for repeated digits) of ``speaker``."""
    parts, sources, used = [], [], {}
    gap = np.zeros(int(gap_s * 8000), dtype=np.int16)
    for d in digits:
        take = 5 + used.get(d, 0)
        used[d] = used.get(d, 0) + 1
        rel = f"wav/{d}_{speaker}_{take}.wav"
        parts += [read_wav(datasets / "fsdd_digits" / rel).pcm, gap]
        sources.append(rel)
    pcm = np.concatenate([gap] + parts)
    return Audio(pcm, 8000), sources


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=str(ROOT.parent / "shared" / "datasets"))
    datasets = Path(parser.parse_args().datasets)
    OUT.mkdir(exist_ok=True)
    rows = []
    manifest = {r["path"].split("/")[-1][:-4]: r for r in csv.DictReader(open(datasets / "read_speech_en" / "manifest.csv"))}
    for utt in READ_SENTENCES:
        audio = read_wav(datasets / "read_speech_en" / "wav" / f"{utt}.wav").at_rate(8000)
        name = f"read_{utt}_8k_mulaw.wav"
        write_wav(OUT / name, audio, mulaw=True)
        rows.append((name, manifest[utt]["transcript_normalized_lower"], f"{READ[0]}, {utt}", READ[1]))
    for name, (digits, speaker) in ORDERS.items():
        audio, sources = make_order(datasets, digits, speaker)
        write_wav(OUT / name, audio)
        rows.append((name, " ".join(DIGIT_WORDS[int(d)] for d in digits), f"{FSDD[0]}, speaker {speaker}: {' '.join(sources)}", FSDD[1]))
    with open(OUT / "manifest.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "transcript", "source", "licence"])
        writer.writerows(rows)
    total = sum(f.stat().st_size for f in OUT.glob("*.wav"))
    print(f"wrote {len(rows)} fixtures to {OUT} ({total / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
