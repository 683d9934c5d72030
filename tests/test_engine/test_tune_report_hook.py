"""TuneReportHook: what it sends to Ray Tune, its errors, and that it does
nothing outside a Tune trial (a trial config trained with tools/train.py).
Inside a trial it is exercised by tests/test_tools/test_tune.py."""
import sys
from types import SimpleNamespace

import pytest

from centerx_mm.engine.hooks import TuneReportHook
from centerx_mm.registry import HOOKS

RUNNER = SimpleNamespace(iter=250, epoch=3)
METRICS = {'coco/bbox_mAP': 0.123, 'coco/bbox_mAP_50': 0.3,
           'coco/bbox_mAP_copypaste': '0.123 0.3', 'toy/flag': True}


def test_report_dict():
    hook = HOOKS.build(dict(type='TuneReportHook'))
    assert hook.report_dict(RUNNER, METRICS) == {
        'coco_bbox_mAP': 0.123, 'coco_bbox_mAP_50': 0.3,
        'train_iter': 250, 'train_epoch': 3
    }  # numbers only ('/' -> '_'), with the time axes


def test_missing_and_bad_metric():
    hook = TuneReportHook(metric='coco/segm_mAP')
    with pytest.raises(KeyError, match=r"no metric 'coco/segm_mAP' \(it has "
                       r"\['coco/bbox_mAP', .*--metric"):
        hook.report_dict(RUNNER, METRICS)
    with pytest.raises(ValueError, match='coco/bbox_mAP = nan is not a'):
        TuneReportHook().report_dict(RUNNER, {'coco/bbox_mAP': float('nan')})
    with pytest.raises(TypeError, match='metric name'):
        TuneReportHook(metric='')


def test_no_detection_at_all_reports_zero():
    # mmdet's CocoMetric returns {} when the model detects nothing.
    with pytest.warns(UserWarning, match='no metric; reporting'):
        out = TuneReportHook().report_dict(RUNNER, {})
    assert out['coco_bbox_mAP'] == 0.0


def test_outside_tune_does_nothing(monkeypatch):
    calls = []
    import ray.tune
    monkeypatch.setattr(ray.tune, 'report', calls.append)
    hook = TuneReportHook()
    with pytest.warns(UserWarning, match='not inside a Ray Tune trial'):
        hook.after_val_epoch(RUNNER, METRICS)
    hook.after_val_epoch(RUNNER, {})  # checked once; no KeyError either
    assert calls == []


def test_without_ray_does_nothing(monkeypatch):
    monkeypatch.setitem(sys.modules, 'ray', None)
    with pytest.warns(UserWarning, match='not inside a Ray Tune trial'):
        TuneReportHook().after_val_epoch(RUNNER, METRICS)
