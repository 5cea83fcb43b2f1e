"""The self-contained HTML page of a report: content, pictures, escaping, size."""

import base64
import re
import struct
import time
import zlib
from html import escape
from html.parser import HTMLParser

import numpy as np
import pytest

from vinylmon.grading.rubric import GRADES
from vinylmon.reports.html import MAX_SPEC_COLUMNS, MAX_SPEC_ROWS, SCOPE_LINE, render_html
from vinylmon.reports.schema import report_problems

KINDS = ("click", "pop", "crackle", "scratch")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAGMA_TOP = (252, 253, 191)


def make_report(rng, *, n_events=2, duration=10.0, learned="VG+", measured="VG", channels=2,
                name="side_a.flac"):
    """A valid report: ``n_events`` events (one scratch tick), 1 scratch, windows of 5 s
    with the second one silent."""
    p = rng.dirichlet(np.ones(6))
    starts = np.sort(rng.uniform(0.0, duration - 0.01, n_events))
    events = []
    for i, t in enumerate(starts.tolist()):
        kind = "scratch" if i == 1 else str(rng.choice(["click", "pop", "crackle"]))
        channel = [0, 1, None][int(rng.integers(3))] if channels == 2 else None
        events.append({"kind": kind, "start_s": t, "end_s": t + 0.0004, "channel": channel,
                       "peak_db": float(rng.uniform(-45, 15)),
                       "confidence": float(rng.uniform(0.5, 1.0)),
                       "scratch_id": 0 if kind == "scratch" else None})
    windows = []
    for i, t in enumerate(np.arange(0.0, duration, 5.0).tolist()):
        silent = i == 1
        windows.append({"start_s": t, "end_s": min(t + 5.0, duration), "silent": silent,
                        "defect_probs": None if silent else
                        dict(zip(["clean", "click", "crackle", "scratch", "noise"],
                                 rng.dirichlet(np.ones(5)).tolist(), strict=True)),
                        "grade_probs": None if silent else
                        dict(zip(GRADES, rng.dirichlet(np.ones(6)).tolist(), strict=True))})
    return {
        "schema": "vinylmon.report/1", "input": name, "sample_rate": 44100,
        "channels": channels, "duration_s": duration, "rpm": 33.333,
        "models": {"detector": "cnn@1.1.0", "grader": "w2v@0.3.0", "device": "cpu"},
        "events": events,
        "scratches": [{"id": 0, "period_s": 1.8, "first_s": starts[1] if n_events > 1 else 1.0,
                       "last_s": (starts[1] if n_events > 1 else 1.0) + 3.6, "count": 3,
                       "confidence": 0.93}],
        "windows": windows,
        "summary": {
            "grade": measured, "grade_probs": dict(zip(GRADES, p.tolist(), strict=True)),
            "limited_by": "clicks_per_min",
            "reasons": ["VG: 11.2 clicks/min; VG+ allows < 4", "crackle is fine & <quiet>"],
            "measured": {"clicks_per_min": 11.2, "crackle_per_s": 0.3,
                         "surface_noise_db": -52.0, "scratches": 1, "skips": 0,
                         "analysed_s": 1180.0},
            "learned_grade": learned, "measured_grade": measured,
        },
    }


class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts = []

    def handle_data(self, data):
        self.parts.append(data)


def text_of(page):
    """The text a browser shows (entities decoded), whitespace collapsed."""
    parser = _Text()
    parser.feed(page)
    return re.sub(r"\s+", " ", " ".join(parser.parts))


def decode_png(png):
    """(width, height, pixels of shape (h, w, 3)) of an 8-bit RGB PNG without filters."""
    assert png[:8] == PNG_SIGNATURE
    pos, chunks = 8, {}
    while pos < len(png):
        length, tag = struct.unpack(">I4s", png[pos:pos + 8])
        data = png[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", png[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(tag + data) & 0xFFFFFFFF, f"bad CRC in {tag}"
        chunks.setdefault(tag, b"")
        chunks[tag] += data
        pos += 12 + length
    assert pos == len(png) and b"IEND" in chunks
    width, height, depth, colour, _, _, _ = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    assert (depth, colour) == (8, 2)
    raw = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), np.uint8)
    assert raw.size == height * (1 + 3 * width)
    rows = raw.reshape(height, 1 + 3 * width)
    assert np.all(rows[:, 0] == 0)
    return width, height, rows[:, 1:].reshape(height, width, 3)


def pngs_of(page):
    return [base64.b64decode(b) for b in re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)",
                                                    page)]


@pytest.fixture
def report(rng):
    return make_report(rng)


def test_fixture_report_is_valid(rng):
    assert report_problems(make_report(rng)) == []
    assert report_problems(make_report(rng, n_events=300, duration=60.0, channels=1)) == []


def test_one_self_contained_document(report):
    page = render_html(report)
    assert page.lower().startswith("<!doctype html>")
    assert page.lower().count("<!doctype") == 1 and page.count("</html>") == 1
    assert page.rstrip().endswith("</html>")
    assert "<script" not in page.lower() and " src=" not in page
    # nothing to fetch: the only URL is the SVG namespace name, links are data URIs
    assert set(re.findall(r"https?://[^\s\"'<>]+", page)) <= {"http://www.w3.org/2000/svg"}
    assert all(h.startswith("data:") for h in re.findall(r'href="([^"]*)"', page))
    text = text_of(page)
    assert "side_a.flac" in text
    assert "VG" in re.search(r'<div class="badge big"[^>]*>([^<]*)<', page).group(1)
    for reason in report["summary"]["reasons"]:
        assert reason in text
    assert SCOPE_LINE in text
    assert "Limited by: clicks_per_min" in text
    assert "cnn@1.1.0" in text and "w2v@0.3.0" in text and "cpu" in text
    assert "44,100 Hz" in text and "33.33 rpm" in text
    assert pngs_of(page) == []  # no spectrogram given


def test_grade_probabilities_are_drawn(report):
    page = render_html(report)
    probs = report["summary"]["grade_probs"]
    bars = re.findall(r'<tr(?: class="chosen")?><th>([^<]+)</th><td class="bar"><span '
                      r'style="width:([0-9.]+)%', page)
    assert [escape(g) for g in GRADES] == [g for g, _ in bars]
    for g, width in bars:
        assert float(width) == pytest.approx(probs[g.replace("&#x27;", "'")] * 100, abs=0.06)
    assert '<tr class="chosen"><th>VG</th>' in page


def test_measured_table_quotes_the_rubric(report):
    text = text_of(render_html(report))
    assert "11.20" in text and "-52.0 dB" in text
    assert "limit for VG" in text and "< 15" in text and "< 5" in text and "≤ -40 dB" in text
    assert "needed for VG+" in text and "< 4" in text and "≤ -50 dB" in text
    assert "19:40 (m:ss, 1180.0 s)" in text
    assert re.search(r'<tr class="limit"><td>c</td>', render_html(report))


def test_rpm_unknown_and_no_grader(report):
    report["rpm"] = None
    report["models"]["grader"] = None
    report["summary"]["learned_grade"] = None
    report["summary"]["measured"]["surface_noise_db"] = None
    text = text_of(render_html(report))
    assert "not given / estimated" in text
    assert "grader none" in text and "Learned grader: not run" in text
    assert "Measured rubric" not in text  # no side-by-side cards without a learned grade
    assert "unknown" in text


def test_learned_and_measured_disagreement_shows_both(rng):
    page = render_html(make_report(rng, learned="NM", measured="G+"))
    text = text_of(page)
    assert "Learned grader" in text and "Measured rubric" in text
    versus = page[page.index('class="versus"'):]
    assert ">NM<" in versus and ">G+<" in versus
    agree = text_of(render_html(make_report(rng, learned="G+", measured="G+")))
    assert "Measured rubric" not in agree and "agree: G+" in agree


def test_file_name_is_escaped_and_folders_are_not_shown(report):
    report["input"] = "/home/seller/private/a<script>alert(1)</script>&b.flac"
    page = render_html(report)
    assert "<script>" not in page and "alert(1)</script>" not in page
    assert "private" not in page and "seller" not in page
    report["input"] = r"C:\Users\me\<b>x & y.wav"
    page = render_html(report)
    assert "<b>x" not in page and "Users" not in page
    assert "&lt;b&gt;x &amp; y.wav" in page
    assert "<quiet>" not in page and "crackle is fine &amp; &lt;quiet&gt;" in page


def spectrogram(rng, rows=40, cols=300):
    db = rng.normal(-60.0, 10.0, (rows, cols))
    freqs = np.linspace(0.0, 22050.0, rows)
    return db, freqs


def test_spectrogram_png_matches_the_array(rng, report):
    db, freqs = spectrogram(rng)
    db[1:-1] = rng.uniform(-85.0, -15.0, (db.shape[0] - 2, db.shape[1]))
    db[0] = -10.0  # the lowest frequency is the loudest: it must be at the bottom
    db[-1] = -200.0  # the highest is far below the 80 dB range: the darkest colour
    page = render_html(report, spectrogram_db=db, spectrogram_freqs_hz=freqs,
                       spectrogram_hop_s=0.01)
    (png,) = pngs_of(page)
    assert png[:8] == PNG_SIGNATURE
    assert png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (db.shape[1], db.shape[0])
    _, _, pixels = decode_png(png)
    assert np.all(pixels[-1] == MAGMA_TOP)
    assert np.all(pixels[0] == (0, 0, 4))
    middle = pixels[1:-1].astype(int).sum(axis=2)
    assert middle.min() > 4 and middle.max() < sum(MAGMA_TOP)
    # louder is lighter: picture row r shows array row (rows - 1 - r)
    assert np.corrcoef(middle.ravel(), db[-2:0:-1].ravel())[0, 1] > 0.95
    text = text_of(page)
    assert "22.1 kHz" in text and "0 Hz" in text  # frequency labels at the ends
    assert "0:00" in text and "0:03" in text  # 300 columns 10 ms apart: 3 s
    assert "<image " in page


def test_descending_frequencies_keep_low_at_the_bottom(rng, report):
    db, freqs = spectrogram(rng, rows=16, cols=20)
    db[-1] = 0.0
    page = render_html(report, spectrogram_db=db, spectrogram_freqs_hz=freqs[::-1].copy(),
                       spectrogram_hop_s=0.5)
    _, _, pixels = decode_png(pngs_of(page)[0])
    assert np.all(pixels[-1] == MAGMA_TOP)


def test_spectrogram_with_nan_and_inf(rng, report):
    db, freqs = spectrogram(rng, rows=8, cols=12)
    db[1, :4] = np.nan
    db[2, 0] = np.inf
    db[3, 0] = -np.inf
    for array in (db, np.full((8, 12), np.nan), np.full((8, 12), -np.inf)):
        page = render_html(report, spectrogram_db=array, spectrogram_freqs_hz=freqs,
                           spectrogram_hop_s=0.1)
        width, height, pixels = decode_png(pngs_of(page)[0])
        assert (width, height) == (12, 8)
    assert "nan" not in text_of(page).lower()


def test_large_spectrogram_is_reduced_keeping_peaks(rng, report):
    db = rng.normal(-60.0, 5.0, (1100, 4500)).astype(np.float32)
    db[7, 4321] = 40.0  # one loud cell must survive the reduction
    freqs = np.linspace(0.0, 22050.0, 1100)
    page = render_html(report, spectrogram_db=db, spectrogram_freqs_hz=freqs,
                       spectrogram_hop_s=0.01)
    width, height, pixels = decode_png(pngs_of(page)[0])
    assert width <= MAX_SPEC_COLUMNS and height <= MAX_SPEC_ROWS
    assert width >= MAX_SPEC_COLUMNS // 2 and height >= MAX_SPEC_ROWS // 2
    assert np.all(pixels == MAGMA_TOP, axis=2).sum() == 1
    assert "0:45" in text_of(page)  # 4500 columns 10 ms apart: 45 s


@pytest.mark.parametrize(("db", "freqs", "hop", "match"), [
    (np.zeros(10), np.arange(10.0), 0.1, "must be 2-D"),
    (np.zeros((2, 3, 4)), np.arange(2.0), 0.1, "must be 2-D"),
    (np.zeros((0, 4)), np.arange(0.0), 0.1, "empty"),
    (np.zeros((4, 5)), None, 0.1, "needs spectrogram_freqs_hz"),
    (np.zeros((4, 5)), np.arange(4.0), None, "needs spectrogram_freqs_hz"),
    (np.zeros((4, 5)), np.arange(5.0), 0.1, "must be 4 real numbers"),
    (np.zeros((4, 5)), np.array([0.0, 2.0, 1.0, 3.0]), 0.1, "strictly increasing"),
    (np.zeros((4, 5)), np.array([0.0, np.nan, 1.0, 3.0]), 0.1, "NaN"),
    (np.zeros((4, 5)), np.arange(4.0), 0.0, "finite number > 0"),
    (np.zeros((4, 5)), np.arange(4.0), float("nan"), "finite number > 0"),
    (np.zeros((4, 5)), np.arange(4.0), "fast", "finite number > 0"),
    (np.array([["a", "b"]]), np.arange(1.0), 0.1, "real dB values"),
    (None, np.arange(4.0), 0.1, "without spectrogram_db"),
])
def test_bad_spectrogram_input(report, db, freqs, hop, match):
    with pytest.raises(ValueError, match=match):
        render_html(report, spectrogram_db=db, spectrogram_freqs_hz=freqs,
                    spectrogram_hop_s=hop)


def test_bad_report_input(report):
    with pytest.raises(ValueError, match="must be a dict"):
        render_html([report])
    with pytest.raises(ValueError, match="not 'vinylmon.report/1'"):
        render_html(dict(report, schema="vinylmon.report/0"))
    del report["summary"]["reasons"], report["windows"]
    with pytest.raises(ValueError, match="lacks required keys: windows, summary.reasons"):
        render_html(report)


def test_timeline_lanes_scratch_and_silence(report):
    page = render_html(report)
    timeline = page[page.index("<h2>Timeline</h2>"):page.index("</figure>",
                                                              page.index("<h2>Timeline</h2>"))]
    labels = re.findall(r'text-anchor="end" font-size="11" fill="#333">([^<]+)<', timeline)
    assert labels[:4] == ["L", "R", "both", "scratch"]
    assert "#0 every 1.80 s ×3" in timeline
    assert "<title>silent 00:05.000 – 00:10.000</title>" in timeline
    kinds = {e["kind"] for e in report["events"]}
    for kind in kinds:
        assert re.search(rf"<title>{kind}, (L|R|both): 1 events</title>", timeline)


def test_many_events_stay_small_and_the_table_says_what_is_left_out(rng):
    report = make_report(rng, n_events=5000, duration=1200.0)
    report["events"].reverse()  # the page sorts them for its table
    t0 = time.perf_counter()
    page = render_html(report)
    elapsed = time.perf_counter() - t0
    assert len(page.encode("utf-8")) < 2_000_000
    assert elapsed < 10.0
    text = text_of(page)
    assert "The first 500 of 5000 events by time are listed; 4500 more are left out." in text
    table = page[page.index("<h2>Events</h2>"):]
    rows = re.findall(r"<tr><td>(\d+)</td><td>([0-9:.]+)</td>", table)
    assert len(rows) == 500
    times = [r[1] for r in rows]
    assert times == sorted(times)
    first = min(e["start_s"] for e in report["events"])
    assert times[0] == f"00:{first:06.3f}"
    # the timeline draws at most one tick per lane, kind and pixel column
    assert page.count("M") < 3 * 4 * 900 + 2000


def test_small_report_lists_every_event(rng):
    report = make_report(rng, n_events=5, channels=1)
    text = text_of(render_html(report))
    assert "All 5 events, by time." in text
    assert " mono " in text and "left out" not in text


def test_optional_extra_keys_are_shown(rng):
    report = make_report(rng, duration=60.0)
    report.update({"vinylmon": "0.1.0", "created": "2026-11-21T10:00:00Z",
                   "scope": SCOPE_LINE, "program_level_dbfs": -18.5,
                   "skips": [{"start_s": 30.0, "end_s": 31.8, "period_s": 1.8,
                              "similarity": 0.97}]})
    report["scratches"][0].update({"rpm": 33.33, "peak_db": -3.5})
    report["summary"].update({"confidence": 0.43, "dropped_windows": 0,
                              "learned_grade_probs": report["summary"]["grade_probs"]})
    for w in report["windows"]:
        w["level_db"] = -20.0
    assert report_problems(report) == []
    page = render_html(report)
    text = text_of(page)
    assert "vinylmon version 0.1.0" in text and "2026-11-21T10:00:00Z" in text
    assert "<title>skip / repeat 00:30.000 – 00:31.800</title>" in page
    assert "skip / repeat 1" in text
    scratches = page[page.index("<h2>Repeating scratches</h2>"):page.index("<h2>Events</h2>")]
    assert "33.33" in scratches and "+3.5" not in scratches and "-3.5" in scratches
    # the scratch's peak (-3.5 dB, louder than L - 6 dB) keeps s at G+ in the rubric
    assert re.search(r"<tr><td>s</td><td>repeating scratches</td><td>1</td><td>G\+</td>", page)
    report["scratches"][0]["peak_db"] = -9.0
    report["events"][1]["peak_db"] = -9.0
    page = render_html(report)
    assert re.search(r"<tr><td>s</td><td>repeating scratches</td><td>1</td><td>VG</td>", page)
