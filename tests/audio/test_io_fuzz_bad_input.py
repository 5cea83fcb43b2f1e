"""Hostile recordings, fuzzed (issue 8).

Whatever the bytes, the file readers (:func:`audio_info`, :func:`load`,
:func:`read_blocks`, :func:`file_windows`) either give audio in the analysis
format (finite float32, one or two channels, 44.1 kHz) or raise a
:class:`VinylmonError` whose message names the file. Never another exception,
never a hang, never gigabytes for a file that only claims to be huge.

The starting points are small valid files written with soundfile (WAV, FLAC,
OGG, AIFF, CAF, W64, RF64, MP3; 1 to 8 channels; 0 to a few thousand frames),
then mutated: truncated, header bytes overwritten, declared sizes set to
0xFFFFFFFF, the sample rate set to 0 / 1 Hz / 1 MHz, NaN and infinity written into
float samples, garbage appended. WAV headers are also written by hand (struct),
for rates and sizes soundfile refuses to write. Hypothesis runs derandomized
with no example database, so every run (and CI) tries the same inputs.
"""

from __future__ import annotations

import faulthandler
import io
import resource
import struct
import time
import tracemalloc
from datetime import timedelta

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from vinylmon.audio import ANALYSIS_RATE, MAX_CHANNELS, audio_info, file_windows, load, read_blocks
from vinylmon.audio.io import MAX_SAMPLE_ABS, MAX_SAMPLE_RATE, MIN_SAMPLE_RATE
from vinylmon.errors import AudioDataError, AudioFileError, VinylmonError

#: A file may take this long to be refused or read (all readers together, 2 shared cores).
SECONDS_PER_FILE = 5.0
#: Python-side peak allocation allowed while reading one small hostile file.
MAX_PEAK_BYTES = 200 * 2**20

FUZZ = settings(max_examples=150, deadline=timedelta(seconds=SECONDS_PER_FILE), derandomize=True,
                database=None, print_blob=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

#: (format, subtype, allowed rates, most channels) that soundfile writes without complaint.
CODECS = [
    ("WAV", "PCM_16", None, 8), ("WAV", "PCM_24", None, 8), ("WAV", "PCM_U8", None, 8),
    ("WAV", "FLOAT", None, 8), ("WAV", "DOUBLE", None, 8), ("FLAC", "PCM_16", None, 8),
    ("FLAC", "PCM_24", None, 8), ("OGG", "VORBIS", None, 8), ("OGG", "OPUS", (48000,), 8),
    ("AIFF", "PCM_16", None, 8), ("CAF", "PCM_16", None, 8), ("W64", "PCM_16", None, 8),
    ("RF64", "FLOAT", None, 8), ("MP3", "MPEG_LAYER_III", (22050, 44100, 48000), 2),
]
SUFFIX = {"WAV": "wav", "FLAC": "flac", "OGG": "ogg", "AIFF": "aiff", "CAF": "caf", "W64": "w64",
          "RF64": "rf64", "MP3": "mp3"}
RATES = (8000, 22050, 44100, 48000, 96000, 192000)
#: 32-bit field values that break readers: zero, one, sign bit, all ones, absurd rates.
NASTY_U32 = (0, 1, 2, 7999, 192001, 1_000_000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFF0, 0xFFFFFFFF)


@pytest.fixture(autouse=True)
def _hang_guard():
    """A reader that hangs kills the run with every thread's stack, rather than CI's timeout."""
    faulthandler.dump_traceback_later(240, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("hostile")


# --- building hostile files ------------------------------------------------------------


def wav_bytes(*, rate: int = 44100, channels: int = 1, bits: int = 16, fmt_code: int = 1,
              data: bytes = b"", riff_size: int | None = None, data_size: int | None = None,
              block_align: int | None = None, byte_rate: int | None = None) -> bytes:
    """A RIFF/WAVE file written field by field: any value goes, consistent or not."""
    align = (channels * bits // 8) & 0xFFFF if block_align is None else block_align
    rate_b = (rate * align) & 0xFFFFFFFF if byte_rate is None else byte_rate
    fmt = struct.pack("<HHIIHH", fmt_code, channels, rate, rate_b, align, bits)
    body = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data"
            + struct.pack("<I", len(data) if data_size is None else data_size) + data)
    return b"RIFF" + struct.pack("<I", len(body) if riff_size is None else riff_size) + body


def flac_streaminfo(raw: bytes, *, rate: int | None = None, total: int | None = None) -> bytes:
    """``raw`` (a FLAC file) with STREAMINFO's 20-bit rate and/or 36-bit total frames replaced."""
    b = bytearray(raw)
    if b[:4] != b"fLaC" or len(b) < 26:
        return raw
    x = int.from_bytes(b[18:26], "big")  # rate(20) channels-1(3) bits-1(5) total(36)
    if rate is not None:
        x = (x & ~(0xFFFFF << 44)) | ((rate & 0xFFFFF) << 44)
    if total is not None:
        x = (x & ~(2**36 - 1)) | (total & (2**36 - 1))
    b[18:26] = x.to_bytes(8, "big")
    return bytes(b)


def put_u32(raw: bytes, offset: int, value: int, *, big: bool = False) -> bytes:
    if offset < 0 or offset + 4 > len(raw):
        return raw
    return raw[:offset] + struct.pack(">I" if big else "<I", value) + raw[offset + 4:]


def huge_sizes(raw: bytes) -> bytes:
    """Every declared size we know where to find set to 0xFFFFFFFF (FLAC: 2**36 - 1 frames)."""
    if raw[:4] in (b"RIFF", b"RF64"):
        raw = put_u32(raw, 4, 0xFFFFFFFF)
        if (i := raw.find(b"data")) >= 0:
            raw = put_u32(raw, i + 4, 0xFFFFFFFF)
        if (i := raw.find(b"ds64")) >= 0:  # RF64: 64-bit RIFF, data and frame counts
            raw = raw[:i + 8] + b"\xff" * 24 + raw[i + 32:]
    elif raw[:4] == b"fLaC":
        raw = flac_streaminfo(raw, total=2**36 - 1)
    elif raw[:4] == b"FORM":  # AIFF: FORM size, COMM frame count, SSND size
        raw = put_u32(raw, 4, 0xFFFFFFFF, big=True)
        if (i := raw.find(b"COMM")) >= 0:
            raw = put_u32(raw, i + 10, 0xFFFFFFFF, big=True)
        if (i := raw.find(b"SSND")) >= 0:
            raw = put_u32(raw, i + 4, 0xFFFFFFFF, big=True)
    elif raw[:4] == b"caff" and (i := raw.find(b"data")) >= 0:  # CAF: 64-bit chunk size
        raw = raw[:i + 4] + b"\x7f" + b"\xff" * 7 + raw[i + 12:]
    elif raw[:4] == b"riff" and (i := raw.find(b"data")) >= 0:  # W64: 16-byte GUIDs
        raw = raw[:i + 16] + b"\xff" * 8 + raw[i + 24:]
    return raw


def set_rate(raw: bytes, rate: int) -> bytes:
    """The sample rate field of a WAV or FLAC header, set to ``rate``."""
    if raw[:4] in (b"RIFF", b"RF64") and (i := raw.find(b"fmt ")) >= 0:
        return put_u32(raw, i + 12, rate & 0xFFFFFFFF)
    return flac_streaminfo(raw, rate=rate)


def encode(fmt: str, subtype: str, samples: np.ndarray, rate: int) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, samples, rate, format=fmt, subtype=subtype)
    return buf.getvalue()


@st.composite
def valid_recordings(draw) -> tuple[str, bytes]:
    """A small valid recording: (suffix, bytes)."""
    fmt, subtype, rates, most = draw(st.sampled_from(CODECS))
    rate = draw(st.sampled_from(rates or RATES))
    channels = draw(st.integers(1, most))
    frames = draw(st.sampled_from((0, 1, 2, 3, 17, 500, 3000)))
    seed = draw(st.integers(0, 2**16))
    x = np.random.default_rng(seed).uniform(-0.9, 0.9, (frames, channels))
    return SUFFIX[fmt], encode(fmt, subtype, x, rate)


MUTATIONS = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0.0, 1.0)),
    st.tuples(st.just("poke"), st.integers(0, 255), st.integers(0, 255)),
    st.tuples(st.just("u32"), st.integers(0, 124), st.sampled_from(NASTY_U32), st.booleans()),
    st.tuples(st.just("huge"),),
    st.tuples(st.just("rate"), st.sampled_from((0, 1, 1000, 7999, 192001, 1_000_000, 0xFFFFF))),
    st.tuples(st.just("append"), st.binary(min_size=1, max_size=600)),
    st.tuples(st.just("zero_tail"), st.floats(0.1, 0.9)),
)


def mutate(raw: bytes, op: tuple) -> bytes:
    kind = op[0]
    if kind == "truncate":
        return raw[:int(op[1] * len(raw))]
    if kind == "poke":
        return raw if op[1] >= len(raw) else raw[:op[1]] + bytes([op[2]]) + raw[op[1] + 1:]
    if kind == "u32":
        return put_u32(raw, op[1], op[2], big=op[3])
    if kind == "huge":
        return huge_sizes(raw)
    if kind == "rate":
        return set_rate(raw, op[1])
    if kind == "append":
        return raw + op[1]
    cut = int(op[1] * len(raw))  # "zero_tail": the end of the file overwritten with zeros
    return raw[:cut] + bytes(len(raw) - cut)


# --- the property ----------------------------------------------------------------------


def _clear(exc: VinylmonError, path) -> None:
    assert isinstance(exc, AudioFileError | AudioDataError), repr(exc)
    assert str(path) in str(exc), f"the message does not name the file: {exc}"
    assert "\n" not in str(exc), f"not one line: {exc!r}"


def check_readers(path, *, block_s: float = 0.25) -> str:
    """Run every reader on ``path``; each gives good audio or a clear VinylmonError.

    Returns ``"ok"`` when the file loaded, else the error's class name. Any other
    exception propagates and fails the test.
    """
    t0 = time.monotonic()
    tracemalloc.start()
    try:
        try:
            info = audio_info(path)
        except VinylmonError as exc:
            _clear(exc, path)
            info = None
        else:
            assert MIN_SAMPLE_RATE <= info.sample_rate <= MAX_SAMPLE_RATE
            assert info.channels >= 1 and info.frames > 0
            assert info.analysed_channels == min(info.channels, MAX_CHANNELS)
        try:
            block = load(path)
        except VinylmonError as exc:
            _clear(exc, path)
            outcome = type(exc).__name__
        else:
            assert info is not None, "load() read a file that audio_info() refused"
            x = block.samples
            assert x.dtype == np.float32 and x.ndim == 2
            assert x.shape[0] == info.analysed_channels <= MAX_CHANNELS
            assert x.shape[1] > 0 and block.sample_rate == ANALYSIS_RATE
            assert np.isfinite(x).all()
            assert np.abs(x).max(initial=0.0) <= 2 * MAX_SAMPLE_ABS
            outcome = "ok"
        try:
            end = 0.0
            for b in read_blocks(path, block_s=block_s):
                assert b.samples.dtype == np.float32 and np.isfinite(b.samples).all()
                assert b.sample_rate == ANALYSIS_RATE and b.start_s == pytest.approx(end)
                end = b.end_s
        except VinylmonError as exc:
            _clear(exc, path)
        try:
            for w in file_windows(path):
                assert np.isfinite(w.samples).all() and w.samples.shape[0] <= MAX_CHANNELS
        except VinylmonError as exc:
            _clear(exc, path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < MAX_PEAK_BYTES, f"{peak / 2**20:.0f} MB to read a small hostile file"
    assert time.monotonic() - t0 < 4 * SECONDS_PER_FILE
    return outcome


# --- fuzzed ----------------------------------------------------------------------------


@FUZZ
@given(rec=valid_recordings(), ops=st.lists(MUTATIONS, min_size=1, max_size=3))
def test_mutated_recordings_load_or_fail_clearly(work, rec, ops):
    suffix, raw = rec
    for op in ops:
        raw = mutate(raw, op)
    path = work / f"mutated.{suffix}"
    path.write_bytes(raw)
    event(f"{suffix}: {check_readers(path)}")


#: Hostile values for each field of a hand-written WAV header.
WAV_FIELDS = {
    "rate": st.sampled_from((0, 1, 2, 1000, 7999, 192001, 1_000_000, 0x80000000, 0xFFFFFFFF)),
    "channels": st.sampled_from((0, 9, 255, 65535)),
    "bits": st.sampled_from((0, 1, 7, 12, 33, 65535)),
    "fmt_code": st.sampled_from((0, 2, 0xFFFE, 0x1234)),
    "riff_size": st.sampled_from(NASTY_U32),
    "data_size": st.sampled_from(NASTY_U32),
    "block_align": st.sampled_from((0, 1, 3, 65535)),
    "byte_rate": st.sampled_from(NASTY_U32),
}


@st.composite
def hand_written_wavs(draw) -> tuple[dict, bytes]:
    """A plausible WAV header (PCM or float, 1-8 channels) with 0-3 fields made hostile."""
    bits, fmt_code = draw(st.sampled_from(((8, 1), (16, 1), (24, 1), (32, 1), (32, 3), (64, 3))))
    fields = {"rate": draw(st.sampled_from(RATES)), "channels": draw(st.integers(1, 8)),
              "bits": bits, "fmt_code": fmt_code}
    for name in draw(st.sets(st.sampled_from(sorted(WAV_FIELDS)), max_size=3)):
        fields[name] = draw(WAV_FIELDS[name])
    frames = draw(st.sampled_from((0, 1, 2, 100, 2000)))
    width = max(1, fields["channels"] * max(8, fields["bits"]) // 8)
    data = draw(st.binary(min_size=min(frames * width, 4000), max_size=min(frames * width, 4000)))
    return fields, wav_bytes(data=data, **fields)


@FUZZ
@given(wav=hand_written_wavs(), cut=st.one_of(st.none(), st.integers(0, 80)))
def test_hand_written_wav_headers_load_or_fail_clearly(work, wav, cut):
    fields, raw = wav
    path = work / "hand.wav"
    path.write_bytes(raw if cut is None else raw[:cut])
    outcome = check_readers(path)
    event(outcome)
    if outcome == "ok":
        assert MIN_SAMPLE_RATE <= fields["rate"] <= MAX_SAMPLE_RATE


MAGIC = (b"", b"RIFF", b"RIFF\xff\xff\xff\xffWAVE", b"RF64", b"fLaC", b"OggS", b"FORM", b"caff",
         b"riff", b"ID3\x03\x00\x00\x00\x00\x00\x00", b"\xff\xfb\x90\x00", b"\xff\xf3", b"MThd")


@FUZZ
@given(magic=st.sampled_from(MAGIC), tail=st.binary(max_size=3000),
       suffix=st.sampled_from(("wav", "flac", "ogg", "mp3", "aiff", "txt", "")))
def test_garbage_files_fail_clearly(work, magic, tail, suffix):
    path = work / f"garbage.{suffix}" if suffix else work / "garbage"
    path.write_bytes(magic + tail)
    event(check_readers(path))


@FUZZ
@given(channels=st.integers(1, 8), frames=st.integers(1, 3000),
       subtype=st.sampled_from(("FLOAT", "DOUBLE")),
       rate=st.sampled_from((8000, 44100, 48000, 192000)),
       bad=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 7),
                              st.sampled_from((np.nan, np.inf, -np.inf, 1e30, -3e38))),
                    min_size=1, max_size=4))
def test_nan_and_inf_float_samples_are_refused(work, channels, frames, subtype, rate, bad):
    x = np.zeros((frames, channels))
    hits_analysed = False
    for where, ch, value in bad:
        x[int(where * frames), ch % channels] = value
        hits_analysed |= ch % channels < MAX_CHANNELS
    path = work / "nonfinite.wav"
    sf.write(path, x, rate, subtype=subtype)
    if hits_analysed:
        with pytest.raises(AudioDataError, match="NaN or infinite|far above full scale") as e:
            load(path)
        assert str(path) in str(e.value)
    check_readers(path)


# --- chosen by hand --------------------------------------------------------------------


@pytest.mark.parametrize(("rate", "error", "match"), [
    (1, AudioDataError, "1 Hz is outside"),
    (1_000_000, AudioDataError, "1000000 Hz is outside"),
    (0xFFFFFFFF, AudioFileError, "corrupt .*sample rate"),
    (0, AudioFileError, "corrupt .*sample rate"),
])
@pytest.mark.parametrize("channels", [1, 8])
def test_absurd_rates_in_hand_written_headers(work, rate, error, match, channels):
    path = work / f"rate{rate}_{channels}ch.wav"
    path.write_bytes(wav_bytes(rate=rate, channels=channels, data=bytes(200 * channels)))
    for read in (audio_info, load, lambda p: list(read_blocks(p))):
        with pytest.raises(error, match=match) as e:
            read(path)
        assert str(path) in str(e.value)


@pytest.mark.parametrize("rate", [1, 1_000_000])
def test_absurd_rates_in_flac_headers(work, rate):
    raw = encode("FLAC", "PCM_16", np.zeros((1000, 2)), 44100)
    path = work / f"rate{rate}.flac"
    path.write_bytes(flac_streaminfo(raw, rate=rate))
    with pytest.raises(AudioDataError, match="Hz is outside") as e:
        load(path)
    assert str(path) in str(e.value)


def _rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux


@pytest.mark.parametrize(("name", "make"), [
    ("flac_2e31_frames.flac", lambda raw: flac_streaminfo(raw, total=2**31)),
    ("flac_max_frames.flac", lambda raw: flac_streaminfo(raw, total=2**36 - 1)),
    ("wav_huge_sizes.wav", lambda raw: wav_bytes(channels=2, data=raw[-4000:],
                                                riff_size=0xFFFFFFFF, data_size=0xFFFFFFFF)),
    ("wav_2e31_bytes.wav", lambda raw: wav_bytes(channels=8, rate=192000, data=raw[-4000:],
                                                data_size=2**31)),
    ("rf64_huge.rf64", lambda raw: huge_sizes(encode("RF64", "FLOAT", np.zeros((500, 2)),
                                                     44100))),
    ("aiff_huge.aiff", lambda raw: huge_sizes(encode("AIFF", "PCM_16", np.zeros((500, 8)),
                                                     96000))),
])
def test_files_claiming_billions_of_frames_stay_small(work, name, make):
    """A header that claims 2**31 frames (or 0xFFFFFFFF bytes) costs neither gigabytes nor
    minutes: the readers work block by block, and a claim that no file of that size can
    hold is refused."""
    x = np.random.default_rng(5).uniform(-0.5, 0.5, (3000, 2))
    path = work / name
    path.write_bytes(make(encode("FLAC", "PCM_16", x, 44100)))
    rss0, t0 = _rss_bytes(), time.monotonic()
    check_readers(path, block_s=1.0)
    assert time.monotonic() - t0 < SECONDS_PER_FILE
    assert _rss_bytes() - rss0 < MAX_PEAK_BYTES


def test_flac_claiming_billions_of_frames_is_refused_by_its_header(work):
    raw = encode("FLAC", "PCM_16", np.zeros((4000, 2)), 44100)
    path = work / "liar.flac"
    path.write_bytes(flac_streaminfo(raw, total=2**31))
    with pytest.raises(AudioFileError, match="claims 2147483648 frames") as e:
        audio_info(path)
    assert str(path) in str(e.value)


def test_flac_of_unknown_length_is_refused_clearly(work):
    raw = encode("FLAC", "PCM_16", np.random.default_rng(6).uniform(-0.5, 0.5, (4000, 2)), 44100)
    path = work / "stream.flac"
    path.write_bytes(flac_streaminfo(raw, total=0))  # 0: "unknown" in FLAC's STREAMINFO
    with pytest.raises(AudioFileError, match="does not give the length") as e:
        load(path)
    assert str(path) in str(e.value)


def test_mp3_whose_xing_header_claims_days_is_refused(work):
    raw = bytearray(encode("MP3", "MPEG_LAYER_III",
                           np.random.default_rng(1).uniform(-0.3, 0.3, (44100, 2)), 44100))
    i = max(raw.find(b"Xing"), raw.find(b"Info"))
    assert i > 0, "lame wrote no Xing/Info header"
    raw[i + 8:i + 12] = struct.pack(">I", 0x7FFFFFFF)  # frame count
    path = work / "liar.mp3"
    path.write_bytes(bytes(raw))
    with pytest.raises(AudioFileError, match="more than its .* bytes can hold"):
        audio_info(path)


@pytest.mark.parametrize("channels", [1, 8])
@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("frames", [0, 1])
def test_zero_and_one_sample(work, channels, rate, frames):
    path = work / f"n{frames}_{rate}_{channels}.wav"
    sf.write(path, np.full((frames, channels), 0.25), rate, subtype="FLOAT")
    outcome = check_readers(path)
    if frames == 0:
        assert outcome == "AudioFileError"
    elif rate <= ANALYSIS_RATE:
        assert outcome == "ok"  # one sample at 8-44.1 kHz is at least one sample at 44.1 kHz


def test_one_sample_at_192_khz_is_too_short_not_a_crash(work):
    path = work / "blip.wav"
    sf.write(path, np.full((1, 2), 0.25), 192000, subtype="FLOAT")
    with pytest.raises(AudioFileError, match="too short") as e:
        load(path)
    assert str(path) in str(e.value)


@pytest.mark.parametrize("value", [1e7, 1e30, 3e38])
def test_samples_far_beyond_full_scale_are_refused(work, value):
    x = np.random.default_rng(2).uniform(-0.5, 0.5, (44100, 2)).astype(np.float32)
    x[1000, 1] = value
    path = work / "loud.wav"
    sf.write(path, x, 48000, subtype="FLOAT")  # resampled: 3e38 would overflow to NaN
    with pytest.raises(AudioDataError, match="far above full scale") as e:
        load(path)
    assert str(path) in str(e.value) and "0.021 s" in str(e.value)


def test_loud_but_plausible_float_samples_load(work):
    x = np.random.default_rng(3).uniform(-4.0, 4.0, (4410, 2)).astype(np.float32)  # +12 dBFS
    path = work / "hot.wav"
    sf.write(path, x, 48000, subtype="FLOAT")
    assert np.isfinite(load(path).samples).all()


def test_garbage_named_mp3_is_not_said_to_be_missing(work):
    path = work / "noise.mp3"
    path.write_bytes(np.random.default_rng(4).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(AudioFileError, match="corrupt") as e:
        audio_info(path)
    assert "does not exist" not in str(e.value)


def test_file_name_that_is_not_utf8(work):
    path = work / b"side \xff\xfe.wav".decode("utf-8", "surrogateescape")
    sf.write(work / "plain.wav", np.zeros((441, 2)) + 0.1, 44100)
    path.write_bytes((work / "plain.wav").read_bytes())
    assert load(path).frames == 441
