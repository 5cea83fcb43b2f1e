#!/usr/bin/env python3
"""Build the bundled demo recording: real music with simulated vinyl damage.

The app replays ``vinylmon/data/demo.ogg`` through the live pipeline when it has
no input device (or with ``--demo``). This script makes it, deterministically
from ``--seed``, and writes what was done next to it:

  vinylmon/data/demo.ogg          35 s, 44.1 kHz stereo, Ogg Vorbis (quality 7)
  vinylmon/data/demo_truth.json   the injected events, the scratch, the grade

The music is 35 s of ``van_mission3.ogg`` by Manuel "Vanethian" Marino, from the
Debian package ``ufoai-music`` (CC-BY-3.0; see ``vinylmon/data/DEMO.md``), a song
of the corpus's *test* split, so no model was trained on it. The damage is all
synthetic (:mod:`vinylmon.simulate`): a handful of clicks and pops, light
crackle, one scratch ticking once per revolution at 33 1/3 rpm (1.8 s) for eight
revolutions, hiss, rumble and a little wow; the side grades G+ (see
:func:`demo_spec`). No real noise recording is mixed in (those may not
be redistributed with the package).

Why Ogg Vorbis: these 35 s as 16-bit stereo FLAC take 2.3 MB, over the 1.5-MB
budget; Vorbis at quality 7 takes 1.0 MB and the detector finds the same events
in it (``--check`` measures it; ``--format flac`` writes FLAC to compare).
libsndfile gives each Ogg file a random stream serial; :func:`fix_ogg_serial`
sets a fixed one, so the same seed writes the same bytes.

    scripts/get_music.sh                 # once: the Debian music packages
    python scripts/make_demo.py [--seed 8] [--check]

``--check`` grades the result with the shipped models and prints how many of the
injected clicks and scratch ticks were found within 5 ms, the events that match
nothing, the scratch tracks and the grade.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import soundfile as sf

from vinylmon.audio import load
from vinylmon.audio.types import ANALYSIS_RATE
from vinylmon.simulate import (
    ClickSpec,
    CrackleSpec,
    Damaged,
    DamageSpec,
    NoiseSpec,
    ScratchSpec,
    WowSpec,
    simulate,
)

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "vinylmon" / "data"

#: Where the music comes from (``scripts/get_music.sh`` puts it under the cache).
SOURCE = {
    "package": "ufoai-music",
    "package_version": "2.5-2",
    "file": "van_mission3.ogg",
    "file_in_package": "usr/share/games/ufoai/base/0music.pk3 -> music/van_mission3.ogg",
    "author": 'Manuel "Vanethian" Marino (www.manuelmarino.com)',
    "licence": "CC-BY-3.0",
    "offset_s": 30.0,
}
DURATION_S = 35.0
DEFAULT_SEED = 8
FADE_IN_S = 0.3
FADE_OUT_S = 1.5
#: Vorbis quality 0..1 (libsndfile's compression level is 1 - quality).
VORBIS_QUALITY = 0.7
MATCH_S = 0.005
#: Ogg stream serial number written into the demo (see :func:`fix_ogg_serial`).
OGG_SERIAL = 0x6E796E76
TRUTH_VERSION = 1


def music_path(cache: Path | None = None) -> Path:
    """The source song in the music cache (``$VINYLMON_CACHE`` or ``<repo>/cache``)."""
    root = cache or Path(os.environ.get("VINYLMON_CACHE", REPO / "cache"))
    return root / "music" / SOURCE["package"] / SOURCE["file"]


def check_test_split(cache: Path) -> None:
    """Refuse a song the models were trained on, when the corpus manifest is at hand."""
    manifest = cache / "corpus" / "manifest.jsonl"
    if not manifest.is_file():
        print(f"[make_demo] note: {manifest} not found; split not checked", file=sys.stderr)
        return
    splits = set()
    with manifest.open() as f:
        for line in f:
            row = json.loads(line)
            src = row["source"]
            if src["package"] == SOURCE["package"] and src["file"] == SOURCE["file"]:
                splits.add(row["split"])
    if splits != {"test"}:
        raise SystemExit(f"{SOURCE['file']} is in splits {sorted(splits)}, not only 'test'")


def demo_spec(seed: int) -> DamageSpec:
    """The damage: clicks, crackle, one 33 1/3 rpm scratch, hiss and rumble.

    Levels are dB re the program level L (RMS). Clicks and pops peak at 0..+12
    dB (the music's peaks sit 11-14 dB above L here), so each is plainly audible.
    The scratch ticks peak at about L - 4 dB (+-1.5 dB), starting at 5.6 s, clear
    of the 5-s window boundaries. The side grades G+: GRADING.md counts scratch
    ticks at or above L - 10 dB among the clicks, so eight ticks and a handful of
    clicks in 35 s make c about 20-25 per minute, and a scratch at or above
    L - 6 dB is G+ by itself. A VG side (c < 15 per minute, scratch under
    L - 6 dB) cannot hold both a handful of clicks and an eight-revolution
    scratch; and quieter scratches are seldom found by the shipped detector
    (seeds 1-15: the train is found in 9 at L - 4 dB; with the scratch starting
    at 5.0 s instead, in 6 at L - 8 dB and, seeds 7-18, in 1 at L - 11 dB).
    """
    return DamageSpec(
        seed=seed,
        clicks=ClickSpec(rate_per_min=12.0, peak_db=(0.0, 12.0), pop_fraction=0.1,
                         stereo_fraction=0.5),
        crackle=CrackleSpec(rate_per_s=2.0, peak_db=(-30.0, -12.0), stereo_fraction=0.7),
        scratches=(ScratchSpec(start_s=5.6, revolutions=8, peak_db=-4.0,
                               rpm=100.0 / 3.0, drift=0.002),),
        noise=NoiseSpec(hiss_db=-52.0, hiss_shape="tilt", hiss_tilt_db_per_oct=-3.0,
                        rumble_db=-50.0, rumble_hz=15.0),
        wow=WowSpec(wow_depth=0.0006, wow_hz=100.0 / 3.0 / 60.0, flutter_depth=0.0002),
        output_level_dbfs=-20.0)


def _fade(x: np.ndarray, *, sample_rate: int) -> np.ndarray:
    """Raised-cosine fade in and out: the excerpt's cut ends would be clicks."""
    x = np.array(x, dtype=np.float64)
    n_in, n_out = int(FADE_IN_S * sample_rate), int(FADE_OUT_S * sample_rate)
    x[:, :n_in] *= 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, n_in))
    x[:, -n_out:] *= 0.5 + 0.5 * np.cos(np.linspace(0, np.pi, n_out))
    return x


def build(music: Path, *, seed: int, offset_s: float = SOURCE["offset_s"],
          duration_s: float = DURATION_S) -> Damaged:
    """Read the excerpt, fade its ends and damage it."""
    block = load(music, sample_rate=ANALYSIS_RATE, start_s=offset_s, duration_s=duration_s)
    x = _fade(block.samples, sample_rate=ANALYSIS_RATE)
    if x.shape[1] < int(round(duration_s * ANALYSIS_RATE)):
        raise SystemExit(f"{music} has less than {offset_s + duration_s:g} s")
    return simulate(x, demo_spec(seed), sample_rate=ANALYSIS_RATE, duration_s=duration_s)


def truth_dict(damaged: Damaged, *, seed: int, audio_name: str) -> dict:
    """The JSON written beside the audio: times in seconds, levels in dB re L."""
    t = damaged.truth
    sr = t.sample_rate
    events = [{"kind": i.kind, "start_s": round(i.start / sr, 6), "end_s": round(i.end / sr, 6),
               "channel": i.channel, "peak_db": round(i.peak_db, 2),
               "scratch_id": i.scratch_id} for i in t.impulses]
    q = asdict(t.quantities)
    return {
        "version": TRUTH_VERSION,
        "audio": audio_name,
        "sample_rate": sr,
        "channels": 2,
        "frames": t.frames,
        "duration_s": t.frames / sr,
        "seed": seed,
        "source": {**SOURCE, "duration_s": t.frames / sr},
        "program_level_dbfs": round(t.program_level_dbfs, 2),
        "levels_re": "program level L (RMS of the non-silent windows), dB",
        "click_floor_db": -10.0,
        "counts": {k: sum(1 for e in events if e["kind"] == k)
                   for k in ("click", "pop", "crackle", "scratch")},
        "events": events,
        "scratches": [{"id": s.id, "period_s": round(s.period_s, 6),
                       "first_s": round(s.first_s, 6), "last_s": round(s.last_s, 6),
                       "count": s.count, "peak_db": round(s.peak_db, 2), "rpm": s.rpm}
                      for s in t.scratches],
        "surface_noise_db": round(t.surface_noise_db, 2),
        "quantities": {k: (round(v, 3) if isinstance(v, float) and np.isfinite(v) else v)
                       for k, v in q.items()},
        "grade": t.grade.grade,
        "limited_by": t.grade.limited_by,
        "reason": t.grade.reason,
    }


def _ogg_crc_table() -> list[int]:
    table = []
    for i in range(256):
        r = i << 24
        for _ in range(8):
            r = ((r << 1) ^ 0x04C11DB7) if r & 0x80000000 else r << 1
        table.append(r & 0xFFFFFFFF)
    return table


def fix_ogg_serial(path: Path, serial: int = OGG_SERIAL) -> None:
    """Give every page of an Ogg file the stream serial ``serial`` (and fix its CRC).

    libsndfile draws a random serial per file, so two runs with the same seed
    would write the same samples in different bytes; a fixed serial makes the
    file itself reproducible. (One logical stream only, as libsndfile writes.)
    """
    data = bytearray(path.read_bytes())
    table = _ogg_crc_table()
    pos = 0
    while pos < len(data):
        if data[pos:pos + 4] != b"OggS":
            raise ValueError(f"{path}: no Ogg page at byte {pos}")
        nseg = data[pos + 26]
        size = 27 + nseg + sum(data[pos + 27:pos + 27 + nseg])
        data[pos + 14:pos + 18] = serial.to_bytes(4, "little")
        data[pos + 22:pos + 26] = bytes(4)
        crc = 0
        for b in data[pos:pos + size]:
            crc = ((crc << 8) & 0xFFFFFFFF) ^ table[(crc >> 24) ^ b]
        data[pos + 22:pos + 26] = crc.to_bytes(4, "little")
        pos += size
    path.write_bytes(bytes(data))


def write(damaged: Damaged, out_dir: Path, *, seed: int, fmt: str,
          quality: float = VORBIS_QUALITY) -> tuple[Path, Path]:
    """Write the audio and its truth; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    audio = out_dir / f"demo.{fmt}"
    data = damaged.audio.T
    if fmt == "ogg":
        sf.write(audio, data, ANALYSIS_RATE, format="OGG", subtype="VORBIS",
                 compression_level=1.0 - quality)
        fix_ogg_serial(audio)
    elif fmt == "flac":
        sf.write(audio, data, ANALYSIS_RATE, format="FLAC", subtype="PCM_16",
                 compression_level=1.0)
    else:
        raise SystemExit(f"unknown format {fmt!r}: ogg or flac")
    truth = out_dir / "demo_truth.json"
    truth.write_text(dump_truth(truth_dict(damaged, seed=seed, audio_name=audio.name)))
    return audio, truth


def dump_truth(d: dict) -> str:
    """JSON with one event per line (small, and diffs stay readable)."""
    lines = []
    for key, value in d.items():
        if key == "events":
            rows = ",\n".join("  " + json.dumps(e, allow_nan=False) for e in value)
            lines.append(f' "events": [\n{rows}\n ]')
        else:
            lines.append(f" {json.dumps(key)}: {json.dumps(value, allow_nan=False)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def check(audio: Path, truth: dict, *, device: str = "cpu") -> dict:
    """Grade ``audio`` with the shipped models and compare with ``truth``.

    A truth event is found when a detected event starts within 5 ms of it; a
    detected event that starts within 5 ms of no truth event (of any kind, or
    inside one) is false.
    """
    from vinylmon.engine.engine import Engine  # torch: only for --check

    r = Engine(device=device).grade_file(audio)
    ev = r.state.events

    def near(t: dict) -> bool:
        return any(abs(e.start_s - t["start_s"]) <= MATCH_S for e in ev)

    def explained(e) -> bool:
        return any(t["start_s"] - MATCH_S <= e.start_s <= t["end_s"] + MATCH_S
                   for t in truth["events"])

    clicks = [t for t in truth["events"] if t["kind"] in ("click", "pop")]
    ticks = [t for t in truth["events"] if t["kind"] == "scratch"]
    crackle = [t for t in truth["events"] if t["kind"] == "crackle"]
    g = r.state.grade

    def nearest(e) -> str:
        t = min(truth["events"], key=lambda t: abs(t["start_s"] - e.start_s))
        return f"{1000 * (e.start_s - t['start_s']):+.1f} ms from a {t['kind']}"

    return {
        "clicks_found": sum(map(near, clicks)), "clicks": len(clicks),
        "clicks_missed": [(c["start_s"], c["kind"], c["peak_db"]) for c in clicks
                          if not near(c)],
        "scratch_ticks_found": sum(map(near, ticks)), "scratch_ticks": len(ticks),
        "crackle_found": sum(map(near, crackle)), "crackle": len(crackle),
        "events": len(ev),
        "false_events": [(round(float(e.start_s), 3), e.kind, round(float(e.peak_db), 1),
                          nearest(e)) for e in ev if not explained(e)],
        "scratch_tracks": [(round(float(s.period_s), 4), s.count, round(float(s.first_s), 2),
                            round(float(s.rpm), 2)) for s in r.state.scratches],
        "grade": g.grade if g else None, "limited_by": g.limited_by if g else None,
        "reasons": list(g.reasons) if g else [],
        "truth_grade": truth["grade"],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--cache", type=Path, default=None,
                    help="music cache (default $VINYLMON_CACHE or <repo>/cache)")
    ap.add_argument("--out-dir", type=Path, default=DATA)
    ap.add_argument("--format", choices=("ogg", "flac"), default="ogg")
    ap.add_argument("--quality", type=float, default=VORBIS_QUALITY,
                    help="Vorbis quality 0..1 (default %(default)s)")
    ap.add_argument("--check", action="store_true",
                    help="grade the result with the shipped models and compare with the truth")
    args = ap.parse_args(argv)
    cache = args.cache or Path(os.environ.get("VINYLMON_CACHE", REPO / "cache"))
    music = music_path(cache)
    if not music.is_file():
        raise SystemExit(f"{music} not found: run scripts/get_music.sh first")
    check_test_split(cache)
    damaged = build(music, seed=args.seed)
    audio, truth_path = write(damaged, args.out_dir, seed=args.seed, fmt=args.format,
                              quality=args.quality)
    truth = json.loads(truth_path.read_text())
    print(f"[make_demo] {audio}: {audio.stat().st_size / 1e6:.2f} MB, "
          f"{truth['duration_s']:g} s; truth {truth['counts']}, grade {truth['grade']} "
          f"({truth['reason']})")
    if args.check:
        for k, v in check(audio, truth).items():
            print(f"  {k}: {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
