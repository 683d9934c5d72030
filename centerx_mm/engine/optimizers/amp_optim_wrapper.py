"""Mixed precision that also trains on CPUs (mmengine's ``AmpOptimWrapper``
asserts a GPU/NPU/MLU/MUSA device)."""
import logging
from contextlib import contextmanager
from typing import Dict, Optional, Union

import torch
import torch.nn as nn
from mmengine.device import (is_cuda_available, is_mlu_available,
                             is_musa_available, is_npu_available)
from mmengine.dist import all_reduce, get_world_size
from mmengine.logging import print_log
from mmengine.optim import AmpOptimWrapper, OptimWrapper

from centerx_mm.registry import OPTIM_WRAPPERS

#: /proc/cpuinfo flags of CPUs that compute bf16 natively (x86 AVX512-BF16
#: or AMX, Arm BF16). Elsewhere oneDNN emulates bf16, slower than fp32.
BF16_CPU_FLAGS = ('avx512_bf16', 'amx_bf16', 'bf16')


def cpu_has_native_bf16(cpuinfo: str = '/proc/cpuinfo') -> bool:
    """Whether this CPU has bf16 instructions (:data:`BF16_CPU_FLAGS` in
    the ``flags``/``Features`` line of ``cpuinfo``; False if unreadable)."""
    try:
        with open(cpuinfo) as f:
            for line in f:
                key, _, value = line.partition(':')
                if key.strip() in ('flags', 'Features'):
                    return bool(set(value.split()) & set(BF16_CPU_FLAGS))
    except OSError:
        pass
    return False


def _accelerator_available() -> bool:
    return (is_cuda_available() or is_npu_available() or is_mlu_available()
            or is_musa_available())


@OPTIM_WRAPPERS.register_module(
    name=['AmpOptimWrapper', 'CenterXAmpOptimWrapper'])
class CenterXAmpOptimWrapper(AmpOptimWrapper):
    """mmengine's ``AmpOptimWrapper``, plus bf16 autocast on CPUs.

    Registered in the ``centerx_mm`` scope under mmengine's own name, so
    ``tools/train.py --amp`` and any mmdet config with
    ``optim_wrapper=dict(type='AmpOptimWrapper')`` train on a CPU too:

    - GPU (or NPU/MLU/MUSA): exactly mmengine's wrapper: ``dtype=None`` or
      ``'float16'`` is fp16 autocast with a dynamic loss scaler, which skips
      steps with non-finite gradients; ``'bfloat16'`` is bf16 autocast.
    - CPU with bf16 instructions (:func:`cpu_has_native_bf16`): bf16
      autocast (``dtype`` None or ``'bfloat16'``), no loss scaler (bf16 has
      fp32's exponent range).
    - CPU without them: one warning line, then plain fp32 (oneDNN would
      emulate bf16, slower than fp32).

    Master weights, optimizer state and checkpoints stay fp32 (autocast
    only casts the inputs of matmul/conv ops). The heads compute their
    losses and targets in fp32 (``CenterXHead.loss_by_feat``) and the decode
    casts to fp32 (:func:`centerx_decode`).

    On the scaler-free paths (CPU) a non-finite loss is never stepped on:
    the update it belongs to (all its accumulated micro-batches, on every
    rank) is skipped and a warning names the iteration. Every log line
    shows ``amp_skipped_total``, the number of updates skipped so far
    (``num_skipped_steps``; ``LogProcessor`` logs it as is, it averages only
    loss/time/grad_norm keys).

    Args:
        loss_scale: GPU fp16 only, as mmengine (``'dynamic'``, float, dict).
        dtype (str | torch.dtype, optional): ``'float16'``, ``'bfloat16'``
            or None (fp16 on GPU, bf16 on CPU); ``'float16'`` on a CPU is an
            error.
        use_fsdp (bool): as mmengine.
        **kwargs: :class:`OptimWrapper` arguments (``optimizer``,
            ``clip_grad``, ``accumulative_counts``).
    """

    def __init__(self,
                 loss_scale: Union[str, float, Dict] = 'dynamic',
                 dtype: Optional[Union[str, torch.dtype]] = None,
                 use_fsdp: bool = False,
                 **kwargs) -> None:
        self._nonfinite = False
        self.num_skipped_steps = 0
        if _accelerator_available():
            super().__init__(
                loss_scale=loss_scale, dtype=dtype, use_fsdp=use_fsdp,
                **kwargs)
            return
        OptimWrapper.__init__(self, **kwargs)
        self.loss_scaler = None
        self._scale_update_param = None
        if isinstance(dtype, str):
            if dtype not in self.valid_dtypes:
                raise ValueError(
                    f'optim_wrapper.dtype={dtype!r}: use one of '
                    f'{self.valid_dtypes} or None')
            dtype = getattr(torch, dtype)
        if dtype == torch.float16:
            raise ValueError(
                "optim_wrapper.dtype='float16': fp16 autocast needs a GPU; "
                "on a CPU use dtype='bfloat16' (or None)")
        if dtype is None:
            dtype = torch.bfloat16
        if dtype == torch.bfloat16 and not cpu_has_native_bf16():
            print_log(
                'AMP: this CPU has no bf16 instructions (AVX512-BF16, AMX or '
                'Arm BF16); training in fp32 instead',
                logger='current',
                level=logging.WARNING)
            dtype = torch.float32
        self.cast_dtype = None if dtype in (torch.float32,
                                            torch.float64) else dtype

    @property
    def autocast_enabled(self) -> bool:
        """Whether :meth:`optim_context` autocasts (False: fp32 fallback)."""
        return self.loss_scaler is not None or self.cast_dtype is not None

    @contextmanager
    def optim_context(self, model: nn.Module):
        """Autocast to :attr:`cast_dtype` (CPU: bf16) inside the forward."""
        if self.loss_scaler is not None:
            with super().optim_context(model):
                yield
            return
        with OptimWrapper.optim_context(self, model), torch.autocast(
                'cpu', dtype=self.cast_dtype or torch.bfloat16,
                enabled=self.cast_dtype is not None):
            yield

    def update_params(self,
                      loss: torch.Tensor,
                      step_kwargs: Optional[Dict] = None,
                      zero_kwargs: Optional[Dict] = None) -> None:
        """As :class:`OptimWrapper`; without a loss scaler, an update with a
        non-finite loss in any of its micro-batches is skipped."""
        if self.loss_scaler is None and not bool(
                torch.isfinite(loss.detach()).all()):
            self._nonfinite = True
        super().update_params(loss, step_kwargs, zero_kwargs)

    def backward(self, loss: torch.Tensor, **kwargs) -> None:
        if self.loss_scaler is not None:
            return super().backward(loss, **kwargs)
        OptimWrapper.backward(self, loss, **kwargs)

    def step(self, **kwargs) -> None:
        if self.loss_scaler is not None:
            return super().step(**kwargs)
        nonfinite = torch.tensor(float(self._nonfinite))
        if get_world_size() > 1:
            all_reduce(nonfinite, op='max')
        self._nonfinite = False
        skipped = nonfinite.item() > 0
        if skipped:
            self.num_skipped_steps += 1
        self.message_hub.update_scalar('train/amp_skipped_total',
                                       self.num_skipped_steps)
        if skipped:
            print_log(
                f'AMP: non-finite loss at iteration '
                f'{self.message_hub.get_info("iter", "?")}; update skipped '
                f'({self.num_skipped_steps} so far)',
                logger='current',
                level=logging.WARNING)
            return
        OptimWrapper.step(self, **kwargs)

    def state_dict(self) -> dict:
        if self.loss_scaler is not None:
            return super().state_dict()
        return dict(OptimWrapper.state_dict(self),
                    amp_skipped_total=self.num_skipped_steps)

    def load_state_dict(self, state_dict: dict) -> None:
        self.num_skipped_steps = int(
            state_dict.pop('amp_skipped_total', self.num_skipped_steps))
        if self.loss_scaler is None:
            # A GPU fp16 checkpoint resumed on a CPU: the scale is unused.
            state_dict.pop('loss_scaler', None)
        super().load_state_dict(state_dict)
