"""CenterXAmpOptimWrapper: bf16 autocast on CPU, fp32 fallback, skips."""
import logging

import pytest
import torch
import torch.nn as nn
from mmengine.logging import MessageHub
from mmengine.optim import OptimWrapper

from centerx_mm.engine.optimizers import amp_optim_wrapper
from centerx_mm.engine.optimizers.amp_optim_wrapper import (
    CenterXAmpOptimWrapper, cpu_has_native_bf16)
from centerx_mm.registry import OPTIM_WRAPPERS


class Net(nn.Module):

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x):
        return self.conv(x)


def make_wrapper(monkeypatch, bf16=True, **kwargs):
    monkeypatch.setattr(amp_optim_wrapper, 'cpu_has_native_bf16',
                        lambda: bf16)
    net = Net()
    wrapper = CenterXAmpOptimWrapper(
        optimizer=torch.optim.SGD(net.parameters(), lr=0.1), **kwargs)
    return net, wrapper


def test_cpuinfo_flags(tmp_path):
    info = tmp_path / 'cpuinfo'
    info.write_text('processor\t: 0\nflags\t\t: fpu sse avx512f avx512_bf16\n')
    assert cpu_has_native_bf16(str(info))
    info.write_text('processor\t: 0\nflags\t\t: fpu sse avx2 avx512f\n')
    assert not cpu_has_native_bf16(str(info))
    info.write_text('processor\t: 0\nFeatures\t: fp asimd bf16 i8mm\n')
    assert cpu_has_native_bf16(str(info))
    assert not cpu_has_native_bf16(str(tmp_path / 'missing'))


@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU path')
def test_bf16_step_keeps_fp32_weights_and_state(monkeypatch):
    net, wrapper = make_wrapper(monkeypatch, bf16=True)
    assert wrapper.autocast_enabled and wrapper.cast_dtype == torch.bfloat16
    before = net.conv.weight.detach().clone()
    with wrapper.optim_context(net):
        out = net(torch.randn(2, 3, 8, 8))
        assert out.dtype == torch.bfloat16  # the conv ran in bf16
        loss = out.float().pow(2).mean()
    assert torch.isfinite(loss)
    wrapper.update_params(loss)
    assert net.conv.weight.dtype == torch.float32
    assert not torch.equal(net.conv.weight, before)  # a step was taken
    state = wrapper.state_dict()
    assert 'loss_scaler' not in state and state['amp_skipped_total'] == 0
    wrapper.load_state_dict(
        dict(state, loss_scaler={'scale': 1024.}, amp_skipped_total=3))
    assert wrapper.num_skipped_steps == 3  # resumed


@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU path')
def test_cpu_without_bf16_falls_back_to_fp32_with_one_warning(monkeypatch):
    records = []
    monkeypatch.setattr(
        amp_optim_wrapper, 'print_log',
        lambda msg, logger=None, level=logging.INFO: records.append(
            (level, msg)))
    net, wrapper = make_wrapper(monkeypatch, bf16=False)
    assert not wrapper.autocast_enabled
    warnings = [m for lv, m in records if lv == logging.WARNING]
    assert len(warnings) == 1 and 'fp32' in warnings[0]
    with wrapper.optim_context(net):
        assert net(torch.randn(1, 3, 4, 4)).dtype == torch.float32


@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU path')
def test_fp16_on_cpu_is_a_clear_error(monkeypatch):
    with pytest.raises(ValueError, match="dtype='bfloat16'"):
        make_wrapper(monkeypatch, dtype='float16')
    with pytest.raises(ValueError, match='int8'):
        make_wrapper(monkeypatch, dtype='int8')


@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU path')
def test_nonfinite_loss_skips_its_update_only(monkeypatch):
    hub = MessageHub.get_instance('amp_skip_test')
    net, wrapper = make_wrapper(monkeypatch, accumulative_counts=2)
    wrapper.message_hub = hub
    wrapper.initialize_count_status(net, 0, 4)
    x = torch.randn(2, 3, 8, 8)

    def loss_of(scale):
        with wrapper.optim_context(net):
            return net(x).float().mean() * scale

    w0 = net.conv.weight.detach().clone()
    wrapper.update_params(loss_of(1.))
    wrapper.update_params(loss_of(float('nan')))  # 2nd micro-batch: NaN
    assert torch.equal(net.conv.weight, w0)  # the whole update skipped
    assert wrapper.num_skipped_steps == 1
    assert hub.get_scalar('train/amp_skipped_total').current() == 1
    assert all(p.grad is None or torch.isfinite(p.grad).all()
               for p in net.parameters())
    wrapper.update_params(loss_of(1.))
    wrapper.update_params(loss_of(1.))  # the next update is taken
    assert torch.isfinite(net.conv.weight).all()
    assert not torch.equal(net.conv.weight, w0)
    assert hub.get_scalar('train/amp_skipped_total').current() == 1
    assert wrapper.num_skipped_steps == 1


def test_registered_under_mmengine_name_in_our_scope():
    assert OPTIM_WRAPPERS.get('AmpOptimWrapper') is CenterXAmpOptimWrapper
    assert issubclass(CenterXAmpOptimWrapper, OptimWrapper)


def test_train_amp_flag(monkeypatch):
    from mmengine.config import Config

    from tools.train import enable_amp
    cfg = Config(dict(optim_wrapper=dict(type='OptimWrapper')))
    enable_amp(cfg)
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    cfg = Config(dict(optim_wrapper=dict(type='AmpOptimWrapper',
                                         dtype='bfloat16')))
    enable_amp(cfg)  # already AMP: kept as is
    assert cfg.optim_wrapper.dtype == 'bfloat16'
    cfg = Config(dict(optim_wrapper=dict(type='OptimWrapperDict')))
    with pytest.raises(ValueError, match='OptimWrapperDict'):
        enable_amp(cfg)
