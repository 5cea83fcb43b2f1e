"""The engine: windows from a file or live input to events, scratches, grades and reports.

Qt-free; the GUI talks to it through a thin adapter. Knows the audio layer and
the models; :mod:`vinylmon.reports.html` and :mod:`vinylmon.reports.schema` need
neither.
"""
