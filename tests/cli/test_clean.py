"""``vinylmon clean`` end to end: a simulated file repaired (the error down, every other
sample as it was, the format kept), the removed signal, folders."""

import numpy as np
import pytest
import soundfile as sf

from vinylmon.cli.main import main
from vinylmon.simulate import ClickSpec, DamageSpec, simulate, synthetic_music

SR = 44100


@pytest.fixture(scope="module")
def damaged(tmp_path_factory):
    """10 s of synthetic music with clicks, as 24-bit FLAC: ``(path, reference, truth)``."""
    x = synthetic_music(np.random.default_rng(11), 10.0)
    d = simulate(x, DamageSpec(seed=5, clicks=ClickSpec(rate_per_min=60.0, peak_db=(0.0, 10.0),
                                                        pop_fraction=0.0)))
    path = tmp_path_factory.mktemp("damaged") / "side.flac"
    sf.write(path, d.audio.T, SR, subtype="PCM_24")
    return path, (d.audio - d.impulses).T.astype(np.float64), d.truth


def test_clean_repairs_the_clicks_and_nothing_else(damaged, tmp_path, capsys):
    path, ref, truth = damaged
    out, rem = tmp_path / "fixed.flac", tmp_path / "removed.flac"
    code = main(["clean", str(path), "-o", str(out), "--removed", str(rem), "--device", "cpu",
                 "--quiet"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "spans repaired" in captured.out and str(out) in captured.out
    info, src_info = sf.info(out), sf.info(path)
    assert (info.format, info.subtype, info.samplerate, info.channels, info.frames) == \
        (src_info.format, src_info.subtype, src_info.samplerate, src_info.channels,
         src_info.frames)
    a = sf.read(path, dtype="int32")[0].astype(np.int64)
    b = sf.read(out, dtype="int32")[0].astype(np.int64)
    r = sf.read(rem, dtype="int32")[0].astype(np.int64)
    changed = np.flatnonzero((a != b).any(axis=1))
    assert changed.size > 0
    # every changed sample lies on (or within 3 ms of: the detector's spans can run 2 ms
    # past a click) a true click; but for the first 10 ms, where the detector hears the
    # music's abrupt start as a click (a false event of the detector's, not the repair's)
    near = np.zeros(a.shape[0], dtype=bool)
    near[:441] = True
    for imp in truth.impulses:
        near[max(0, imp.start - 132):imp.end + 132] = True
    assert near[changed].all()
    fa, fb = a / 2**31, b / 2**31
    # >= 6 dB overall (one of the 13 clicks is missed by the detector; 7.3 dB measured)
    assert np.sum((fb - ref) ** 2) < np.sum((fa - ref) ** 2) / 4
    inside = np.abs(a - b) > 0
    assert np.array_equal(r[~inside], np.zeros_like(r[~inside]))


def test_clean_writes_beside_the_input_by_default(damaged, tmp_path, capsys):
    path, _, _ = damaged
    src = tmp_path / "take.wav"
    sf.write(src, sf.read(path, dtype="float32")[0], SR, subtype="PCM_16")
    assert main(["clean", str(src), "--device", "cpu", "--quiet"]) == 0
    out = tmp_path / "take.clean.wav"
    assert sf.info(out).subtype == "PCM_16" and "take.clean.wav" in capsys.readouterr().out


def test_folder_mirrors_names_and_skips_a_bad_file(damaged, tmp_path, capsys):
    path, _, _ = damaged
    folder = tmp_path / "sides"
    (folder / "b").mkdir(parents=True)
    data = sf.read(path, dtype="float32")[0]
    sf.write(folder / "a.flac", data[:5 * SR], SR, subtype="PCM_16")
    sf.write(folder / "b" / "c.wav", data[5 * SR:], SR, subtype="FLOAT")
    (folder / "broken.flac").write_bytes(b"fLaC" + bytes(range(200)))
    out = tmp_path / "cleaned"
    code = main(["clean", str(folder), "-o", str(out), "--removed", str(tmp_path / "rem"),
                 "--device", "cpu", "--quiet"])
    captured = capsys.readouterr()
    assert code == 2
    assert "broken.flac" in captured.err and len(captured.err.strip().splitlines()) == 1
    assert sf.info(out / "a.clean.flac").subtype == "PCM_16"
    assert sf.info(out / "b" / "c.clean.wav").subtype == "FLOAT"
    assert (tmp_path / "rem" / "b" / "c.removed.wav").exists()
    # beside the inputs, then again: the outputs of the first run are not cleaned again
    (folder / "broken.flac").unlink()
    assert main(["clean", str(folder), "--device", "cpu", "--quiet"]) == 0
    assert (folder / "a.clean.flac").exists() and (folder / "b" / "c.clean.wav").exists()
    assert main(["clean", str(folder), "--device", "cpu", "--quiet"]) == 0
    assert not (folder / "a.clean.clean.flac").exists()


def test_spans_too_long_are_left_and_listed(damaged, tmp_path, capsys):
    path, _, _ = damaged
    out = tmp_path / "same.flac"
    code = main(["clean", str(path), "-o", str(out), "--device", "cpu", "--quiet",
                 "--max-span-ms", "0.05"])
    line = capsys.readouterr().out
    assert code == 0
    assert "0 spans repaired" in line and "left as they are (longer than 0.05 ms) at " in line
    times = line.split(" ms) at ")[1].split(" s")[0].split(", ")
    assert all(0 <= float(t) <= 10 for t in times)
    assert np.array_equal(sf.read(path, dtype="int32")[0], sf.read(out, dtype="int32")[0])
