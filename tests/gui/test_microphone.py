"""The settings dialog's Microphone page, driven like a user would: a take from a file,
fine-tuning to a saved profile that is then in use; cancelling leaves no profile."""

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import QSettings, Qt

from vinylmon.cli.monitor import AppBackend
from vinylmon.gui.main_window import MainWindow
from vinylmon.training.finetune.data import synthetic_take
from vinylmon.training.finetune.inputs import FinetuneConfig

SR = 44100


@pytest.fixture
def window(qtbot, cpu_engine, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    backend = AppBackend(engine=cpu_engine, journal_dir=tmp_path / "journal")
    w = MainWindow(backend, qsettings=QSettings(str(tmp_path / "s.ini"),
                                                QSettings.Format.IniFormat))
    # a short run: the flow is tested here, not the accuracy (tests/training/test_finetune.py)
    w.finetune_options = {"config": FinetuneConfig(steps=12)}
    qtbot.addWidget(w)
    yield w
    w.monitor.stop()


@pytest.fixture(scope="module")
def take_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("take") / "take.flac"
    sf.write(path, synthetic_take(60.0, seed=3).T, SR)
    return path


def _profile_dirs(tmp_path):
    root = tmp_path / "data" / "vinylmon" / "profiles"
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


def test_take_to_saved_auto_selected_profile(qtbot, window, take_file, tmp_path):
    dialog = window.open_settings()
    page = window.microphone_page
    assert dialog.tabs.tabText(dialog.tabs.count() - 1) == "Microphone"
    assert not page.finetune_button.isEnabled()  # no take yet
    assert page.set_take_file(take_file)
    assert page.finetune_button.isEnabled()
    page.device_combo.setEditable(True)
    page.device_combo.setCurrentText("USB mic")
    page.name_edit.setText("usb mic")
    with qtbot.waitSignal(page.profileSaved, timeout=240_000) as saved:
        page.start_finetune()
        assert page.busy == "finetune" and page.cancel_button.isEnabled()
    assert saved.args == ["usb mic"]
    assert page.error == ""
    assert "usb mic" in page.profile_names()
    assert window.backend.active_profile == "usb mic"
    assert window.settings.model_profile == "usb mic"
    assert dialog.profile_combo.currentData() == "usb mic"
    table = [[page.results.item(r, c).text() for c in range(4)] for r in range(2)]
    assert all(t != "–" for t in table[0]), table
    # chosen automatically when its input is chosen
    assert window.backend.profile_for_device("USB mic") == "usb mic"
    # switch off, rename, remove
    page.profile_list.setCurrentRow(0)
    page.profile_list.item(0).setCheckState(page.profile_list.item(0).checkState().Unchecked)
    assert window.backend.profile_for_device("USB mic") is None
    assert page.rename_selected("usb mic 2")
    assert page.profile_names() == ["usb mic 2"]
    page.profile_list.setCurrentRow(0)
    assert page.remove_selected()
    assert page.profile_names() == [] and _profile_dirs(tmp_path) == []


def test_cancel_mid_way_leaves_no_profile(qtbot, window, take_file, tmp_path):
    window.finetune_options = {"config": FinetuneConfig(steps=400)}
    window.open_settings()
    page = window.microphone_page
    assert page.set_take_file(take_file)
    page.name_edit.setText("never")
    seen = []
    page._relay.progress.connect(lambda f, m: seen.append(f))
    page.start_finetune()
    qtbot.waitUntil(lambda: len(seen) > 0, timeout=60_000)
    page.cancel()
    qtbot.waitUntil(lambda: page.busy == "", timeout=60_000)
    assert "Cancelled" in page.status_label.text()
    assert "never" not in page.profile_names()
    assert _profile_dirs(tmp_path) == []
    assert window.backend.active_profile in (None, "base")


def test_a_bad_take_file_is_refused_on_the_page(qtbot, window, tmp_path):
    window.open_settings()
    page = window.microphone_page
    bad = tmp_path / "bad.flac"
    bad.write_bytes(b"not audio")
    assert not page.set_take_file(bad)
    assert "Cannot use this recording" in page.take_label.text()
    assert not page.finetune_button.isEnabled()
    short = tmp_path / "short.flac"
    sf.write(short, np.zeros((SR * 5, 2), np.float32), SR)
    assert not page.set_take_file(short)


class NoInputsBackend:
    """An ``AppBackend`` as on a machine where PortAudio lists no input (yet)."""

    def __init__(self):
        self.names = []

    def input_names(self):
        return list(self.names)

    def profile_infos(self):
        return []


def test_no_inputs_says_why_and_refresh_finds_one(qtbot):
    from vinylmon.gui.microphone import MicrophonePage
    from vinylmon.gui.settings import no_input_message

    backend = NoInputsBackend()
    page = MicrophonePage(backend)
    qtbot.addWidget(page)
    page.show()
    qtbot.waitExposed(page)
    assert page.device_combo.count() == 0
    assert page.no_input_label.isVisible()
    assert page.no_input_label.text() == no_input_message()
    assert "No microphone or line-in found" in page.no_input_label.text()
    assert page.refresh_button.isVisible() and page.refresh_button.isEnabled()
    # nothing to record from: recording is off, a recording of the record still works
    assert not page.level_button.isEnabled() and not page.record_button.isEnabled()
    assert page.file_button.isEnabled()
    backend.names = ["USB mic", "Line in"]  # plugged in
    with qtbot.waitSignal(page.inputsChanged, timeout=5000) as changed:
        page.refresh_button.click()
    assert changed.args == [["USB mic", "Line in"]]
    assert page.device_combo.currentText() == "USB mic"  # the system's default comes first
    qtbot.waitUntil(lambda: not page.no_input_label.isVisible())
    assert page.level_button.isEnabled() and page.record_button.isEnabled()
    page.device_combo.setCurrentText("Line in")
    backend.names = ["USB mic"]  # the chosen one unplugged: still shown, not switched
    page.refresh_inputs()
    assert page.device_combo.currentText() == "Line in"


def test_results_table_in_plain_words_fits(qtbot):
    from vinylmon.gui.microphone import RESULT_COLUMNS, MicrophonePage

    page = MicrophonePage(NoInputsBackend())
    qtbot.addWidget(page)
    page.show()
    qtbot.waitExposed(page)
    table = page.results
    heads = [table.horizontalHeaderItem(c).text() for c in range(4)]
    assert heads == RESULT_COLUMNS and "F1" in heads[0] and "before" in heads[0]
    assert all(table.horizontalHeaderItem(c).toolTip() for c in range(4))
    assert all(table.verticalHeaderItem(r).toolTip() for r in range(2))
    header = table.horizontalHeader()
    metrics = header.fontMetrics()
    for c, text in enumerate(heads):  # every heading is shown whole, no "..."
        width = max(metrics.horizontalAdvance(line) for line in text.split("\n"))
        assert header.sectionSize(c) >= width


def test_an_unticked_profile_shows_an_empty_box(qtbot):
    """On the dark theme the style's own tick box is invisible; the page draws one."""
    from types import SimpleNamespace

    from PySide6.QtGui import QColor

    from vinylmon.gui import style
    from vinylmon.gui.microphone import MicrophonePage

    backend = NoInputsBackend()
    backend.profile_infos = lambda: [SimpleNamespace(name="usb mic", device_name="USB",
                                                     enabled=True),
                                     SimpleNamespace(name="laptop", device_name=None,
                                                     enabled=False)]
    page = MicrophonePage(backend)
    qtbot.addWidget(page)
    page.resize(700, 900)
    page.show()
    qtbot.waitExposed(page)
    lst = page.profile_list
    assert [lst.item(i).checkState() for i in range(2)] == [Qt.CheckState.Checked,
                                                           Qt.CheckState.Unchecked]
    image = lst.viewport().grab().toImage()
    background = QColor(style.BACKGROUND).lightness()
    for row in range(2):
        rect = lst.visualItemRect(lst.item(row))
        box = [image.pixelColor(x, y).lightness() for x in range(rect.left(), rect.left() + 24)
               for y in range(rect.top(), rect.bottom())]
        assert max(box) > background + 60, row  # a box edge (or fill) that can be seen
