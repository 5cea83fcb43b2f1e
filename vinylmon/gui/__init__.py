"""The desktop monitor: PySide6 + pyqtgraph widgets and the main window (no torch)."""
