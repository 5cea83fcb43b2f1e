"""Adapting the models to a microphone by fine-tuning on a calibration take.

One module per job: ``inputs`` (the take, grade and configuration checked),
``sets`` (the data set types) and ``data`` (the take's, replay and validation sets
built), ``detector`` (the detector's and click verifier's training), ``grader`` (the
grader head's), ``scoring`` (event F1 and accuracy; the threshold and acceptance
chosen for a microphone), ``result`` (what a run returns, its progress clock) and
``run`` (the entry, :func:`~vinylmon.training.finetune.run.finetune`).
"""
