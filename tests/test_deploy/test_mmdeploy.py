"""mmdeploy 1.3.1 path: the torch >= 2.9 shim and tools/deploy.py with the
ONNX Runtime backend end to end on a tiny model."""
import os.path as osp

import onnx
import pytest
import torch
from mmengine.registry import DefaultScope

import centerx_mm.deploy  # noqa: F401  (registers rewriters + shim)
from centerx_mm.deploy import compat

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_shim_is_active_for_this_torch():
    torch_major_minor = tuple(int(v) for v in torch.__version__.split('.')[:2])
    assert compat.needs_dynamo_false() == (torch_major_minor >= (2, 9))
    assert compat.model_to_graph_moved() == (torch_major_minor >= (2, 9))


def test_rewriter_context_exports_with_torchscript_and_custom_passes(
        tmp_path):
    """Inside mmdeploy's RewriterContext a plain ``torch.onnx.export`` (as
    mmdeploy calls it) uses the TorchScript exporter, and the moved
    ``_model_to_graph`` is rewritten (mmdeploy's custom-pass hook runs)."""
    from mmdeploy.core import RewriterContext
    seen = {}

    class Probe(torch.nn.Module):

        def forward(self, x):
            seen['tracing'] = torch.jit.is_tracing()
            return x.relu() + 1

    def custom_pass(ctx, graph, params_dict, torch_out):
        seen['pass'] = graph.kind() if hasattr(graph, 'kind') else True
        return graph, params_dict, torch_out

    out = str(tmp_path / 'probe.onnx')
    with RewriterContext(
            cfg={}, backend='onnxruntime', opset=11,
            onnx_custom_passes=custom_pass), torch.no_grad():
        torch.onnx.export(Probe(), (torch.randn(1, 3),), out,
                          opset_version=11)
    assert seen['tracing'] is True  # TorchScript tracing, not dynamo
    assert 'pass' in seen  # _model_to_graph rewriter ran
    assert {n.op_type for n in onnx.load(out).graph.node} >= {'Relu', 'Add'}
    # outside the context torch is untouched
    from torch.onnx._internal.torchscript_exporter import utils
    assert utils._model_to_graph.__module__ == utils.__name__


def test_deploy_tool_onnxruntime_end_to_end(tiny, tmp_path):
    from tools.deploy import main
    work = str(tmp_path / 'work')
    with DefaultScope.overwrite_default_scope('centerx_mm'):
        report = main([
            osp.join(REPO, 'configs/deploy/centerx_onnxruntime_dynamic.py'),
            tiny.cfg_file, tiny.ckpt, tiny.img, '--work-dir', work, '--test'
        ])
    model = onnx.load(report['onnx'])
    assert [o.name for o in model.graph.output] == ['dets', 'labels']
    assert 'TopK' in {n.op_type for n in model.graph.node}
    assert report['num_dets'] == 100
    assert report['max_abs_diff_bboxes_vs_pytorch'] <= 1e-3
    assert report['labels_identical']
    metrics = report['test_metrics']
    assert 0.0 <= metrics['coco/bbox_mAP'] <= 1.0


@pytest.mark.parametrize('deploy_cfg', [
    'centerx_onnxruntime_static-128x128.py',
    'centerx_onnxruntime_dynamic.py',
    'centerx_tensorrt_dynamic-64x64-512x512.py',
    'centerx_tensorrt-fp16_dynamic-64x64-512x512.py',
])
def test_deploy_configs_load(deploy_cfg):
    from mmdeploy.utils import get_backend, is_dynamic_shape, load_config
    cfg = load_config(osp.join(REPO, 'configs/deploy', deploy_cfg))[0]
    assert cfg.codebase_config.module == ['centerx_mm.deploy']
    assert cfg.onnx_config.output_names == ['dets', 'labels']
    assert is_dynamic_shape(cfg) == ('dynamic' in deploy_cfg)
    backend = get_backend(cfg).value
    assert backend == ('tensorrt' if 'tensorrt' in deploy_cfg else
                       'onnxruntime')
    if backend == 'tensorrt':
        shapes = cfg.backend_config.model_inputs[0].input_shapes.input
        assert shapes.min_shape == [1, 3, 64, 64]
        assert shapes.max_shape == [8, 3, 512, 512]
        assert cfg.backend_config.common_config.fp16_mode == (
            'fp16' in deploy_cfg)


def test_deploy_tool_twice_in_one_process_after_mmdet_scope(tiny, tmp_path):
    """mmdeploy reuses its 'BaseTask' scope instance; after another deploy
    and mmdet's register_all_modules (scope 'mmdet') in the same process,
    the model must still build in our scope (reset_task_scope)."""
    from mmdet.utils import register_all_modules as mmdet_register

    from tools.deploy import main
    cfg = osp.join(REPO, 'configs/deploy/centerx_onnxruntime_dynamic.py')
    for i in range(2):
        mmdet_register(True)  # what mmdet's own tools do first
        report = main([cfg, tiny.cfg_file, tiny.ckpt, tiny.img,
                       '--work-dir', str(tmp_path / f'w{i}')])
        assert report['labels_identical']
