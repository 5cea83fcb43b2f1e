"""Settings: validation, storage across restarts, bad stored values, the dialog."""

import logging
import os
import subprocess
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtGui import QColor  # noqa: E402
from PySide6.QtWidgets import (  # noqa: E402
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDialogButtonBox,
    QDoubleSpinBox,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QWidget,
)

from vinylmon.grading.rubric import RPMS  # noqa: E402
from vinylmon.gui import style  # noqa: E402
from vinylmon.gui.microphone import MicrophonePage  # noqa: E402
from vinylmon.gui.settings import (  # noqa: E402
    DEFAULT_SILENCE_THRESHOLD_DB,
    GROUP,
    SETTINGS_VERSION,
    Settings,
    SettingsDialog,
    load_settings,
    no_input_message,
    save_settings,
)

CUSTOM = Settings(input_device="USB Audio CODEC, Analog Stereo", sample_rate=96000,
                  window_s=4.0, hop_s=2.5, silence_threshold_db=-65.5, rpm=45.0,
                  model_profile="my-deck", compute_device="cpu", spectrogram_visible_s=42.0)


@pytest.fixture
def ini(tmp_path):
    """A settings file of the test's own; ``ini()`` opens it as a new QSettings."""
    path = tmp_path / "vinylmon.ini"
    return lambda: QSettings(str(path), QSettings.Format.IniFormat)


def test_defaults():
    s = Settings()
    assert s.input_device is None and s.sample_rate is None and s.rpm is None
    assert s.window_s == 5.0 and s.hop_s == 5.0
    assert s.model_profile == "base" and s.compute_device == "auto"
    assert s.spectrogram_visible_s == 20.0
    assert s.silence_threshold_db == DEFAULT_SILENCE_THRESHOLD_DB


def test_silence_default_is_the_gates():
    from vinylmon.audio.gate import DEFAULT_THRESHOLD_DB, SilenceGate

    assert DEFAULT_SILENCE_THRESHOLD_DB == DEFAULT_THRESHOLD_DB
    assert SilenceGate().threshold_db == DEFAULT_THRESHOLD_DB


def test_settings_module_loads_no_torch_or_sounddevice():
    code = ("import sys, vinylmon.gui.settings; "
            "bad = [m for m in ('torch', 'torchaudio', 'sounddevice') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("field, value", [
    ("sample_rate", 22050), ("sample_rate", True), ("window_s", 0.0),
    ("window_s", float("nan")), ("hop_s", 0.0), ("hop_s", 6.0),
    ("silence_threshold_db", 3.0), ("rpm", 50.0), ("model_profile", ""),
    ("compute_device", "tpu"), ("spectrogram_visible_s", 0.5), ("input_device", 3),
    ("output_device", ""), ("output_device", None), ("listen", "louder"),
    ("passthrough", "yes"), ("passthrough", 1),
])
def test_invalid_fields_are_refused(field, value):
    with pytest.raises(ValueError):
        Settings(**{field: value})


def test_sound_choices_survive_a_restart_and_garbage_falls_back(ini, caplog):
    chosen = Settings(output_device="USB Audio", listen="removed", passthrough=True)
    assert save_settings(chosen, ini())
    assert load_settings(ini()) == chosen
    qs = ini()
    qs.setValue(f"{GROUP}/listen", "louder")
    qs.setValue(f"{GROUP}/passthrough", "maybe")
    qs.sync()
    del qs
    with caplog.at_level(logging.WARNING, logger="vinylmon.gui.settings"):
        s = load_settings(ini())
    assert s.listen == "original" and s.passthrough is False
    assert s.output_device == "USB Audio"
    assert "listen" in caplog.text and "passthrough" in caplog.text


def test_rpm_snaps_to_the_exact_speed():
    assert Settings(rpm=33.33).rpm == RPMS[0] == 100.0 / 3.0
    assert Settings(hop_s=2.0, window_s=2.0).hop_s == 2.0


def test_nothing_stored_gives_defaults(ini):
    assert load_settings(ini()) == Settings()


def test_round_trip_across_restarts(ini, tmp_path):
    assert save_settings(CUSTOM, ini())
    assert load_settings(ini()) == CUSTOM
    # a new process (the next start of the app) reads the same file
    code = ("import sys; from PySide6.QtCore import QSettings; "
            "from vinylmon.gui.settings import load_settings; "
            "print(load_settings(QSettings(sys.argv[1], QSettings.Format.IniFormat)))")
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "vinylmon.ini")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == repr(CUSTOM)


def test_none_values_round_trip(ini):
    save_settings(CUSTOM, ini())
    save_settings(Settings(model_profile="x"), ini())  # back to defaults: keys go away
    assert load_settings(ini()) == Settings(model_profile="x")
    qs = ini()
    assert qs.value(f"{GROUP}/settings_version") in (SETTINGS_VERSION, str(SETTINGS_VERSION))


def test_garbled_values_fall_back_per_key(ini, caplog):
    save_settings(CUSTOM, ini())
    qs = ini()
    qs.setValue(f"{GROUP}/window_s", "banana")
    qs.setValue(f"{GROUP}/sample_rate", 12345)
    qs.setValue(f"{GROUP}/compute_device", "quantum")
    qs.sync()
    del qs
    with caplog.at_level(logging.WARNING, logger="vinylmon.gui.settings"):
        s = load_settings(ini())
    defaults = Settings()
    assert s.window_s == defaults.window_s
    assert s.sample_rate == defaults.sample_rate
    assert s.compute_device == defaults.compute_device
    # the rest survives
    assert s.rpm == CUSTOM.rpm and s.input_device == CUSTOM.input_device
    assert s.hop_s == CUSTOM.hop_s and s.model_profile == CUSTOM.model_profile
    text = caplog.text
    assert "window_s" in text and "sample_rate" in text and "compute_device" in text


def test_garbled_file_never_crashes(tmp_path, caplog):
    path = tmp_path / "garbled.ini"
    path.write_bytes(b"\x00\xff\xfe[settings\nsettings_version=1\n[settings]\n"
                     b"settings_version=1\nwindow_s=1e999\nhop_s=@Invalid(\n"
                     b"rpm=a, b, c\nsilence_threshold_db=-9999\n\xc3\x28=\x01\n")
    with caplog.at_level(logging.WARNING, logger="vinylmon.gui.settings"):
        s = load_settings(QSettings(str(path), QSettings.Format.IniFormat))
    assert s == Settings()
    for key in ("window_s", "hop_s", "rpm", "silence_threshold_db"):
        assert key in caplog.text


def test_hop_longer_than_stored_window_falls_back(ini, caplog):
    qs = ini()
    qs.setValue(f"{GROUP}/settings_version", SETTINGS_VERSION)
    qs.setValue(f"{GROUP}/window_s", 3.0)
    qs.setValue(f"{GROUP}/hop_s", 4.0)
    qs.sync()
    del qs
    with caplog.at_level(logging.WARNING, logger="vinylmon.gui.settings"):
        s = load_settings(ini())
    assert s.window_s == 3.0 and s.hop_s == 3.0
    assert "hop" in caplog.text


@pytest.mark.parametrize("version", [SETTINGS_VERSION + 1, 0, "two"])
def test_unknown_version_gives_defaults(ini, caplog, version):
    save_settings(CUSTOM, ini())
    qs = ini()
    qs.setValue(f"{GROUP}/settings_version", version)
    qs.sync()
    del qs
    with caplog.at_level(logging.WARNING, logger="vinylmon.gui.settings"):
        assert load_settings(ini()) == Settings()
    assert "version" in caplog.text


# ---------------------------------------------------------------- dialog
DEVICES = ["Built-in Audio Analog Stereo", "USB Audio CODEC, Analog Stereo"]


def make_dialog(qtbot, settings=CUSTOM, **kw):
    kw.setdefault("input_devices", DEVICES)
    kw.setdefault("profiles", ("base", "my-deck"))
    dlg = SettingsDialog(settings, **kw)
    qtbot.addWidget(dlg)
    return dlg


def ok_button(dlg):
    return dlg.buttons.button(QDialogButtonBox.StandardButton.Ok)


def test_dialog_shows_the_settings(qtbot):
    dlg = make_dialog(qtbot)
    assert dlg.device_combo.itemText(0) == "System default"
    assert dlg.device_combo.currentData() == CUSTOM.input_device
    assert dlg.rate_combo.itemText(0) == "Device default"
    assert dlg.rate_combo.currentData() == 96000
    assert dlg.window_spin.value() == 4.0 and dlg.hop_spin.value() == 2.5
    assert dlg.threshold_spin.value() == -65.5
    assert [dlg.rpm_combo.itemText(i) for i in range(4)] == ["Auto", "33 1/3", "45", "78"]
    assert dlg.rpm_combo.currentData() == 45.0
    assert dlg.profile_combo.currentData() == "my-deck"
    assert dlg.compute_combo.currentData() == "cpu"
    assert dlg.visible_spin.value() == 42.0
    assert dlg.current_settings() == CUSTOM
    assert dlg.tabs.tabText(0) == "General"


def test_dialog_returns_edited_settings(qtbot):
    dlg = make_dialog(qtbot, Settings(), cuda_available=True)
    dlg.show()
    dlg.device_combo.setCurrentIndex(1)
    dlg.rate_combo.setCurrentIndex(dlg.rate_combo.findData(48000))
    dlg.window_spin.setValue(6.0)
    dlg.hop_spin.setValue(6.0)
    dlg.threshold_spin.setValue(-80.0)
    dlg.rpm_combo.setCurrentIndex(dlg.rpm_combo.findData(78.0))
    dlg.profile_combo.setCurrentIndex(dlg.profile_combo.findData("my-deck"))
    dlg.compute_combo.setCurrentIndex(dlg.compute_combo.findData("cuda"))
    dlg.visible_spin.setValue(30.0)
    with qtbot.waitSignal(dlg.accepted, timeout=1000):
        ok_button(dlg).click()
    assert dlg.result() == SettingsDialog.DialogCode.Accepted
    assert dlg.result_settings() == Settings(
        input_device=DEVICES[0], sample_rate=48000, window_s=6.0, hop_s=6.0,
        silence_threshold_db=-80.0, rpm=78.0, model_profile="my-deck",
        compute_device="cuda", spectrogram_visible_s=30.0)


def test_hop_longer_than_window_is_refused(qtbot):
    dlg = make_dialog(qtbot, Settings())
    dlg.show()
    dlg.hop_spin.setValue(8.0)
    assert dlg.error_label.isVisible()
    text = dlg.error_label.text()
    assert "start a new chunk every" in text.lower() and "8 s" in text and "5 s" in text
    assert not ok_button(dlg).isEnabled()
    dlg.accept()  # even forced, it stays open
    assert dlg.isVisible()
    with pytest.raises(RuntimeError):
        dlg.result_settings()
    dlg.window_spin.setValue(10.0)  # fixed: the message goes, OK comes back
    assert not dlg.error_label.isVisible() and ok_button(dlg).isEnabled()
    dlg.accept()
    assert not dlg.isVisible()
    assert dlg.result_settings().hop_s == 8.0


def test_cancel_keeps_nothing(qtbot):
    dlg = make_dialog(qtbot)
    dlg.show()
    dlg.window_spin.setValue(9.0)
    dlg.buttons.button(QDialogButtonBox.StandardButton.Cancel).click()
    assert dlg.result() == SettingsDialog.DialogCode.Rejected
    with pytest.raises(RuntimeError):
        dlg.result_settings()


def test_restore_defaults(qtbot):
    dlg = make_dialog(qtbot)
    dlg.buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults).click()
    assert dlg.current_settings() == Settings()


def test_cuda_disabled_when_unavailable(qtbot):
    dlg = make_dialog(qtbot, Settings(compute_device="cuda"), cuda_available=False)
    i = dlg.compute_combo.findData("cuda")
    assert not dlg.compute_combo.model().item(i).isEnabled()
    assert dlg.compute_combo.currentData() == "auto"
    dlg2 = make_dialog(qtbot, Settings(compute_device="cuda"), cuda_available=True)
    assert dlg2.compute_combo.model().item(i).isEnabled()
    assert dlg2.compute_combo.currentData() == "cuda"


def test_absent_device_and_profile_are_kept(qtbot):
    s = Settings(input_device="Unplugged Deck", model_profile="old-profile")
    dlg = make_dialog(qtbot, s, input_devices=[], profiles=())
    assert "not connected" in dlg.device_combo.currentText()
    assert dlg.current_settings() == s


def test_add_page(qtbot):
    dlg = make_dialog(qtbot)
    page = QWidget()
    QLabel("microphone", page)
    assert dlg.add_page(page, "Microphone") == 1
    assert dlg.tabs.count() == 2 and dlg.tabs.tabText(1) == "Microphone"


# ---------------------------------------------------------------- for a new user
class FakeBackend:
    """What the Microphone page asks of ``AppBackend`` before anything is recorded."""

    def __init__(self, names=()):
        self.names = list(names)

    def input_names(self):
        return list(self.names)

    def profile_infos(self):
        return []


def full_dialog(qtbot, names=DEVICES, **kw):
    """The dialog as ``MainWindow.open_settings`` builds it: General and Microphone pages."""
    dlg = make_dialog(qtbot, Settings(), input_devices=names, **kw)
    backend = FakeBackend(names)
    page = MicrophonePage(backend)
    dlg.add_page(page, "Microphone")
    return dlg, page, backend


def luminance(color: QColor) -> float:
    def lin(c):
        c /= 255.0
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    return 0.2126 * lin(color.red()) + 0.7152 * lin(color.green()) + 0.0722 * lin(color.blue())


def contrast(a: QColor, b: QColor) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


INPUTS = (QComboBox, QSpinBox, QDoubleSpinBox, QCheckBox, QLineEdit, QPushButton)


def user_inputs(dlg):
    """Every control the user can work, on every page (not the editors inside spin and
    combo boxes: those show their box's tooltip)."""
    found = [w for kind in INPUTS for w in dlg.findChildren(kind)]
    return [w for w in found if not isinstance(w.parentWidget(), QAbstractSpinBox | QComboBox)]


def shown_texts(dlg):
    """The words on every page: labels, group titles, buttons, table headings."""
    texts = [w.text() for w in dlg.findChildren(QLabel) + dlg.findChildren(QPushButton)]
    texts += [w.title() for w in dlg.findChildren(QGroupBox)]
    for table in dlg.findChildren(QTableWidget):
        texts += [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
        texts += [table.verticalHeaderItem(r).text() for r in range(table.rowCount())]
    return texts


def test_every_page_is_dark_and_readable(qtbot):
    dlg, page, _ = full_dialog(qtbot)
    dlg.show()
    qtbot.waitExposed(dlg)
    for i in range(dlg.tabs.count()):
        dlg.tabs.setCurrentIndex(i)
        qtbot.waitUntil(lambda i=i: dlg.tabs.currentWidget().isVisible())
        image = dlg.grab().toImage()
        step = 7
        lum = [luminance(image.pixelColor(x, y)) for x in range(0, image.width(), step)
               for y in range(0, image.height(), step)]
        # dark, like the main window (a light dialog averages about 0.8)
        assert sum(lum) / len(lum) < 0.15, dlg.tabs.tabText(i)
        for w in dlg.tabs.currentWidget().findChildren(QWidget):
            if not w.isVisible() or not w.isEnabled():
                continue
            pal = w.palette()
            bg, fg = pal.color(w.backgroundRole()), pal.color(w.foregroundRole())
            assert luminance(bg) < 0.1, (type(w).__name__, bg.name())
            assert contrast(fg, bg) >= 4.5, (type(w).__name__, fg.name(), bg.name())
    assert dlg.palette().color(dlg.backgroundRole()) == QColor(style.PANEL)
    assert page.palette().color(page.backgroundRole()) == QColor(style.PANEL)


def test_every_control_has_a_tooltip(qtbot):
    dlg, page, _ = full_dialog(qtbot)
    controls = user_inputs(dlg)
    assert len(controls) >= 20  # both pages and the dialog's buttons
    assert page.refresh_button in controls and dlg.hop_spin in controls
    missing = [f"{type(w).__name__} {getattr(w, 'text', lambda: '')()!r}" for w in controls
               if not w.toolTip().strip()]
    assert missing == []


JARGON = ("hop", "event f1", "f1 before", "class accuracy", "validation", "held-out",
          "analysis window", "compute device", "model profile", "take:")


def test_plain_words_on_every_page(qtbot):
    dlg, page, _ = full_dialog(qtbot)
    texts = [t.lower() for t in shown_texts(dlg)]
    assert any("start a new chunk every" in t for t in texts)
    assert any("clicks found" in t and "f1" in t for t in texts)
    for word in JARGON:
        assert not [t for t in texts if word in t], word
    assert dlg.profile_combo.itemText(0) == "Standard (base)"
    assert dlg.profile_combo.itemData(0) == "base"
    assert "spectrogram" in dlg.visible_spin.toolTip().lower()
    assert "wheel" in dlg.visible_spin.toolTip().lower()


def test_empty_input_list_says_why_and_refresh_finds_a_new_one(qtbot):
    names = []
    dlg = make_dialog(qtbot, Settings(), input_devices=names, list_inputs=lambda: names)
    dlg.show()
    qtbot.waitExposed(dlg)
    assert dlg.no_input_label.isVisible() and dlg.refresh_button.isVisible()
    text = dlg.no_input_label.text()
    assert text == no_input_message()
    assert "No microphone or line-in found" in text and "press Refresh" in text
    names.append("USB Audio CODEC")  # plugged in
    dlg.refresh_button.click()
    qtbot.waitUntil(lambda: not dlg.no_input_label.isVisible())
    assert dlg.input_devices == ("USB Audio CODEC",)
    assert dlg.device_combo.findData("USB Audio CODEC") >= 0
    assert dlg.device_combo.currentData() is None  # the choice is the user's


def test_refresh_keeps_the_chosen_input(qtbot):
    names = list(DEVICES)
    dlg = make_dialog(qtbot, Settings(input_device=DEVICES[1]), list_inputs=lambda: names)
    names.remove(DEVICES[1])  # unplugged
    dlg.refresh_inputs()
    assert dlg.device_combo.currentData() == DEVICES[1]
    assert "not connected" in dlg.device_combo.currentText()
    assert dlg.current_settings().input_device == DEVICES[1]


def test_without_a_way_to_refresh_the_message_says_reopen(qtbot):
    dlg = make_dialog(qtbot, Settings(), input_devices=[])
    dlg.show()
    qtbot.waitExposed(dlg)
    assert not dlg.refresh_button.isVisible()
    assert "open the settings again" in dlg.no_input_label.text()
    assert not make_dialog(qtbot, Settings()).no_input_label.isVisible()  # inputs listed


@pytest.mark.parametrize(("platform", "words"), [
    ("linux", "PulseAudio/PipeWire"), ("darwin", "Privacy & Security"),
    ("win32", "Privacy"), ("sunos5", "sound service")])
def test_no_input_message_names_the_systems_own_settings(platform, words):
    message = no_input_message(platform=platform)
    assert message.startswith("No microphone or line-in found.") and words in message


def test_microphone_page_refresh_serves_the_general_page_too(qtbot):
    dlg, page, backend = full_dialog(qtbot, names=[])
    dlg.show()
    qtbot.waitExposed(dlg)
    assert dlg.refresh_button.isVisible()  # the page lists the inputs
    assert dlg.no_input_label.isVisible()
    backend.names = ["USB mic"]
    with qtbot.waitSignal(page.inputsChanged, timeout=5000):
        dlg.refresh_button.click()
    assert dlg.input_devices == ("USB mic",)
    assert page.device_combo.currentText() == "USB mic"
    assert not dlg.no_input_label.isVisible()
    backend.names = ["USB mic", "Line in"]
    page.refresh_button.click()  # the page's own button updates the General page as well
    qtbot.waitUntil(lambda: dlg.input_devices == ("USB mic", "Line in"))
