"""``vinylmon serve``: grading over HTTP for a browser or a script.

``store`` keeps the jobs (SQLite, and a folder per job named by its random id: the
upload, ``report.json``, ``report.html``); ``runner`` grades them on worker threads
through the same path as ``vinylmon grade`` (:func:`vinylmon.cli.grade.grade_to_report`);
``app`` is the FastAPI application and its guard (token, upload size); ``page`` the
page at ``/``.
"""
