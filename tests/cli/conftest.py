"""What the `vinylmon grade` tests share: a folder of needle-drops to grade, and the
summary table's rows without their timing."""

import numpy as np
import pytest
import soundfile as sf

from vinylmon.simulate import synthetic_music

SR = 44100


@pytest.fixture
def side_folder(tmp_path):
    """``side_folder(seconds)``: the folder ``side`` holding good0.flac, good1.flac, ...
    (seeded synthetic music of those lengths) and broken.flac (a FLAC header, then
    garbage)."""
    def make(seconds) -> object:
        d = tmp_path / "side"
        d.mkdir()
        for i, s in enumerate(seconds):
            sf.write(d / f"good{i}.flac", synthetic_music(np.random.default_rng(i), s).T, SR)
        (d / "broken.flac").write_bytes(b"fLaC" + bytes(range(200)))
        return d
    return make


@pytest.fixture
def table_rows():
    """``table_rows(out)``: the summary table's rows in ``out`` without their timing
    column (x real time), to compare runs."""
    def rows(out: str) -> list[str]:
        return [" ".join(cells[:11] + cells[12:])
                for cells in (line.split() for line in out.splitlines()[1:])]
    return rows
