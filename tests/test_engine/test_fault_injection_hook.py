"""FaultInjectionHook: an LR burst that leaves the schedule intact, a burst
of corrupted boxes, and clear errors."""
import pytest
import torch
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import HorizontalBoxes
from mmengine.hooks import Hook
from mmengine.structures import InstanceData

from centerx_mm.engine.hooks import FaultInjectionHook
from tests.test_engine.toy_runner import (REAL, ScriptedModel, make_runner,
                                          scalar_rows, scheduled_lr)


def test_lr_burst_multiplies_the_lr_and_keeps_the_schedule(tmp_path):
    model = ScriptedModel([REAL])
    runner = make_runner(
        tmp_path / 'burst', model, 8,
        hooks=[dict(type='FaultInjectionHook', fault='lr_burst', begin=3,
                    iters=2, lr_factor=10.0)])
    used = []  # the LR the optimizer steps with, every iteration

    class LrAtStep(Hook):
        priority = 'LOWEST'  # after the fault hook's before_train_iter

        def before_train_iter(self, runner, **kwargs):
            used.append(runner.optim_wrapper.param_groups[0]['lr'])

    runner.register_hook(LrAtStep())
    runner.train()
    expected = [scheduled_lr(i) * (10 if i in (3, 4) else 1)
                for i in range(8)]
    assert used == pytest.approx(expected)
    # the log (scalars.json, one row per iteration) shows the LR used
    assert [r['lr'] for r in scalar_rows(tmp_path / 'burst')] == \
        pytest.approx(expected)
    active = runner.message_hub.get_scalar('train/fault_active').data[0]
    assert active.tolist() == [0, 0, 0, 1, 1, 0, 0, 0]
    assert runner.param_schedulers[0].last_step == 8


def _sample(boxes, hw=(100, 80)):
    sample = DetDataSample(metainfo=dict(img_shape=hw))
    sample.gt_instances = InstanceData(
        bboxes=HorizontalBoxes(torch.tensor(boxes, dtype=torch.float32)),
        labels=torch.arange(len(boxes)))
    return sample


def test_corrupt_boxes_random_but_reproducible():
    hook = FaultInjectionHook('corrupt_boxes', begin=0, iters=1,
                              min_size=4.0, max_size_ratio=0.5, seed=3)
    boxes = [[10., 10., 20., 30.], [0., 0., 5., 5.], [40., 50., 60., 70.]]
    batches = [dict(inputs=[], data_samples=[_sample(boxes),
                                             _sample([])]) for _ in range(3)]
    hook.corrupt_boxes(batches[0], cur_iter=7)
    hook.corrupt_boxes(batches[1], cur_iter=7)
    hook.corrupt_boxes(batches[2], cur_iter=8)
    new = [b['data_samples'][0].gt_instances.bboxes for b in batches]
    assert isinstance(new[0], HorizontalBoxes)
    assert torch.equal(new[0].tensor, new[1].tensor)  # same (seed, iter)
    assert not torch.equal(new[0].tensor, new[2].tensor)
    t = new[0].tensor
    assert not torch.allclose(t, torch.tensor(boxes))
    h, w = 100, 80
    assert (t[:, 0::2] >= 0).all() and (t[:, 0::2] <= w).all()
    assert (t[:, 1::2] >= 0).all() and (t[:, 1::2] <= h).all()
    size = t[:, 2:] - t[:, :2]
    assert (size > 0).all() and (size[:, 0] <= 0.5 * w).all()
    assert batches[0]['data_samples'][0].gt_instances.labels.tolist() == [
        0, 1, 2]
    assert len(batches[0]['data_samples'][1].gt_instances) == 0
    with pytest.raises(TypeError, match='data_samples'):
        hook.corrupt_boxes([torch.zeros(1)], cur_iter=0)


@pytest.mark.parametrize('kwargs, match', [
    (dict(fault='nan_loss'), 'fault must be one of'),
    (dict(begin=-1), 'begin'),
    (dict(iters=0), 'iters'),
    (dict(lr_factor=0), 'lr_factor'),
    (dict(max_size_ratio=1.5), 'max_size_ratio'),
])
def test_invalid_arguments(kwargs, match):
    args = dict(fault='lr_burst', begin=10, iters=5)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        FaultInjectionHook(**args)
