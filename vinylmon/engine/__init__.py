"""The engine: windows from a file or a live input, through the models, into a session.

:class:`~vinylmon.engine.engine.Engine` grades files and runs the live analyser
thread; :class:`~vinylmon.engine.session.Session` keeps the side's state as windows
arrive (measured by :mod:`vinylmon.grading`). Qt-free; reports live in
:mod:`vinylmon.reports`, the monitor's back end in :mod:`vinylmon.live`.
"""
