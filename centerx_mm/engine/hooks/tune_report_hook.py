"""Report validation metrics of an mmengine run to Ray Tune (``tools/tune.py``,
``docs/tune.md``).

``tools/tune.py`` adds this hook to every trial's config; it is a no-op (one
warning) in a run that Ray Tune did not start, so a trial config can also be
trained by hand with ``tools/train.py``.
"""
import math
import warnings
from typing import Dict, Optional

from mmengine.dist import is_main_process
from mmengine.hooks import Hook

from centerx_mm.registry import HOOKS


def tune_key(name: str) -> str:
    """Name of metric ``name`` in Tune results: ``'coco/bbox_mAP'`` ->
    ``'coco_bbox_mAP'`` (Tune reads ``/`` as nesting)."""
    return name.replace('/', '_')


@HOOKS.register_module()
class TuneReportHook(Hook):
    """After every validation, send the numeric val metrics to Ray Tune.

    Each report holds every numeric metric under :func:`tune_key` of its
    name (``coco_bbox_mAP``, ``coco_bbox_mAP_50`` ...) plus ``train_iter``
    and ``train_epoch`` (``runner.iter`` / ``runner.epoch`` at validation: the
    time axes of the ASHA / median schedulers, correct also for a trial that
    was resumed from its mmengine checkpoint). Only the main process reports.

    Args:
        metric (str): the val metric the search optimises, as the evaluator
            names it (default ``'coco/bbox_mAP'``, mmdet's ``CocoMetric``). A
            validation without it raises, naming the metrics it has; one
            without any metric (CocoMetric finds no detection) reports 0.
    """

    priority = 'VERY_LOW'  # after the checkpoint / logger hooks

    def __init__(self, metric: str = 'coco/bbox_mAP') -> None:
        if not isinstance(metric, str) or not metric:
            raise TypeError(
                f'TuneReportHook.metric must be a metric name, got {metric!r}')
        self.metric = metric
        self._in_tune: Optional[bool] = None

    def _tune_session(self) -> bool:
        """Whether this process is a Ray Tune trial (checked once)."""
        if self._in_tune is None:
            try:
                from ray import tune
                with warnings.catch_warnings():  # Ray warns outside Tune
                    warnings.simplefilter('ignore')
                    self._in_tune = tune.get_context().get_trial_id() \
                        is not None
            except ImportError:
                self._in_tune = False
            if not self._in_tune:
                warnings.warn('TuneReportHook: not inside a Ray Tune trial '
                              '(tools/tune.py); metrics are not reported.')
        return self._in_tune

    def report_dict(self, runner, metrics: Dict[str, float]) -> dict:
        """The dict sent to Tune for val ``metrics`` (see class doc)."""
        if not metrics:
            # mmdet's CocoMetric returns nothing when there is no detection
            # at all (e.g. a diverged model): that is an mAP of 0.
            warnings.warn(f'TuneReportHook: the validation returned no '
                          f'metric; reporting {self.metric} = 0')
            metrics = {self.metric: 0.0}
        if self.metric not in metrics:
            raise KeyError(
                f'TuneReportHook: the validation has no metric '
                f'{self.metric!r} (it has {sorted(metrics)}); set '
                'tools/tune.py --metric to one of them')
        out = {
            tune_key(k): float(v)
            for k, v in metrics.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)
        }
        if not math.isfinite(out.get(tune_key(self.metric), math.nan)):
            raise ValueError(f'TuneReportHook: {self.metric} = '
                             f'{metrics[self.metric]!r} is not a number')
        out.update(train_iter=int(runner.iter), train_epoch=int(runner.epoch))
        return out

    def after_val_epoch(self, runner, metrics=None) -> None:
        if not is_main_process() or not self._tune_session():
            return
        from ray import tune
        tune.report(self.report_dict(runner, metrics or {}))
