"""A val metric for the tools/tune.py tests: it reports the ``score`` its
config sets, so which of two trials ASHA stops is known in advance (the COCO
mAP of a tiny model after a few iterations is 0 for every trial, a tie)."""
from mmengine.evaluator import BaseMetric

from centerx_mm.registry import METRICS


@METRICS.register_module()
class ConfigScoreMetric(BaseMetric):
    """Reports ``{'toy/score': score}`` after every validation."""

    default_prefix = 'toy'

    def __init__(self, score: float, **kwargs) -> None:
        super().__init__(**kwargs)
        self.score = float(score)

    def process(self, data_batch, data_samples) -> None:
        self.results.append(len(data_samples))

    def compute_metrics(self, results) -> dict:
        return dict(score=self.score)
