"""The disc map's geometry: where on the side each event lies (numpy only, no Qt).

The monitor's disc map (:mod:`vinylmon.gui.discmap`) and the HTML report's
(:mod:`vinylmon.reports.html`) draw the side as seen from above, in millimetres
from the spindle, with the same numbers from here.

Angle: where in the revolution an event falls
    ``(t - phase_s) / period_s`` revolutions, 0 at the top (12 o'clock). The disc
    turns clockwise under the stylus (IEC 60098 §5.4), so the stylus runs
    counterclockwise through the map. The period is ``60 / rpm`` (the speed given,
    or the one estimated from the scratches; 33 1/3 when there is none, and the
    note says so), refined by the repeating scratches when there are some: the
    ticks of every train are numbered by revolution and one period is fitted to
    them all by least squares (each train with its own phase), so a turntable
    running 1 % fast, which moves the nominal angle by 3.6° a revolution, still
    puts a scratch's ticks on one radial line. The phase is that of the train
    with the most ticks: it points straight up. Far from the scratches the angle
    is only as good as the period fitted (its error adds up revolution by
    revolution), and wow moves it by its own few tenths of a per cent.

Radius: how far the stylus has travelled inward
    Time 0 is the outer edge of the recorded area (the first music groove after the
    lead-in), whose radius is fixed by the record's size (:data:`DISC_SIZES`). The
    stylus moves inward at a constant pitch per revolution, so the radius falls
    linearly with revolutions (with time, at a steady speed):

    - when the side's length ``side_s`` is known (a whole file, a session that
      reached the run-out), from the lead-in radius at 0 to the run-out radius at
      ``side_s``;
    - otherwise at a standard pitch (:data:`STANDARD_PITCH_MM`) per revolution,
      stopping at the run-out radius.

Dimensions (radii, mm) of the recorded area, from the standards:

- outer edge of the recorded surface, IEC 60098:1987 §8.5: diameters 292.6 mm
  (12", type 30xx), 241.8 mm (10", 25xx), 168.3 mm (7", 17xx): radii 146.3,
  120.9 and 84.15 mm (IEC 98:1958 and RIAA: 11.5" on a 12", 146.05 mm);
- inner edge of the recorded area (its minimum): IEC 98:1958, 4.75" diameter
  (radius 60.3 mm) on 12" and 10" records (JIS S 8502-1973: > 115.2 mm diameter);
  JIS S 8502-1973, > 106 mm diameter on a 17-cm (7") record: radius 53.0 mm;
- finishing (locked) groove, JIS S 8502-1973: 106.4 mm diameter (30, 25 cm),
  97 mm (17 cm); label area under 102 mm and 93 mm diameter;
- the disc itself: 301.6 mm (11 7/8", RIAA), 250.8 mm (9 7/8") and 174.6 mm (6 7/8").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vinylmon.grading.events import DefectEvent, ScratchTrack
from vinylmon.grading.rubric import PERIOD_TOLERANCE


@dataclass(frozen=True, slots=True)
class DiscSize:
    """The radii (mm, from the spindle) of one size of record."""

    size_in: int
    edge_mm: float  # the disc's rim
    outer_mm: float  # outer edge of the recorded area: the first music groove (lead-in end)
    inner_mm: float  # inner edge of the recorded area: the run-out starts here
    finish_mm: float  # the finishing (locked) groove
    label_mm: float  # the label's radius


#: Record sizes (inches) -> their radii (see the module's notes for the standards).
DISC_SIZES = {
    12: DiscSize(12, 150.8, 146.3, 60.3, 53.2, 51.0),
    10: DiscSize(10, 125.4, 120.9, 60.3, 53.2, 51.0),
    7: DiscSize(7, 87.3, 84.15, 53.0, 48.5, 46.5),
}
DEFAULT_SIZE_IN = 12
#: The speed assumed when none is given or found (an LP).
DEFAULT_RPM = 100.0 / 3.0

#: Groove pitch (mm per revolution) when the side's length is unknown. Microgroove
#: (33 1/3 and 45 rpm): 0.10 mm (about 250 grooves per inch) on 12" and 10" records,
#: where a 20-25 min LP side spreads 86 mm over 667-833 revolutions (0.10-0.13 mm);
#: 0.15 mm on a 7" single (a 4-min side at 45 rpm over the 31 mm of its recorded
#: area: 0.17 mm). Coarse groove (78 rpm shellac): 0.26 mm (about 96-100 grooves per
#: inch).
STANDARD_PITCH_MM = {12: 0.10, 10: 0.10, 7: 0.15}
COARSE_PITCH_MM = 0.26
#: A fitted period is kept only within this fraction of the nominal one.
MAX_SPEED_ERROR = 2 * PERIOD_TOLERANCE
#: Mark diameters (px) for levels from LEVEL_RANGE_DB's low end to its high end; the
#: size grows with the square of the level's place in the range, so the many faint
#: crackle ticks stay small and loud clicks stand out.
LEVEL_RANGE_DB = (-40.0, 10.0)
MARK_SIZE_PX = (2.0, 11.0)


def rpm_text(rpm: float) -> str:
    """``33⅓``, ``45``, ``78`` or the speed to one decimal."""
    if abs(rpm - 100.0 / 3.0) < 0.05:
        return "33⅓"
    return f"{rpm:.0f}" if abs(rpm - round(rpm)) < 0.05 else f"{rpm:.1f}"


def disc_size(size_in: int) -> DiscSize:
    """The radii of a ``size_in``-inch record (12, 10 or 7).

    Raises
    ------
    ValueError
        For another size.
    """
    try:
        return DISC_SIZES[int(size_in)]
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"size_in must be one of {tuple(DISC_SIZES)}, got {size_in!r}") from None


def standard_pitch_mm(size_in: int, rpm: float) -> float:
    """:data:`STANDARD_PITCH_MM` of a ``size_in`` record, or :data:`COARSE_PITCH_MM` at 78."""
    return COARSE_PITCH_MM if rpm >= 70.0 else STANDARD_PITCH_MM[disc_size(size_in).size_in]


# --------------------------------------------------------------------------- angle


@dataclass(frozen=True, slots=True)
class Rotation:
    """The side's revolution: ``period_s`` long, angle 0 at ``phase_s`` (and every period on).

    ``rpm`` is the nominal speed; ``assumed`` is True when it is :data:`DEFAULT_RPM`
    for want of one. ``anchor_id`` is the scratch whose phase sets angle 0 (None:
    none, the angle is 0 at time 0), ``fitted_ticks`` the number of scratch ticks
    the period was fitted to (0: the nominal period).
    """

    period_s: float
    phase_s: float
    rpm: float
    assumed: bool = False
    anchor_id: int | None = None
    fitted_ticks: int = 0

    @property
    def speed_error(self) -> float:
        """The turntable's speed error the fit found (+0.01: 1 % fast)."""
        return 60.0 / self.rpm / self.period_s - 1.0

    def note(self) -> str:
        """What the angle is measured with, in plain words."""
        speed = f"{rpm_text(self.rpm)} rpm"
        if self.assumed:
            text = f"{speed} assumed (no speed was given or found)"
        else:
            text = speed
        text += f"; one revolution {self.period_s:.4f} s"
        if self.fitted_ticks:
            text += (f", fitted to {self.fitted_ticks} scratch ticks (speed "
                     f"{100 * self.speed_error:+.2f} %); scratch #{self.anchor_id} points up")
        return text


def scratch_ticks(track: ScratchTrack, events: Sequence[DefectEvent]) -> np.ndarray:
    """The start times (s, sorted) of ``track``'s ticks: its member events, or when
    none is given, ``count`` ticks one ``period_s`` apart from ``first_s``."""
    ticks = np.array(sorted(e.start_s for e in events if e.scratch_id == track.id), float)
    ticks = ticks[np.isfinite(ticks)]
    if ticks.size == 0 and math.isfinite(track.first_s) and math.isfinite(track.period_s):
        ticks = track.first_s + track.period_s * np.arange(max(int(track.count), 1))
    return ticks


def _revolutions(ticks: np.ndarray, period_s: float) -> np.ndarray:
    """Each tick's revolution number from the first (a step of about k periods counts k,
    so undetected ticks do not shift the ones after them)."""
    steps = np.maximum(1, np.round(np.diff(ticks) / period_s))
    return np.concatenate([[0.0], np.cumsum(steps)])


def rotation(*, rpm: float | None, scratches: Sequence[ScratchTrack] = (),
             events: Sequence[DefectEvent] = ()) -> Rotation:
    """The revolution of a side at ``rpm``, refined by its repeating scratches.

    Parameters
    ----------
    rpm : float or None, keyword-only
        The speed given or estimated; None: the scratches' speed, else
        :data:`DEFAULT_RPM` (``assumed``).
    scratches : sequence of ScratchTrack, keyword-only
    events : sequence of DefectEvent, keyword-only
        The side's events; a scratch's ticks are those with its ``scratch_id``.

    Returns
    -------
    Rotation
        The period fitted by least squares to the ticks of every train of 3 or more
        (one slope, an intercept per train: ``t = a_j + P * n``, ``n`` the tick's
        revolution number), when it lies within :data:`MAX_SPEED_ERROR` of the
        nominal; the phase of the train with the most ticks.
    """
    assumed = False
    try:
        rpm = None if rpm is None else float(rpm)
    except (TypeError, ValueError):
        rpm = None
    if rpm is None or not (math.isfinite(rpm) and rpm > 0):
        speeds = [t.rpm for t in scratches if math.isfinite(t.rpm) and t.rpm > 0]
        if speeds:
            rpm = max(set(speeds), key=speeds.count)
        else:
            rpm, assumed = DEFAULT_RPM, True
    rpm = float(rpm)
    nominal = 60.0 / rpm
    trains = []
    for track in scratches:
        ticks = scratch_ticks(track, events)
        if ticks.size >= 3:
            p0 = track.period_s if abs(track.period_s / nominal - 1) <= PERIOD_TOLERANCE \
                else nominal
            trains.append((track, ticks, _revolutions(ticks, p0)))
    if not trains:
        return Rotation(nominal, 0.0, rpm, assumed)
    sxy = sxx = 0.0
    for _, t, n in trains:
        dn = n - n.mean()
        sxy += float(np.dot(dn, t - t.mean()))
        sxx += float(np.dot(dn, dn))
    period = sxy / sxx if sxx > 0 else nominal
    if not (math.isfinite(period) and abs(period / nominal - 1) <= MAX_SPEED_ERROR):
        return Rotation(nominal, 0.0, rpm, assumed)
    track, t, n = max(trains, key=lambda tr: (tr[1].size, -tr[1][0]))
    phase = float(np.mean(t - period * n))
    return Rotation(period, phase, rpm, assumed, track.id, sum(tr[1].size for tr in trains))


def angle_deg(times: np.ndarray | Sequence[float], rot: Rotation) -> np.ndarray:
    """Where in the revolution each time falls: degrees in [0, 360), 0 at the top,
    counterclockwise (the way the stylus runs through the clockwise-turning disc)."""
    t = np.asarray(times, float)
    return np.mod((t - rot.phase_s) / rot.period_s, 1.0) * 360.0


# --------------------------------------------------------------------------- radius


def radius_mm(times: np.ndarray | Sequence[float], *, period_s: float,
              size_in: int = DEFAULT_SIZE_IN, side_s: float | None = None,
              pitch_mm: float | None = None) -> np.ndarray:
    """How far in the stylus is at each time: the radius (mm) of its groove.

    Parameters
    ----------
    times : array_like
        Seconds from the start of the side (the end of the lead-in).
    period_s : float, keyword-only
        One revolution (s).
    size_in : {12, 10, 7}, keyword-only
    side_s : float or None, keyword-only
        The side's length when known: the radius falls linearly from the lead-in
        (``outer_mm``) at 0 to the run-out (``inner_mm``) at ``side_s``.
    pitch_mm : float or None, keyword-only
        Without ``side_s``: mm per revolution (default :data:`STANDARD_PITCH_MM`
        of the size); the radius stops at the run-out.

    Returns
    -------
    np.ndarray
        Radii in ``[inner_mm, outer_mm]``, non-increasing in time.
    """
    size = disc_size(size_in)
    t = np.clip(np.nan_to_num(np.asarray(times, float), nan=0.0), 0.0, None)
    span = size.outer_mm - size.inner_mm
    if side_s is not None and math.isfinite(side_s) and side_s > 0:
        frac = np.clip(t / side_s, 0.0, 1.0)
        return size.outer_mm - span * frac
    if not (math.isfinite(period_s) and period_s > 0):
        raise ValueError(f"period_s must be a finite number > 0, got {period_s}")
    pitch = STANDARD_PITCH_MM[size.size_in] if pitch_mm is None else float(pitch_mm)
    return np.maximum(size.outer_mm - pitch * t / period_s, size.inner_mm)


def mark_size(peak_db: np.ndarray | Sequence[float], *, smallest: float = MARK_SIZE_PX[0],
              largest: float = MARK_SIZE_PX[1]) -> np.ndarray:
    """Mark diameters for levels (dB re L): ``smallest`` at :data:`LEVEL_RANGE_DB`'s low
    end (and below, and for NaN), ``largest`` at its top (and above), growing with the
    square of the level's place between them."""
    lo, hi = LEVEL_RANGE_DB
    p = np.nan_to_num(np.asarray(peak_db, float), nan=lo, posinf=hi, neginf=lo)
    return smallest + (largest - smallest) * np.clip((p - lo) / (hi - lo), 0.0, 1.0) ** 2


# --------------------------------------------------------------------------- the map


@dataclass(frozen=True, slots=True)
class ScratchLine:
    """A repeating scratch on the map: a radial line at ``angle_deg`` from the radius of
    its first tick (``r_first_mm``, outer) to its last (``r_last_mm``)."""

    id: int
    angle_deg: float
    r_first_mm: float
    r_last_mm: float
    count: int
    period_s: float
    first_s: float
    last_s: float
    peak_db: float


@dataclass(frozen=True)
class DiscMap:
    """Every event's place on the side (arrays in the order of the events given)."""

    size: DiscSize
    rotation: Rotation
    #: The side's length the radius spreads over (None: standard pitch, ``pitch_mm``).
    side_s: float | None
    #: mm per revolution (the standard pitch, or what spreads the side to the run-out).
    pitch_mm: float
    times: np.ndarray
    angle_deg: np.ndarray
    radius_mm: np.ndarray
    peak_db: np.ndarray
    kinds: np.ndarray  # object array of kind names
    lines: tuple[ScratchLine, ...]

    @property
    def x_mm(self) -> np.ndarray:
        """Right of the spindle (mm)."""
        return -self.radius_mm * np.sin(np.radians(self.angle_deg))

    @property
    def y_mm(self) -> np.ndarray:
        """Above the spindle (mm; y grows upwards)."""
        return self.radius_mm * np.cos(np.radians(self.angle_deg))

    def radius_note(self) -> str:
        """How the radius was placed, in plain words."""
        s = self.size
        if self.side_s is not None:
            minutes, secs = divmod(int(round(self.side_s)), 60)
            return (f'{s.size_in}" side of {minutes}:{secs:02d} spread from the lead-in '
                    f"({s.outer_mm:g} mm) to the run-out ({s.inner_mm:g} mm), "
                    f"{self.pitch_mm:.3f} mm per revolution")
        return (f'{s.size_in}" record; side length unknown: a standard pitch of '
                f"{self.pitch_mm:.2f} mm per revolution inward from the lead-in "
                f"({s.outer_mm:g} mm)")


def whole_side(silent: Sequence[bool]) -> bool:
    """Whether a recording's windows (silent or not, in order) look like a whole side:
    silence before the music and after it (the lead-in and the run-out grooves, quiet
    under the gate), with music between. Then the side's length is known and the disc
    map spreads it from the lead-in to the run-out."""
    flags = [bool(x) for x in silent]
    return len(flags) >= 3 and flags[0] and flags[-1] and not all(flags)


def time_at(m: DiscMap, x_mm: float, y_mm: float, *, duration_s: float) -> float | None:
    """The time in ``[0, duration_s]`` whose place on the disc (as ``m`` lays the side
    out) is nearest to ``(x_mm, y_mm)``: where "play from here" on the disc starts.
    None when nothing has been heard."""
    if not (math.isfinite(duration_s) and duration_s > 0):
        return None
    step = m.rotation.period_s / 720.0  # half a degree of the turn
    t = np.arange(0.0, duration_s + step, step)
    t[-1] = min(t[-1], duration_s)
    r = radius_mm(t, period_s=m.rotation.period_s, size_in=m.size.size_in, side_s=m.side_s,
                  pitch_mm=m.pitch_mm)
    x, y = xy_mm(angle_deg(t, m.rotation), r)
    return float(t[int(np.argmin((x - x_mm) ** 2 + (y - y_mm) ** 2))])


def xy_mm(angle: float | np.ndarray, radius: float | np.ndarray) -> tuple:
    """``(x, y)`` in mm (y up) of a point at ``angle`` degrees (0 up, counterclockwise)."""
    a = np.radians(angle)
    return -radius * np.sin(a), radius * np.cos(a)


def disc_map(events: Sequence[DefectEvent], scratches: Sequence[ScratchTrack] = (), *,
             rpm: float | None = None, size_in: int = DEFAULT_SIZE_IN,
             side_s: float | None = None) -> DiscMap:
    """Place a side's events and scratches on the disc.

    Parameters
    ----------
    events : sequence of DefectEvent
    scratches : sequence of ScratchTrack
    rpm : float or None, keyword-only
        The speed given or estimated (None: see :func:`rotation`).
    size_in : {12, 10, 7}, keyword-only
    side_s : float or None, keyword-only
        The side's length, when known (see :func:`radius_mm`).

    Returns
    -------
    DiscMap
    """
    size = disc_size(size_in)
    rot = rotation(rpm=rpm, scratches=scratches, events=events)
    if side_s is not None and not (math.isfinite(side_s) and side_s > 0):
        side_s = None
    if side_s is not None:
        pitch = (size.outer_mm - size.inner_mm) * rot.period_s / side_s
    else:
        pitch = standard_pitch_mm(size.size_in, rot.rpm)
    n = len(events)
    times = np.fromiter((e.start_s for e in events), float, n)
    peaks = np.fromiter((e.peak_db for e in events), float, n)
    kinds = np.array([e.kind for e in events], dtype=object)

    def radius(t):
        return radius_mm(t, period_s=rot.period_s, size_in=size.size_in, side_s=side_s,
                         pitch_mm=pitch)

    lines = []
    for track in scratches:
        ticks = scratch_ticks(track, events)
        if ticks.size == 0:
            continue
        a = np.radians(angle_deg(ticks, rot))
        mean = math.degrees(math.atan2(float(np.mean(np.sin(a))), float(np.mean(np.cos(a)))))
        r = radius(np.array([ticks[0], ticks[-1]]))
        lines.append(ScratchLine(track.id, mean % 360.0, float(r[0]), float(r[1]),
                                 int(track.count), float(track.period_s), float(ticks[0]),
                                 float(ticks[-1]), float(track.peak_db)))
    return DiscMap(size, rot, side_s, float(pitch), times, angle_deg(times, rot), radius(times),
                   peaks, kinds, tuple(lines))


def angle_spread_deg(angles: np.ndarray | Sequence[float]) -> float:
    """The smallest arc (degrees) holding all ``angles`` (degrees)."""
    a = np.sort(np.mod(np.asarray(angles, float), 360.0))
    if a.size < 2:
        return 0.0
    gaps = np.diff(np.concatenate([a, [a[0] + 360.0]]))
    return float(360.0 - gaps.max())
