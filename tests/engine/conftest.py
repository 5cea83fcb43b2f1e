"""Fixtures for the engine tests: a fine-tuning result without the fine-tuning."""

import pytest


@pytest.fixture(scope="session")
def fake_result():
    """A :class:`~vinylmon.models.finetune.FinetuneResult` holding the base weights (a
    profile made from it behaves like the base models; saving and loading are what is
    tested, not training)."""
    from vinylmon.models.finetune import FinetuneConfig, FinetuneResult
    from vinylmon.models.inference import Detector, LearnedGrader

    det, gr = Detector(device="cpu"), LearnedGrader(device="cpu")
    metrics = {"take": {"event_f1": 0.5, "class_accuracy": float("nan"), "windows": 24},
               "base_val": {"event_f1": 0.8, "class_accuracy": 0.5, "windows": 96}}
    return FinetuneResult(
        before=metrics, after=metrics, seconds=1.0, replay_source="synthetic",
        val_source="synthetic", detector_state=det.model.state_dict(),
        grader_state=gr.model.state_dict(), detector_meta=det.meta, grader_meta=gr.meta,
        config=FinetuneConfig(), take={"grade": "NM", "duration_s": 120.0},
        postprocess={**det.postprocess, "threshold": 0.7})
