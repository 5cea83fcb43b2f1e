"""User settings: what they are, where they are kept, and the dialog that edits them.

:class:`Settings` is an immutable, validated record of everything the user can
choose (input device, sample rate, analysis window and hop, silence threshold,
record speed, model profile, compute device, how much spectrogram to show).
:func:`load_settings` and :func:`save_settings` keep it in a :class:`QSettings`
group that carries a version number; :class:`SettingsDialog` edits it.

Loading never fails: a missing key takes its default, a stored value that is
unreadable or out of range (a hand-edited or garbled file) takes its default and
is logged, and settings written by a newer version are ignored as a whole (all
defaults, with a warning) rather than half understood.

Like the rest of :mod:`vinylmon.gui`, this module imports neither torch nor
sounddevice: device names and model profiles are handed in by the caller.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PySide6.QtCore import QSettings
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from vinylmon.grading.names import LISTEN_STREAMS
from vinylmon.grading.rubric import RPMS
from vinylmon.gui import style

log = logging.getLogger(__name__)

#: Version of the stored layout; bump it when a key changes meaning.
SETTINGS_VERSION = 1
#: QSettings group holding the settings.
GROUP = "settings"
VERSION_KEY = "settings_version"

#: Sample rates offered besides the device's default (None).
SAMPLE_RATES = (44100, 48000, 96000)
#: Compute devices for the models.
COMPUTE_DEVICES = ("auto", "cpu", "cuda")
#: Mirrors ``vinylmon.audio.gate.DEFAULT_THRESHOLD_DB`` (the silence gate's RMS
#: threshold). Copied rather than imported: importing :mod:`vinylmon.audio` loads
#: soundfile and soxr, which the GUI's settings have no use for. A test checks
#: that the two agree.
DEFAULT_SILENCE_THRESHOLD_DB = -72.0

WINDOW_RANGE_S = (1.0, 60.0)
MIN_HOP_S = 0.1
SILENCE_RANGE_DB = (-120.0, 0.0)
VISIBLE_RANGE_S = (2.0, 600.0)
#: A stored rpm this close to one of :data:`vinylmon.grading.rubric.RPMS` is that speed.
RPM_TOLERANCE = 0.01

_RPM_LABELS = {RPMS[0]: "33 1/3", RPMS[1]: "45", RPMS[2]: "78"}


def refresh_controls(on_refresh) -> tuple[QPushButton, QLabel]:
    """The Refresh button (calling ``on_refresh``) and the notice that says why no input
    is listed, as the General and Microphone pages both show them."""
    button = QPushButton("Refresh")
    button.setToolTip("Look for microphones and line-ins again, e.g. after plugging one in.")
    button.clicked.connect(on_refresh)
    notice = QLabel()
    notice.setWordWrap(True)
    set_text_color(notice, style.METER_YELLOW)
    return button, notice


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_range(name: str, value: object, lo: float, hi: float) -> float:
    if not _is_number(value) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be between {lo:g} and {hi:g}, got {value:g}")
    return float(value)


def _snap_rpm(value: object) -> float | None:
    if value is None:
        return None
    if _is_number(value):
        for rpm in RPMS:
            if abs(value - rpm) <= RPM_TOLERANCE:
                return rpm
    raise ValueError(f"rpm must be None (auto) or one of 33 1/3, 45, 78, got {value!r}")


@dataclass(frozen=True)
class Settings:
    """Everything the user can choose; validated on construction.

    Parameters
    ----------
    input_device : str or None
        Name of the input device; None for the system default.
    sample_rate : int or None
        Capture rate, one of :data:`SAMPLE_RATES`; None for the device's default.
        (Analysis always runs at 44.1 kHz; other rates are converted.)
    window_s : float
        Analysis window, seconds, within :data:`WINDOW_RANGE_S`.
    hop_s : float
        Time between window starts, seconds, ``MIN_HOP_S <= hop_s <= window_s``.
        The engine currently analyses back-to-back windows and uses
        ``hop_s == window_s``; a shorter hop is stored but not yet honoured.
    silence_threshold_db : float
        RMS level (dBFS) below which a window counts as silent.
    rpm : float or None
        Record speed, one of :data:`vinylmon.grading.rubric.RPMS`; None to estimate it
        from the scratches heard. A value within :data:`RPM_TOLERANCE` of a speed
        is snapped to it (so ``33.33`` means 100/3).
    model_profile : str
        ``"base"`` or the name of a fine-tuned profile.
    compute_device : str
        One of :data:`COMPUTE_DEVICES`.
    spectrogram_visible_s : float
        Seconds of spectrogram on screen, within :data:`VISIBLE_RANGE_S`.
    output_device : str
        Where sound is played: ``"default"`` (the system's output), ``"none"``
        (silent) or an output device's name.
    listen : str
        What is played, one of :data:`LISTEN_STREAMS`: the sound as recorded, with
        its clicks repaired, or the clicks alone.
    passthrough : bool
        Play the live input too (headphones: a microphone beside speakers would
        hear itself); files and the demo always play.
    disc_size_in : int
        The record's size on the disc map: 12, 10 or 7 (inches).

    Raises
    ------
    ValueError
        A field of the wrong type or out of range, or ``hop_s > window_s``.
    """

    input_device: str | None = None
    sample_rate: int | None = None
    window_s: float = 5.0
    hop_s: float = 5.0
    silence_threshold_db: float = DEFAULT_SILENCE_THRESHOLD_DB
    rpm: float | None = None
    model_profile: str = "base"
    compute_device: str = "auto"
    spectrogram_visible_s: float = 20.0
    output_device: str = "default"
    listen: str = "original"
    passthrough: bool = False
    disc_size_in: int = 12

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = _CHECKS[f.name](getattr(self, f.name))
            object.__setattr__(self, f.name, value)
        if self.hop_s > self.window_s:
            raise ValueError(f"hop ({self.hop_s:g} s) must not be longer than the window "
                             f"({self.window_s:g} s)")


def _check_device(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"input_device must be a device name or None, got {value!r}")
    return value


#: The Listen menu's words for :data:`~vinylmon.grading.names.LISTEN_STREAMS`.
LISTEN_LABELS = {"original": "&Original (as recorded)", "cleaned": "&Cleaned (clicks repaired)",
                 "removed": "&Removed clicks only"}


def _check_output(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"output_device must be 'default', 'none' or a device name, got "
                         f"{value!r}")
    return value


def _check_listen(value: object) -> str:
    if value not in LISTEN_STREAMS:
        raise ValueError(f"listen must be one of {LISTEN_STREAMS}, got {value!r}")
    return str(value)


def _check_bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"passthrough must be true or false, got {value!r}")
    return value


def _check_disc(value: object) -> int:
    if isinstance(value, bool) or value not in (12, 10, 7):
        raise ValueError(f"disc_size_in must be 12, 10 or 7, got {value!r}")
    return int(value)


def _check_rate(value: object) -> int | None:
    if value is None:
        return None
    if not _is_number(value) or value not in SAMPLE_RATES:
        raise ValueError(f"sample_rate must be None or one of {SAMPLE_RATES}, got {value!r}")
    return int(value)


def _check_hop(value: object) -> float:
    return _check_range("hop_s", value, MIN_HOP_S, WINDOW_RANGE_S[1])


def _check_profile(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"model_profile must be a non-empty name, got {value!r}")
    return value


def _check_compute(value: object) -> str:
    if value not in COMPUTE_DEVICES:
        raise ValueError(f"compute_device must be one of {COMPUTE_DEVICES}, got {value!r}")
    return str(value)


#: One check per field: returns the normalised value or raises ValueError.
_CHECKS = {
    "input_device": _check_device,
    "sample_rate": _check_rate,
    "window_s": lambda v: _check_range("window_s", v, *WINDOW_RANGE_S),
    "hop_s": _check_hop,
    "silence_threshold_db": lambda v: _check_range("silence_threshold_db", v,
                                                   *SILENCE_RANGE_DB),
    "rpm": _snap_rpm,
    "model_profile": _check_profile,
    "compute_device": _check_compute,
    "spectrogram_visible_s": lambda v: _check_range("spectrogram_visible_s", v,
                                                    *VISIBLE_RANGE_S),
    "output_device": _check_output,
    "listen": _check_listen,
    "passthrough": _check_bool,
    "disc_size_in": _check_disc,
}


# ---------------------------------------------------------------- storage
def _to_int(value: object) -> int:
    if isinstance(value, bool):
        raise ValueError("a truth value is not a number")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        return int(value.strip())
    raise ValueError(f"not an integer: {value!r}")


def _to_float(value: object) -> float:
    if isinstance(value, bool):
        raise ValueError("a truth value is not a number")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        return float(value.strip())
    raise ValueError(f"not a number: {value!r}")


def _to_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValueError(f"not true or false: {value!r}")


def _to_str(value: object) -> str:
    if not isinstance(value, str):  # e.g. an unquoted "a, b" in an INI file reads as a list
        raise ValueError(f"not a string: {value!r}")
    return value


#: How each field's stored value is read back (INI files give strings).
_DECODE = {
    "input_device": _to_str, "sample_rate": _to_int, "window_s": _to_float,
    "hop_s": _to_float, "silence_threshold_db": _to_float, "rpm": _to_float,
    "model_profile": _to_str, "compute_device": _to_str,
    "spectrogram_visible_s": _to_float, "output_device": _to_str, "listen": _to_str,
    "passthrough": _to_bool, "disc_size_in": _to_int,
}


def _default_qsettings() -> QSettings:
    return QSettings("vinylmon", "vinylmon")


def load_settings(qsettings: QSettings | None = None) -> Settings:
    """Read the settings; never raises.

    Parameters
    ----------
    qsettings : QSettings or None
        Where they are kept; default ``QSettings("vinylmon", "vinylmon")``.

    Returns
    -------
    Settings
        Stored values where they are valid, defaults elsewhere. A missing key
        takes its default silently; an invalid value (wrong type, out of range)
        takes its default with a logged warning. A hop longer than the window
        falls back to the default hop, or to the window when that is longer still.
        Settings stored by an unknown (newer) version are all ignored, with a
        warning.
    """
    qs = qsettings if qsettings is not None else _default_qsettings()
    defaults = Settings()
    if qs.status() != QSettings.Status.NoError:
        log.warning("settings file %s could not be read cleanly (%s); "
                    "unreadable entries take their defaults", qs.fileName(), qs.status().name)
    qs.beginGroup(GROUP)
    try:
        keys = set(qs.childKeys())
        if not keys:
            return defaults
        if VERSION_KEY in keys:
            try:
                version = _to_int(qs.value(VERSION_KEY))
            except ValueError:
                version = None
            if version != SETTINGS_VERSION:
                log.warning("settings in %s have version %r; this vinylmon knows version %d: "
                            "using the defaults", qs.fileName(), qs.value(VERSION_KEY),
                            SETTINGS_VERSION)
                return defaults
        values = {}
        for f in dataclasses.fields(Settings):
            if f.name not in keys:
                continue
            raw = qs.value(f.name)
            if raw is None:
                values[f.name] = None  # written as an invalid QVariant: the "none" choice
                try:
                    _CHECKS[f.name](None)
                except ValueError:
                    log.warning("setting %s is empty; using the default %r", f.name,
                                getattr(defaults, f.name))
                    del values[f.name]
                continue
            try:
                values[f.name] = _CHECKS[f.name](_DECODE[f.name](raw))
            except (ValueError, TypeError, OverflowError) as exc:
                log.warning("setting %s = %r is invalid (%s); using the default %r",
                            f.name, raw, exc, getattr(defaults, f.name))
    finally:
        qs.endGroup()
    window = values.get("window_s", defaults.window_s)
    hop = values.get("hop_s", defaults.hop_s)
    if hop > window:
        fallback = min(defaults.hop_s, window)
        log.warning("hop %g s is longer than the window %g s; using %g s",
                    hop, window, fallback)
        values["hop_s"] = fallback
    return dataclasses.replace(defaults, **values)


def save_settings(settings: Settings, qsettings: QSettings | None = None) -> bool:
    """Store ``settings`` (replacing what the group held) with the current version.

    Parameters
    ----------
    settings : Settings
    qsettings : QSettings or None
        Default ``QSettings("vinylmon", "vinylmon")``.

    Returns
    -------
    bool
        True when written; False (and logged) when the store cannot be written,
        e.g. a read-only settings file.
    """
    qs = qsettings if qsettings is not None else _default_qsettings()
    qs.beginGroup(GROUP)
    try:
        qs.remove("")  # the whole group: keys of other versions do not linger
        qs.setValue(VERSION_KEY, SETTINGS_VERSION)
        for f in dataclasses.fields(settings):
            value = getattr(settings, f.name)
            if value is not None:  # None (default device, auto rpm...) = key absent
                qs.setValue(f.name, value)
    finally:
        qs.endGroup()
    qs.sync()
    if qs.status() != QSettings.Status.NoError:
        log.error("could not save settings to %s (%s)", qs.fileName(), qs.status().name)
        return False
    return True


# ---------------------------------------------------------------- dialog
def apply_dialog_theme(widget: QWidget) -> None:
    """The monitor's dark theme on a dialog and every kind of control in it.

    :func:`vinylmon.gui.style.apply_dark` first; then the roles a dialog's controls
    need and that it leaves unset (highlight, placeholder, disabled text...) from the
    same colours. Buttons, drop-down lists and headers take :data:`~vinylmon.gui.style.GRID`
    and the bevels the theme's greys, so that a control stands out from the panel
    behind it. A dialog is a window of its own: it does not inherit the main window's
    palette.
    """
    style.apply_dark(widget)
    pal = widget.palette()
    active = QPalette.ColorGroup.Active
    disabled = QPalette.ColorGroup.Disabled
    always = {
        QPalette.ColorRole.Button: style.GRID,
        QPalette.ColorRole.Light: style.MUTED,
        QPalette.ColorRole.Midlight: style.GRID,
        QPalette.ColorRole.Mid: style.GRID,
        QPalette.ColorRole.Dark: style.BACKGROUND,
        QPalette.ColorRole.Shadow: style.BACKGROUND,
    }
    unless_set = {
        QPalette.ColorRole.ButtonText: style.FOREGROUND,
        QPalette.ColorRole.AlternateBase: style.PANEL,
        QPalette.ColorRole.BrightText: style.FOREGROUND,
        QPalette.ColorRole.PlaceholderText: style.MUTED,
        QPalette.ColorRole.Highlight: style.DEFAULT_COLOR,
        QPalette.ColorRole.HighlightedText: style.text_color_on(style.DEFAULT_COLOR),
        QPalette.ColorRole.Link: style.DEFAULT_COLOR,
        QPalette.ColorRole.LinkVisited: style.DEFAULT_COLOR,
    }
    for role, value in always.items():
        pal.setColor(role, QColor(value))
    for role, value in unless_set.items():
        if not pal.isBrushSet(active, role):
            pal.setColor(role, QColor(value))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text,
                 QPalette.ColorRole.ButtonText):
        if pal.color(disabled, role) == pal.color(active, role) or not pal.isBrushSet(
                disabled, role):
            pal.setColor(disabled, role, QColor(style.MUTED))
    pal.setColor(disabled, QPalette.ColorRole.Button, QColor(style.PANEL))
    pal.setColor(disabled, QPalette.ColorRole.Base, QColor(style.PANEL))
    widget.setPalette(pal)


def set_text_color(label: QWidget, hex_color: str) -> None:
    """Colour ``label``'s text through its palette (a style sheet would drop the theme's font)."""
    pal = label.palette()
    pal.setColor(QPalette.ColorRole.WindowText, QColor(hex_color))
    label.setPalette(pal)


def _tab_pane_palette(tabs: QTabWidget) -> None:
    """Tabs and their frame in the panel colour (the style derives it from the button colour)."""
    pal = tabs.palette()
    pal.setColor(QPalette.ColorRole.Button, QColor(style.PANEL))
    tabs.setPalette(pal)


def no_input_message(*, can_refresh: bool = True, platform: str = sys.platform) -> str:
    """What to tell the user when no microphone or line-in is listed, and what to do.

    Parameters
    ----------
    can_refresh : bool, keyword-only
        Whether a Refresh button is at hand (else: open the settings again).
    platform : str, keyword-only
        ``sys.platform``; the advice names the system's own sound settings.
    """
    if platform.startswith("linux"):
        check = "check that PulseAudio/PipeWire is running and that vinylmon may use it"
    elif platform == "darwin":
        check = ("check that vinylmon may use the microphone: System Settings > "
                 "Privacy & Security > Microphone")
    elif platform.startswith("win"):
        check = "check that apps may use the microphone: Settings > Privacy > Microphone"
    else:
        check = "check that the system's sound service is running and that vinylmon may use it"
    then = "then press Refresh." if can_refresh else "then open the settings again."
    return f"No microphone or line-in found. Connect one (or {check}), {then}"


def _select_data(combo: QComboBox, value: object) -> bool:
    for i in range(combo.count()):
        data = combo.itemData(i)
        if data == value or (data is None and value is None):
            combo.setCurrentIndex(i)
            return True
    return False


def _spin(lo: float, hi: float, *, step: float, decimals: int, suffix: str) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(lo, hi)
    box.setSingleStep(step)
    box.setDecimals(decimals)
    box.setSuffix(suffix)
    box.setKeyboardTracking(False)
    return box


#: The base profile, as the user sees it.
BASE_PROFILE_LABEL = "Standard (base)"

#: The General page's rows: label and tooltip, in plain words. Keyed by widget name.
LABELS = {
    "device_combo": (
        "Listen to",
        "Where the sound comes from: the microphone or line-in that hears the turntable "
        "(or its phono preamp). \u201cSystem default\u201d is the input your system's sound "
        "settings name as the default."),
    "rate_combo": (
        "Recording detail (sample rate)",
        "How many times per second the input is measured. \u201cDevice default\u201d suits "
        "almost everyone: vinylmon converts all sound to 44.1 kHz to grade it, so a higher "
        "rate does not grade better."),
    "window_spin": (
        "Grade the sound in chunks of",
        "vinylmon listens to the record in chunks of this many seconds and grades each "
        "chunk. 5 s suits most records; longer chunks make the grade react more slowly."),
    "hop_spin": (
        "Start a new chunk every",
        "How often a new chunk starts; at most the chunk length (a shorter time would make "
        "chunks overlap). For now vinylmon always starts the next chunk where the last one "
        "ended, i.e. uses the chunk length."),
    "threshold_spin": (
        "Treat as silence below",
        "Chunks quieter than this level (dB below the loudest sound the input can take, "
        "dBFS) are taken as silence \u2014 the lead-in, the gaps between tracks, the "
        "run-out \u2014 and are not graded. Lower it (e.g. -80) if quiet music is skipped; "
        "raise it if the hiss between tracks gets graded."),
    "rpm_combo": (
        "Record speed (rpm)",
        "The speed the record turns at. A scratch clicks once per turn, so vinylmon uses "
        "the speed to tell a scratch from random clicks; \u201cAuto\u201d works it out from "
        "the repeating clicks it hears."),
    "profile_combo": (
        "Microphone profile",
        "Which set of listening models grades the sound. \u201cStandard\u201d comes with "
        "vinylmon; profiles made on the Microphone page are tuned to one microphone and "
        "are used automatically when it is the input."),
    "compute_combo": (
        "Run the models on",
        "The part of the computer that runs the listening models. \u201cAutomatic\u201d uses "
        "a graphics card (CUDA) when there is one, the processor otherwise."),
    "output_combo": (
        "Play sound through",
        "Where vinylmon plays sound: a file or the demo as it is graded, an event's "
        "Play button, “Play from here”, and (when you turn it on under View > "
        "Listen) the live input. “No sound” keeps it silent."),
    "visible_spin": (
        "Spectrogram shows the last",
        "How many seconds of sound the scrolling spectrogram (the picture of the sound: "
        "time left to right, pitch bottom to top) keeps. Zoom in with the mouse wheel "
        "(time) or Shift+wheel (pitch); double-click to see it all again."),
}


class SettingsDialog(QDialog):
    """Edit :class:`Settings`: OK, Cancel and Restore defaults.

    The dialog is a tab widget; its first page, "General", holds every field of
    :class:`Settings`. Other pages (e.g. a microphone page) join with
    :meth:`add_page`. A combination that :class:`Settings` refuses (a hop longer
    than the window) is shown in red, in the page's words, under the tabs; OK is
    disabled, and :meth:`accept` keeps the dialog open. The dialog wears the
    monitor's dark theme (:func:`apply_dialog_theme`); every control has a tooltip
    in plain words.

    Parameters
    ----------
    settings : Settings
        Shown when the dialog opens.
    input_devices : sequence of str, keyword-only
        Names of the input devices now present. A stored device that is absent
        is still offered (marked "not connected") so that OK does not lose it.
        When there are none, the page says why and what to do.
    profiles : sequence of str, keyword-only
        Model profiles to offer; ``"base"`` is always among them.
    cuda_available : bool, keyword-only
        Whether a CUDA device can be used; otherwise its item is disabled (and a
        stored ``cuda`` shows as ``auto``).
    list_inputs : callable or None, keyword-only
        Returns the names of the inputs now present; the Refresh button calls it.
        Without it, a page added with :meth:`add_page` that has ``refresh_inputs``
        (the microphone page) serves; without either, Refresh is hidden.
    parent : QWidget, optional, keyword-only
    """

    def __init__(self, settings: Settings, *, input_devices: Sequence[str],
                 profiles: Sequence[str] = ("base",), cuda_available: bool = False,
                 list_inputs: Callable[[], Sequence[str]] | None = None,
                 output_devices: Sequence[str] = (),
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("vinylmon settings")
        apply_dialog_theme(self)
        self._result: Settings | None = None
        self._cuda_available = bool(cuda_available)
        self._list_inputs = list_inputs
        self._input_devices: tuple[str, ...] = ()

        self.tabs = QTabWidget()
        _tab_pane_palette(self.tabs)
        self.general_page = QWidget()
        form = QFormLayout(self.general_page)
        self._general_form = form
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)

        self.device_combo = QComboBox()
        self.refresh_button, self.no_input_label = refresh_controls(self.refresh_inputs)
        device_row = QHBoxLayout()
        device_row.addWidget(self.device_combo, 1)
        device_row.addWidget(self.refresh_button)
        form.addRow(LABELS["device_combo"][0], device_row)
        form.addRow("", self.no_input_label)

        self.rate_combo = QComboBox()
        self.rate_combo.addItem("Device default", None)
        for rate in SAMPLE_RATES:
            self.rate_combo.addItem(f"{rate / 1000:g} kHz", rate)

        self.window_spin = _spin(*WINDOW_RANGE_S, step=0.5, decimals=2, suffix=" s")
        self.hop_spin = _spin(MIN_HOP_S, WINDOW_RANGE_S[1], step=0.5, decimals=2, suffix=" s")
        self.threshold_spin = _spin(*SILENCE_RANGE_DB, step=1.0, decimals=1, suffix=" dBFS")

        self.rpm_combo = QComboBox()
        self.rpm_combo.addItem("Auto", None)
        for rpm in RPMS:
            self.rpm_combo.addItem(_RPM_LABELS[rpm], rpm)

        self.profile_combo = QComboBox()
        names = list(dict.fromkeys(["base", *profiles]))
        for name in names:
            self.profile_combo.addItem(BASE_PROFILE_LABEL if name == "base" else name, name)

        self.compute_combo = QComboBox()
        for name, label in zip(COMPUTE_DEVICES, ("Automatic", "Processor (CPU)",
                                                 "Graphics card (CUDA)"), strict=True):
            self.compute_combo.addItem(label, name)
        if not self._cuda_available:
            item = self.compute_combo.model().item(COMPUTE_DEVICES.index("cuda"))
            item.setEnabled(False)
            item.setToolTip("No CUDA graphics card is available")

        self.visible_spin = _spin(*VISIBLE_RANGE_S, step=5.0, decimals=1, suffix=" s")

        self.output_combo = QComboBox()
        self.output_combo.addItem("System default", "default")
        self.output_combo.addItem("No sound", "none")
        for name in dict.fromkeys(str(n) for n in output_devices):
            if name not in ("default", "none"):
                self.output_combo.addItem(name, name)

        for attr in ("rate_combo", "window_spin", "hop_spin", "threshold_spin", "rpm_combo",
                     "profile_combo", "compute_combo", "output_combo", "visible_spin"):
            label, tip = LABELS[attr]
            widget = getattr(self, attr)
            widget.setToolTip(tip)
            form.addRow(label, widget)
            form.labelForField(widget).setToolTip(tip)
        self.device_combo.setToolTip(LABELS["device_combo"][1])
        form.labelForField(device_row).setToolTip(LABELS["device_combo"][1])

        self.add_page(self.general_page, "General")

        self.error_label = QLabel()
        # The palette's red that reads on the panel (METER_RED gives only 3.7:1 there).
        set_text_color(self.error_label, style.KIND_COLORS["scratch"])
        self.error_label.setWordWrap(True)
        self.error_label.setVisible(False)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel
                                        | QDialogButtonBox.StandardButton.RestoreDefaults)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        restore = self.buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults)
        restore.clicked.connect(self.restore_defaults)
        restore.setToolTip("Put back the settings vinylmon starts with (press OK to keep them).")
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setToolTip(
            "Keep these settings and close.")
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setToolTip(
            "Close without changing anything.")

        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)

        self.set_input_devices(input_devices)
        self.set_settings(settings)
        for box in (self.window_spin, self.hop_spin, self.threshold_spin, self.visible_spin):
            box.valueChanged.connect(self._revalidate)
        self._revalidate()

    # -- pages
    def add_page(self, widget: QWidget, title: str) -> int:
        """Add a page (tab) after the existing ones; return its index.

        A page with an ``inputsChanged(list)`` signal (the microphone page) keeps the
        input list of the General page up to date; one with ``refresh_inputs()``
        (returning the names) serves the Refresh button when the dialog was given
        no ``list_inputs``.
        """
        # The tab frame is in the panel colour; the page's own controls get the dialog's.
        widget.setPalette(widget.palette().resolve(self.palette()))
        index = self.tabs.addTab(widget, title)
        changed = getattr(widget, "inputsChanged", None)
        if changed is not None and hasattr(changed, "connect"):
            changed.connect(self.set_input_devices)
        refresh = getattr(widget, "refresh_inputs", None)
        if self._list_inputs is None and callable(refresh):
            self._list_inputs = refresh
            self._show_input_hint()
        return index

    # -- inputs
    @property
    def input_devices(self) -> tuple[str, ...]:
        """The inputs listed (besides "System default" and a stored absent one)."""
        return self._input_devices

    def set_input_devices(self, names: Sequence[str]) -> None:
        """List ``names`` as the inputs present, keeping the chosen one.

        A chosen input that is no longer present stays, marked "not connected".
        With no names, the page says why the list is empty and what to do.
        """
        chosen = self.device_combo.currentData() if self.device_combo.count() else None
        self._input_devices = tuple(dict.fromkeys(str(n) for n in names))
        self.device_combo.blockSignals(True)
        self.device_combo.clear()
        self.device_combo.addItem("System default", None)
        for name in self._input_devices:
            self.device_combo.addItem(name, name)
        self.device_combo.blockSignals(False)
        self._select_device(chosen)
        self._show_input_hint()

    def refresh_inputs(self) -> tuple[str, ...]:
        """Ask for the inputs present again (the Refresh button); return them."""
        if self._list_inputs is not None:
            self.set_input_devices(self._list_inputs())
        return self._input_devices

    def _select_device(self, name: str | None) -> None:
        if not _select_data(self.device_combo, name):
            self.device_combo.addItem(f"{name} (not connected)", name)
            self.device_combo.setCurrentIndex(self.device_combo.count() - 1)

    def _show_input_hint(self) -> None:
        can_refresh = self._list_inputs is not None
        self.refresh_button.setVisible(can_refresh)
        empty = not self._input_devices
        self.no_input_label.setText(no_input_message(can_refresh=can_refresh) if empty else "")
        self.no_input_label.setVisible(empty)
        self._general_form.setRowVisible(self.no_input_label, empty)

    # -- values
    def set_settings(self, settings: Settings) -> None:
        """Show ``settings`` in the widgets."""
        self._select_device(settings.input_device)
        _select_data(self.rate_combo, settings.sample_rate)
        self.window_spin.setValue(settings.window_s)
        self.hop_spin.setValue(settings.hop_s)
        self.threshold_spin.setValue(settings.silence_threshold_db)
        _select_data(self.rpm_combo, settings.rpm)
        if not _select_data(self.profile_combo, settings.model_profile):
            self.profile_combo.addItem(f"{settings.model_profile} (missing)",
                                       settings.model_profile)
            self.profile_combo.setCurrentIndex(self.profile_combo.count() - 1)
        device = settings.compute_device
        if device == "cuda" and not self._cuda_available:
            device = "auto"
        _select_data(self.compute_combo, device)
        self.visible_spin.setValue(settings.spectrogram_visible_s)
        if not _select_data(self.output_combo, settings.output_device):
            self.output_combo.addItem(f"{settings.output_device} (not found)",
                                      settings.output_device)
            self.output_combo.setCurrentIndex(self.output_combo.count() - 1)
        self._listen, self._passthrough = settings.listen, settings.passthrough
        self._disc_size_in = settings.disc_size_in
    def current_settings(self) -> Settings:
        """The widgets' values as :class:`Settings`.

        Raises
        ------
        ValueError
            When they do not make valid settings (hop longer than the window).
        """
        return Settings(
            input_device=self.device_combo.currentData(),
            sample_rate=self.rate_combo.currentData(),
            window_s=self.window_spin.value(),
            hop_s=self.hop_spin.value(),
            silence_threshold_db=self.threshold_spin.value(),
            rpm=self.rpm_combo.currentData(),
            model_profile=self.profile_combo.currentData(),
            compute_device=self.compute_combo.currentData(),
            spectrogram_visible_s=self.visible_spin.value(),
            output_device=self.output_combo.currentData(),
            listen=self._listen,
            passthrough=self._passthrough,
            disc_size_in=self._disc_size_in,
        )

    def result_settings(self) -> Settings:
        """The settings accepted with OK.

        Raises
        ------
        RuntimeError
            When the dialog was not accepted.
        """
        if self._result is None:
            raise RuntimeError("the settings dialog was not accepted")
        return self._result

    def restore_defaults(self) -> None:
        """Show the defaults (device and profile: system default and base)."""
        self.set_settings(Settings())

    def _revalidate(self) -> Settings | None:
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        try:
            settings = self.current_settings()
        except ValueError as exc:
            window, hop = self.window_spin.value(), self.hop_spin.value()
            if hop > window:  # in the page's words, not the field names
                message = (f"“{LABELS['hop_spin'][0]}” ({hop:g} s) cannot be longer "
                           f"than the chunks ({window:g} s): make the chunks longer or start "
                           "them more often")
            else:
                message = str(exc)
            self.error_label.setText(message[:1].upper() + message[1:] + ".")
            self.error_label.setVisible(True)
            ok.setEnabled(False)
            return None
        self.error_label.clear()
        self.error_label.setVisible(False)
        ok.setEnabled(True)
        return settings

    def accept(self) -> None:
        settings = self._revalidate()
        if settings is None:
            return  # the message is on screen; stay open
        self._result = settings
        super().accept()
