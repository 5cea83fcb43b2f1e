#!/usr/bin/env python3
"""Fetch one-shots of many instruments for the click verifier's training negatives.

The corpus's test split mixes in two drum kits no model has heard (world and acoustic
percussion), and most false click-loud events on it are their hits. The training
negatives so far came from hydrogen-drumkits' ten training kits and synthetic hits.
This adds the samples of two General MIDI SoundFonts from Debian, neither of which
any split, the tuning pool or the corpus uses: FluidR3_GM (fluid-soundfont-gm, MIT,
Frank Wen) and TimGM6mb (timgm6mb-soundfont, GPL-2, Tim Brechbill). Each holds a GM
percussion set (congas, bongos, timbales, agogo, guiro, claves, cuica, triangle,
shakers, cowbells) and the attacks of plucked, struck and blown instruments
(pizzicato strings, harp, guitars, harpsichord, mallets, piano, slap bass): the
sharp onsets of music that a click verifier must let pass. Every sample is written
out as a one-shot of at most :data:`MAX_S` seconds (faded out over its last
:data:`FADE_S`), never committed, except a drum kit's own pieces (:data:`KIT_PIECE`:
kicks, snares, hi-hats, toms, cymbals, claps, anything 808): the verifier's settings
are chosen against kits it has never heard (scripts/get_tune_kits.py), two of which
are a General MIDI kit and an 808 (Hydrogen's GMRockKit and TR808EmulationKit), so
training on a GM font's kit would make them heard ones. The kits' hits come from
hydrogen-drumkits' training kits as before.

    python scripts/get_train_shots.py        # into ${VINYLMON_CACHE:-<repo>/cache}/shots_train

``scripts/train_verifier.py --shots cache/shots_train`` mixes them in beside the kits'
hits. Uses ``apt-get download`` and ``dpkg-deb -x``; idempotent: a font's folder that
exists is kept.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from get_tune_kits import sf2_samples, unpack  # noqa: E402

#: Debian package -> folder name -> the SoundFont in the package.
SOURCES = {
    "fluid-soundfont-gm": {"FluidR3_GM": "usr/share/sounds/sf2/FluidR3_GM.sf2"},
    "timgm6mb-soundfont": {"TimGM6mb": "usr/share/sounds/sf2/TimGM6mb.sf2"},
}
#: A one-shot's longest (s): its onset and what follows it, not a sustained note's loop.
MAX_S = 1.0
#: Its fade-out (s) where cut.
FADE_S = 0.05
#: Samples shorter than this (s) are left out (single-cycle loops of synth waves).
MIN_S = 0.02
#: Sample names of a drum kit's own pieces, left out (case-insensitive search).
KIT_PIECE = re.compile(r"kick|snare|snr|hat|tom\b|cymb|crash|ride|splash|china|clap|\brim|808|909"
                       r"|brush|stick|bass ?drum|\bbd|\bsd", re.IGNORECASE)


def one_shot(x: np.ndarray, rate: int) -> np.ndarray | None:
    """A SoundFont sample as a one-shot (float32 in -1..1): at most :data:`MAX_S` s, faded
    out where cut; None when shorter than :data:`MIN_S` or silent."""
    y = np.asarray(x, np.float32) / 32768.0
    if y.size < MIN_S * rate or not np.any(y):
        return None
    n = int(MAX_S * rate)
    if y.size > n:
        y = y[:n].copy()
        f = int(FADE_S * rate)
        y[-f:] *= np.linspace(1.0, 0.0, f, dtype=np.float32)
    return y


def write_font(data: bytes, dest: Path) -> int:
    """Every usable sample of the SoundFont ``data`` as a one-shot in ``dest``, but a drum
    kit's pieces (:data:`KIT_PIECE`); returns how many."""
    n = 0
    for i, (name, x, rate) in enumerate(sf2_samples(data)):
        if KIT_PIECE.search(name):
            continue
        y = one_shot(x, rate)
        if y is None:
            continue
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
        sf.write(dest / f"{i:04d}_{safe}.wav", y, rate, subtype="PCM_16")
        n += 1
    return n


def main() -> int:
    repo = Path(__file__).resolve().parents[1]
    cache = Path(os.environ.get("VINYLMON_CACHE", repo / "cache"))
    dest = cache / "shots_train"
    unpack(SOURCES, dest, cache=cache,
           write=lambda font, folder: write_font(font.read_bytes(), folder))
    print(f"{dest}: " + ", ".join(sorted(p.name for p in dest.iterdir() if p.is_dir())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
