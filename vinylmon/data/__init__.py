"""Data shipped with vinylmon: the demo recording and its truth (see DEMO.md)."""
