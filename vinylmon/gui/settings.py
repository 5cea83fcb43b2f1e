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
from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from vinylmon.grading.rubric import RPMS

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


def _to_str(value: object) -> str:
    if not isinstance(value, str):  # e.g. an unquoted "a, b" in an INI file reads as a list
        raise ValueError(f"not a string: {value!r}")
    return value


#: How each field's stored value is read back (INI files give strings).
_DECODE = {
    "input_device": _to_str, "sample_rate": _to_int, "window_s": _to_float,
    "hop_s": _to_float, "silence_threshold_db": _to_float, "rpm": _to_float,
    "model_profile": _to_str, "compute_device": _to_str,
    "spectrogram_visible_s": _to_float,
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


class SettingsDialog(QDialog):
    """Edit :class:`Settings`: OK, Cancel and Restore defaults.

    The dialog is a tab widget; its first page, "General", holds every field of
    :class:`Settings`. Other pages (e.g. a microphone page) join with
    :meth:`add_page`. A combination that :class:`Settings` refuses (a hop longer
    than the window) is shown in red under the tabs, OK is disabled, and
    :meth:`accept` keeps the dialog open.

    Parameters
    ----------
    settings : Settings
        Shown when the dialog opens.
    input_devices : sequence of str, keyword-only
        Names of the input devices now present. A stored device that is absent
        is still offered (marked "not connected") so that OK does not lose it.
    profiles : sequence of str, keyword-only
        Model profiles to offer; ``"base"`` is always among them.
    cuda_available : bool, keyword-only
        Whether a CUDA device can be used; otherwise its item is disabled (and a
        stored ``cuda`` shows as ``auto``).
    parent : QWidget, optional, keyword-only
    """

    def __init__(self, settings: Settings, *, input_devices: Sequence[str],
                 profiles: Sequence[str] = ("base",), cuda_available: bool = False,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("vinylmon settings")
        self._result: Settings | None = None
        self._cuda_available = bool(cuda_available)

        self.tabs = QTabWidget()
        self.general_page = QWidget()
        form = QFormLayout(self.general_page)

        self.device_combo = QComboBox()
        self.device_combo.addItem("System default", None)
        for name in input_devices:
            self.device_combo.addItem(name, name)
        form.addRow("Input device", self.device_combo)

        self.rate_combo = QComboBox()
        self.rate_combo.addItem("Device default", None)
        for rate in SAMPLE_RATES:
            self.rate_combo.addItem(f"{rate / 1000:g} kHz", rate)
        form.addRow("Sample rate", self.rate_combo)

        self.window_spin = _spin(*WINDOW_RANGE_S, step=0.5, decimals=2, suffix=" s")
        form.addRow("Analysis window", self.window_spin)
        self.hop_spin = _spin(MIN_HOP_S, WINDOW_RANGE_S[1], step=0.5, decimals=2, suffix=" s")
        self.hop_spin.setToolTip("Time between window starts; at most the window. "
                                 "The engine currently uses a hop equal to the window.")
        form.addRow("Hop", self.hop_spin)

        self.threshold_spin = _spin(*SILENCE_RANGE_DB, step=1.0, decimals=1, suffix=" dBFS")
        self.threshold_spin.setToolTip("Windows whose RMS level is below this are silent "
                                       "and not analysed.")
        form.addRow("Silence threshold", self.threshold_spin)

        self.rpm_combo = QComboBox()
        self.rpm_combo.addItem("Auto", None)
        for rpm in RPMS:
            self.rpm_combo.addItem(_RPM_LABELS[rpm], rpm)
        form.addRow("Record speed (rpm)", self.rpm_combo)

        self.profile_combo = QComboBox()
        names = list(dict.fromkeys(["base", *profiles]))
        for name in names:
            self.profile_combo.addItem(name, name)
        form.addRow("Model profile", self.profile_combo)

        self.compute_combo = QComboBox()
        for name, label in zip(COMPUTE_DEVICES, ("Auto", "CPU", "CUDA (GPU)"), strict=True):
            self.compute_combo.addItem(label, name)
        if not self._cuda_available:
            item = self.compute_combo.model().item(COMPUTE_DEVICES.index("cuda"))
            item.setEnabled(False)
            item.setToolTip("No CUDA device is available")
        form.addRow("Compute device", self.compute_combo)

        self.visible_spin = _spin(*VISIBLE_RANGE_S, step=5.0, decimals=1, suffix=" s")
        form.addRow("Spectrogram shows", self.visible_spin)

        self.add_page(self.general_page, "General")

        self.error_label = QLabel()
        self.error_label.setStyleSheet("color: #c62828;")
        self.error_label.setWordWrap(True)
        self.error_label.setVisible(False)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel
                                        | QDialogButtonBox.StandardButton.RestoreDefaults)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults).clicked.connect(
            self.restore_defaults)

        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)

        self.set_settings(settings)
        for box in (self.window_spin, self.hop_spin, self.threshold_spin, self.visible_spin):
            box.valueChanged.connect(self._revalidate)
        self._revalidate()

    # -- pages
    def add_page(self, widget: QWidget, title: str) -> int:
        """Add a page (tab) after the existing ones; return its index."""
        return self.tabs.addTab(widget, title)

    # -- values
    def set_settings(self, settings: Settings) -> None:
        """Show ``settings`` in the widgets."""
        if not _select_data(self.device_combo, settings.input_device):
            self.device_combo.addItem(f"{settings.input_device} (not connected)",
                                      settings.input_device)
            self.device_combo.setCurrentIndex(self.device_combo.count() - 1)
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
