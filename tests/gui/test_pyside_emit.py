"""The installed PySide6 keeps reference counts straight when a signal is emitted.

PySide6 6.12.0 drops a reference to ``True`` on every emit; on Python < 3.12 the
monitor then aborts ("bool_dealloc") within minutes (pyqtgraph emits several
signals per frame). pyproject.toml keeps it out; this test fails if it comes back.
"""

import sys

from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    ping = Signal(object)


def test_emits_keep_the_reference_count_of_true(qapp):
    e = _Emitter()
    seen = []
    e.ping.connect(seen.append)
    before = sys.getrefcount(True)
    for i in range(100):
        e.ping.emit(i)
    assert len(seen) == 100
    assert sys.getrefcount(True) - before > -50  # 6.12.0: exactly -100
