"""The engine: windows from a file or live input to events, scratches, grades and reports.

Qt-free; the GUI talks to it through a thin adapter. Knows the audio layer and
the models; :mod:`vinylmon.engine.html` and :mod:`vinylmon.engine.schema` need
neither.
"""
