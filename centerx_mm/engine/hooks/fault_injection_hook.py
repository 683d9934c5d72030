"""A controlled, deliberately injected training fault (experiments only).

Issue 12 / docs/adaptive_loss.md, "Fault injection": when no learning rate
makes training collapse on its own, a fault injected mid-run shows how plain
and hooked runs (AdaptiveLossHook, LossJumpSkipHook, gradient clipping)
recover from a loss spike. Runs that use this hook are *injected* faults,
and must be reported as such.
"""
from typing import Optional

import torch
from mmengine.hooks import Hook
from mmengine.hooks.hook import DATA_BATCH
from mmengine.logging import print_log

from centerx_mm.registry import HOOKS

FAULTS = ('lr_burst', 'corrupt_boxes')


@HOOKS.register_module()
class FaultInjectionHook(Hook):
    """Inject a fault during iterations ``[begin, begin + iters)``.

    Faults:

    - ``'lr_burst'``: every param group's LR is multiplied by ``lr_factor``
      for the optimizer steps of those iterations (set after the LR
      schedulers' value of the iteration, restored before they step, so the
      schedule itself is unchanged; the logged ``lr`` shows the burst).
    - ``'corrupt_boxes'``: every GT box of those iterations' batches is
      replaced by a random box (centre uniform over the image, width and
      height uniform in ``[min_size, max_size_ratio * side]`` pixels,
      clipped to the image); labels are kept. Random numbers come from a
      private generator seeded with ``(seed, iteration)``: the same boxes
      in every run, the global RNG untouched.

    Logged every iteration: ``fault_active`` (1 inside the window, else 0),
    so curves can mark the fault.

    Args:
        fault (str): ``'lr_burst'`` or ``'corrupt_boxes'``.
        begin (int): first faulty iteration (0-based ``runner.iter``).
        iters (int): number of faulty iterations, >= 1.
        lr_factor (float): LR multiplier of ``'lr_burst'``, > 0.
        min_size (float): smallest random box side (pixels), > 0.
        max_size_ratio (float): largest random box side as a fraction of
            the image side, in (0, 1].
        seed (int): seed of the random boxes.
    """

    priority = 'NORMAL'  # after RuntimeInfoHook, before ParamSchedulerHook

    def __init__(self,
                 fault: str,
                 begin: int,
                 iters: int,
                 lr_factor: float = 10.0,
                 min_size: float = 2.0,
                 max_size_ratio: float = 1.0,
                 seed: int = 0) -> None:
        if fault not in FAULTS:
            raise ValueError(f'FaultInjectionHook.fault must be one of '
                             f'{FAULTS}, got {fault!r}')
        for name, value, low in (('begin', begin, 0), ('iters', iters, 1),
                                 ('seed', seed, 0)):
            if not isinstance(value, int) or isinstance(value, bool) \
                    or value < low:
                raise ValueError(f'FaultInjectionHook.{name} must be an int '
                                 f'>= {low}, got {value!r}')
        for name, value in (('lr_factor', lr_factor), ('min_size', min_size),
                            ('max_size_ratio', max_size_ratio)):
            if isinstance(value, bool) or not isinstance(
                    value, (int, float)) or not 0 < value < float('inf'):
                raise ValueError(f'FaultInjectionHook.{name} must be a '
                                 f'finite number > 0, got {value!r}')
        if max_size_ratio > 1:
            raise ValueError('FaultInjectionHook.max_size_ratio must be in '
                             f'(0, 1], got {max_size_ratio!r}')
        self.fault = fault
        self.begin, self.iters = begin, iters
        self.lr_factor = float(lr_factor)
        self.min_size = float(min_size)
        self.max_size_ratio = float(max_size_ratio)
        self.seed = seed
        self._saved_lrs: Optional[list] = None

    def active(self, cur_iter: int) -> bool:
        """Whether iteration ``cur_iter`` is faulty."""
        return self.begin <= cur_iter < self.begin + self.iters

    def before_train(self, runner) -> None:
        print_log(
            f'FaultInjectionHook: INJECTED FAULT {self.fault!r} at '
            f'iterations [{self.begin}, {self.begin + self.iters})'
            + (f', LR x{self.lr_factor:g}' if self.fault == 'lr_burst'
               else ''),
            logger='current')

    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch: DATA_BATCH = None) -> None:
        active = self.active(runner.iter)
        runner.message_hub.update_scalar('train/fault_active', float(active))
        if not active:
            return
        if self.fault == 'lr_burst':
            groups = runner.optim_wrapper.param_groups
            self._saved_lrs = [group['lr'] for group in groups]
            for group in groups:
                group['lr'] = group['lr'] * self.lr_factor
            # RuntimeInfoHook logged the scheduled LR already: log the one
            # the optimizer uses.
            for name, lrs in runner.optim_wrapper.get_lr().items():
                runner.message_hub.update_scalar(f'train/{name}', lrs[0])
        else:
            self.corrupt_boxes(data_batch, runner.iter)

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: DATA_BATCH = None,
                         outputs: Optional[dict] = None) -> None:
        if self._saved_lrs is not None:
            for group, lr in zip(runner.optim_wrapper.param_groups,
                                 self._saved_lrs):
                group['lr'] = lr
            self._saved_lrs = None

    def corrupt_boxes(self, data_batch: DATA_BATCH, cur_iter: int) -> None:
        """Replace, in place, every GT box of ``data_batch`` (a dataloader
        batch with ``data_samples``) by a random box."""
        samples = data_batch.get('data_samples') if isinstance(
            data_batch, dict) else None
        if samples is None:
            raise TypeError("FaultInjectionHook('corrupt_boxes') needs "
                            "batches with 'data_samples' (mmdet "
                            'PackDetInputs), got '
                            f'{type(data_batch).__name__}')
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + cur_iter)
        for sample in samples:
            boxes = sample.gt_instances.bboxes
            tensor = getattr(boxes, 'tensor', boxes)
            n = tensor.shape[0]
            if n == 0:
                continue
            h, w = sample.metainfo['img_shape'][:2]
            side = torch.tensor([w, h], dtype=torch.float32)
            center = torch.rand(n, 2, generator=gen) * side
            low = torch.full((n, 2), self.min_size)
            high = torch.maximum(low, self.max_size_ratio * side.expand(n, 2))
            size = low + torch.rand(n, 2, generator=gen) * (high - low)
            new = torch.cat([center - size / 2, center + size / 2], dim=1)
            new[:, 0::2] = new[:, 0::2].clamp(0, w)
            new[:, 1::2] = new[:, 1::2].clamp(0, h)
            new = new.to(tensor)
            sample.gt_instances.bboxes = type(boxes)(new) if hasattr(
                boxes, 'tensor') else new
