"""Close-ups of single events for the HTML page: a click lasts a millisecond or less,
and the side's spectrogram (a column every 250 ms) cannot show one.

:func:`event_strips` picks the loudest events of a report and, for each, reads about
±25 ms of audio around it and computes a waveform and a spectrogram at about 1 ms
resolution (:class:`EventStrip`); :func:`vinylmon.reports.html.render_html` draws
them. Only numpy: the audio comes through a ``read(start_s, end_s)`` callable of the
caller's (a file excerpt for ``vinylmon grade``, the session recording for the
monitor), so this package needs no audio reader of its own.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

#: Close-ups made at most (the loudest events).
MAX_EVENT_STRIPS = 12
#: Seconds shown either side of an event's middle.
HALF_WIDTH_S = 0.025
#: Seconds between spectrogram columns, and the length of each column's window.
STRIP_HOP_S = 0.001
STRIP_WINDOW_S = 0.003


@dataclass(frozen=True, eq=False)
class EventStrip:
    """One event's close-up: its audio and spectrogram around it.

    Attributes
    ----------
    event_start_s, event_end_s : float
        The event's span (seconds from the start of the audio).
    kind : str
        The event's kind (``click``, ``pop``, ``crackle``, ``scratch``).
    peak_db : float or None
        Its peak, dB re the program level L.
    channel : int or None
        Its channel (None: every channel); ``samples`` is that channel, or the mean
        of the channels for None.
    view_start_s, view_end_s : float
        The stretch of time the close-up shows (the event in its middle).
    samples : np.ndarray, shape (frames,)
        The audio from ``samples_start_s`` on (float32, full scale 1); shorter than
        the view at the very start or end of the audio.
    samples_start_s : float
        Time of ``samples[0]``.
    sample_rate : int
    db : np.ndarray, shape (bins, columns)
        Spectrogram (dB re full scale), low frequencies first.
    freqs_hz : np.ndarray, shape (bins,)
        Frequency of each row of ``db``, increasing.
    first_column_s : float
        Centre time of ``db``'s first column.
    hop_s : float
        Seconds between columns of ``db``.
    others : tuple of (start_s, end_s, kind)
        Other events whose span is in view (drawn as smaller marks).
    """

    event_start_s: float
    event_end_s: float
    kind: str
    peak_db: float | None
    channel: int | None
    view_start_s: float
    view_end_s: float
    samples: np.ndarray
    samples_start_s: float
    sample_rate: int
    db: np.ndarray
    freqs_hz: np.ndarray
    first_column_s: float
    hop_s: float
    others: tuple[tuple[float, float, str], ...] = ()


def _finite(x: object) -> bool:
    return (isinstance(x, int | float | np.integer | np.floating) and not isinstance(x, bool)
            and math.isfinite(float(x)))


def _fft_size(sample_rate: int, window_s: float) -> int:
    return 1 << max(4, round(math.log2(window_s * sample_rate)))


def strip_spectrogram(x: np.ndarray, sample_rate: int, *, hop_s: float = STRIP_HOP_S,
                      window_s: float = STRIP_WINDOW_S, first: int = 0,
                      last: int | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """A short-time spectrogram of ``x``: Hann windows of about ``window_s`` centred on
    samples ``first``, ``first + hop``, ... before ``last`` (default: the end of
    ``x``); samples outside ``x`` count as silence.

    Returns
    -------
    db : np.ndarray, shape (bins, columns)
        Power in dB re full scale (a full-scale sine reads about 0 dB).
    freqs_hz : np.ndarray, shape (bins,)
    hop_s : float
        The hop, rounded to whole samples.
    """
    n_fft = _fft_size(sample_rate, window_s)
    hop = max(1, int(round(hop_s * sample_rate)))
    x = np.asarray(x, dtype=np.float64)
    last = len(x) if last is None else last
    centres = np.arange(first, max(last, first + 1), hop)
    padded = np.pad(x, (n_fft // 2, n_fft // 2 + max(0, int(centres[-1]) + 1 - len(x))))
    win = np.hanning(n_fft)
    frames = padded[centres[:, None] + np.arange(n_fft)] * win
    spec = np.fft.rfft(frames, axis=1)
    power = (spec.real ** 2 + spec.imag ** 2) * (4.0 / win.sum() ** 2)
    db = (10.0 * np.log10(power + 1e-12)).T.astype(np.float32)
    return db, np.fft.rfftfreq(n_fft, 1.0 / sample_rate), hop / sample_rate


def _mono(audio: object, channel: int | None, *, what: str) -> np.ndarray:
    a = np.asarray(audio)
    if a.dtype.kind not in "fiu" or a.ndim not in (1, 2):
        raise ValueError(f"read() must give (channels, frames) or (frames,) real samples; "
                         f"{what} gave shape {a.shape}, dtype {a.dtype}")
    a = a.astype(np.float32, copy=False)
    if a.ndim == 1:
        return a
    if channel is not None and 0 <= channel < a.shape[0]:
        return a[channel]
    return a.mean(axis=0) if a.shape[0] else np.zeros(a.shape[1], np.float32)


def _choose(events: Sequence[Mapping], max_events: int, half_width_s: float) -> list[int]:
    """Indices of the loudest events, none within a close-up of a louder one, by time."""
    valid = [i for i, e in enumerate(events) if isinstance(e, Mapping)
             and _finite(e.get("start_s")) and float(e["start_s"]) >= 0.0]
    by_peak = sorted(valid, key=lambda i: (
        -float(events[i]["peak_db"]) if _finite(events[i].get("peak_db")) else math.inf,
        float(events[i]["start_s"])))
    chosen: list[int] = []
    for i in by_peak:
        if len(chosen) >= max_events:
            break
        t = float(events[i]["start_s"])
        if all(abs(t - float(events[j]["start_s"])) > half_width_s for j in chosen):
            chosen.append(i)
    return sorted(chosen, key=lambda i: float(events[i]["start_s"]))


def event_strips(read: Callable[[float, float], np.ndarray], events: Sequence[Mapping], *,
                 sample_rate: int, max_events: int = MAX_EVENT_STRIPS,
                 half_width_s: float = HALF_WIDTH_S) -> list[EventStrip]:
    """Close-ups of the loudest events, for :func:`vinylmon.reports.html.render_html`.

    Parameters
    ----------
    read : callable ``(start_s, end_s) -> array``
        The audio in ``[start_s, end_s)`` (``start_s`` >= 0), as ``(channels,
        frames)`` or ``(frames,)`` samples at ``sample_rate``; fewer frames (none
        past the end of the audio) are allowed.
    events : sequence of dict
        The report's ``events`` (REPORT.md); ones without a finite ``start_s`` are
        passed over.
    sample_rate : int, keyword-only
    max_events : int, keyword-only
        Close-ups made at most: the loudest events by ``peak_db``, leaving out an
        event within ``half_width_s`` of a louder one chosen (it shows in that one's
        close-up); in time order.
    half_width_s : float, keyword-only
        Seconds shown either side of an event's middle.

    Returns
    -------
    list of EventStrip
        One per chosen event that ``read`` gave audio for, by time.

    Raises
    ------
    ValueError
        Bad ``sample_rate``, ``max_events`` or ``half_width_s``, ``events`` not a
        sequence, or ``read`` giving something that is not real samples.
    """
    if not _finite(sample_rate) or int(sample_rate) != sample_rate or sample_rate < 1000:
        raise ValueError(f"sample_rate must be a whole number of Hz >= 1000; got "
                         f"{sample_rate!r}")
    if isinstance(max_events, bool) or not isinstance(max_events, int) or max_events < 0:
        raise ValueError(f"max_events must be an integer >= 0; got {max_events!r}")
    if not _finite(half_width_s) or not 0.002 <= float(half_width_s) <= 1.0:
        raise ValueError(f"half_width_s must be 0.002 to 1 s; got {half_width_s!r}")
    if not isinstance(events, Sequence) or isinstance(events, str | bytes):
        raise ValueError(f"events must be a list of event dicts; got {type(events).__name__}")
    if not callable(read):
        raise ValueError("read must be a callable (start_s, end_s) -> samples")
    sample_rate, hw = int(sample_rate), float(half_width_s)
    spans = sorted((float(e["start_s"]),
                    float(e["end_s"]) if _finite(e.get("end_s")) else float(e["start_s"]),
                    str(e.get("kind")), j) for j, e in enumerate(events)
                   if isinstance(e, Mapping) and _finite(e.get("start_s")))
    starts = np.array([s[0] for s in spans])
    out = []
    for i in _choose(events, max_events, hw):
        e = events[i]
        start = float(e["start_s"])
        end = max(start, float(e["end_s"])) if _finite(e.get("end_s")) else start
        middle = 0.5 * (start + end)
        view = (middle - hw, middle + hw)
        # whole samples from the first one in view (not before 0), and half an FFT
        # window more either side, so that the spectrogram's edge columns see real audio
        pad = _fft_size(sample_rate, STRIP_WINDOW_S) // 2
        first = max(0, math.ceil(view[0] * sample_rate - 1e-9))
        a = max(0, first - pad)
        stop = int(math.floor(view[1] * sample_rate + 1e-9))
        channel = e.get("channel")
        channel = channel if isinstance(channel, int) and not isinstance(channel, bool) \
            else None
        b = (stop + pad + 1) / sample_rate
        raw = _mono(read(a / sample_rate, b), channel,
                    what=f"read({a / sample_rate:.4f}, {b:.4f})")
        raw = np.where(np.isfinite(raw), raw, 0.0).astype(np.float32)
        i0, i1 = first - a, min(len(raw), stop + 1 - a)
        if i1 <= i0:
            continue
        db, freqs, hop = strip_spectrogram(raw[:i1 + pad], sample_rate, first=i0, last=i1)
        x = raw[i0:i1].copy()
        x_start = first / sample_rate
        lo, hi = np.searchsorted(starts, view[0] - 1.0), np.searchsorted(starts, view[1])
        others = tuple(s[:3] for s in spans[lo:hi]
                       if s[3] != i and s[1] >= view[0] and s[0] < view[1])
        peak = float(e["peak_db"]) if _finite(e.get("peak_db")) else None
        out.append(EventStrip(start, end, str(e.get("kind")), peak, channel, view[0], view[1],
                              x, x_start, sample_rate, db, freqs, x_start, hop, others))
    return out
