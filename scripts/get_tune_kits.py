#!/usr/bin/env python3
"""Fetch drum kits that no model ever trains on, for choosing post-processing settings.

The corpus splits hydrogen-drumkits' 14 kits 2 / 2 / 10 (test / val / train): the
settings chosen on val (the verifier's acceptance and offsets) rest on two kits. This
adds three more that no split has: the AVL "Red Zeppelin" acoustic kit (Debian's
avldrums.lv2-soundfont, CC-BY-SA-3.0, Glen MacArthur; a SoundFont, whose samples are
written out one file each) and Hydrogen's own GMRockKit and TR808EmulationKit
(Debian's hydrogen-data, GPL; not in hydrogen-drumkits); never committed. For
``scripts/make_corpus.py --splits control_tune``: clean validation-song excerpts with
their hits mixed in, that ``scripts/evaluate_clicks.py`` counts false alarms on beside
``control_val``. AVL's other kit (Black Pearl) is left out: hydrogen-drumkits holds a
kit of that name, which may be in training.

    python scripts/get_tune_kits.py            # into ${VINYLMON_CACHE:-<repo>/cache}/drums_tune

Uses ``apt-get download`` and ``dpkg-deb -x`` (as scripts/get_music.sh does);
idempotent: a kit folder that exists is kept.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf

#: Debian package -> kit name -> what in it holds the kit: a SoundFont (its samples are
#: written out) or a folder of one-shots (copied).
SOURCES = {
    "avldrums.lv2-soundfont": {"Red_Zeppelin": "usr/share/sounds/sf2/Red_Zeppelin_4_LV2.sf2"},
    "hydrogen-data": {"GMRockKit": "usr/share/hydrogen/data/drumkits/GMRockKit",
                      "TR808EmulationKit": "usr/share/hydrogen/data/drumkits/TR808EmulationKit"},
}


def _chunks(b: bytes, off: int, end: int):
    while off + 8 <= end:
        cid = b[off:off + 4]
        size = struct.unpack("<I", b[off + 4:off + 8])[0]
        yield cid, off + 8, size
        off += 8 + size + (size & 1)


def sf2_samples(data: bytes) -> list[tuple[str, np.ndarray, int]]:
    """The samples of a SoundFont 2 file: ``(name, int16 samples, sample rate)`` each
    (the 'smpl' chunk cut by the 'shdr' records; the terminal record left out)."""
    if data[:4] != b"RIFF" or data[8:12] != b"sfbk":
        raise ValueError("not a SoundFont 2 file")
    smpl = shdr = None
    for cid, o, s in _chunks(data, 12, len(data)):
        if cid != b"LIST":
            continue
        for c2, o2, s2 in _chunks(data, o + 4, o + s):
            if c2 == b"smpl":
                smpl = np.frombuffer(data[o2:o2 + s2], dtype="<i2")
            elif c2 == b"shdr":
                shdr = data[o2:o2 + s2]
    if smpl is None or shdr is None:
        raise ValueError("SoundFont without samples or sample headers")
    out = []
    for i in range(len(shdr) // 46 - 1):
        rec = shdr[46 * i:46 * (i + 1)]
        name = rec[:20].split(b"\0")[0].decode("latin-1").strip()
        start, end = struct.unpack("<II", rec[20:28])
        rate = struct.unpack("<I", rec[36:40])[0]
        if 0 <= start < end <= len(smpl) and rate > 0:
            out.append((name, smpl[start:end].copy(), rate))
    return out


def _fetch(package: str, debs: Path) -> Path:
    """The package's .deb in ``debs`` (downloaded when not there yet)."""
    have = sorted(debs.glob(f"{package}_*.deb"))
    if not have:
        r = subprocess.run(["apt-get", "download", package], cwd=debs, capture_output=True,
                           text=True)
        have = sorted(debs.glob(f"{package}_*.deb"))
        if not have:
            sys.exit(f"apt-get download {package} failed: {r.stderr.strip()[-300:]}")
    return have[-1]


def _write_kit(src: Path, part: Path) -> int:
    """The kit at ``src`` (a SoundFont, or a folder of one-shots) as one-shots in ``part``."""
    if src.is_dir():
        shots = sorted(p for p in src.iterdir() if p.suffix.lower() in (".wav", ".flac"))
        for p in shots:
            shutil.copy2(p, part / p.name)
        return len(shots)
    samples = sf2_samples(src.read_bytes())
    for name, x, rate in samples:
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
        sf.write(part / f"{safe}.wav", x, rate, subtype="PCM_16")
    return len(samples)


def unpack(sources: dict[str, dict[str, str]], dest: Path, *, cache: Path,
           write: Callable[[Path, Path], int]) -> None:
    """For each Debian package of ``sources`` (package -> name -> path in the package) whose
    folders ``dest/<name>`` are not all there yet: fetch it into ``cache/debs``, unpack it
    and ``write(path in the unpacked package, folder)`` each missing one (one-shots; it
    returns how many), the folder renamed into place only when written whole."""
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    for package, items in sources.items():
        todo = {k: v for k, v in items.items() if not (dest / k).is_dir()}
        if not todo:
            continue
        deb = _fetch(package, debs)
        with tempfile.TemporaryDirectory(dir=cache) as tmp:
            subprocess.run(["dpkg-deb", "-x", str(deb), tmp], check=True)
            for name, rel in todo.items():
                part = dest / f".{name}.tmp"
                shutil.rmtree(part, ignore_errors=True)
                part.mkdir(parents=True)
                n = write(Path(tmp) / rel, part)
                part.rename(dest / name)
                print(f"{dest / name}: {n} one-shots")


def main() -> int:
    repo = Path(__file__).resolve().parents[1]
    cache = Path(os.environ.get("VINYLMON_CACHE", repo / "cache"))
    dest = cache / "drums_tune"
    unpack(SOURCES, dest, cache=cache, write=_write_kit)
    print(f"{dest}: " + ", ".join(sorted(p.name for p in dest.iterdir() if p.is_dir())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
