"""mmdeploy 1.3.1 on torch >= 2.9: the whole compatibility shim.

mmdeploy predates two torch changes; both fixes are mmdeploy function
rewriters, so they act only inside mmdeploy's ``RewriterContext`` (the
conversion) and torch is untouched elsewhere:

1. ``torch.onnx.export`` defaults to the dynamo exporter since torch 2.9;
   mmdeploy needs the TorchScript one -> call it with ``dynamo=False``.
2. mmdeploy rewrites ``torch.onnx.utils._model_to_graph`` (opset >= 13
   Squeeze/Unsqueeze pass, custom passes). The function now lives in
   ``torch.onnx._internal.torchscript_exporter.utils`` and is called from
   there, so mmdeploy's rewriter is also registered under that name.
"""
import contextlib
import importlib
import inspect

import torch
from mmdeploy.apis.onnx.optimizer import model_to_graph__custom_optimizer
from mmdeploy.core import FUNCTION_REWRITER

#: where the TorchScript exporter's ``_model_to_graph`` lives in torch >= 2.9.
MOVED_MODEL_TO_GRAPH = (
    'torch.onnx._internal.torchscript_exporter.utils._model_to_graph')


def needs_dynamo_false() -> bool:
    """True when ``torch.onnx.export`` defaults to ``dynamo=True``."""
    param = inspect.signature(torch.onnx.export).parameters.get('dynamo')
    return param is not None and param.default is True


def model_to_graph_moved() -> bool:
    """True when ``_model_to_graph`` is in the moved module."""
    module, _, name = MOVED_MODEL_TO_GRAPH.rpartition('.')
    try:
        return hasattr(importlib.import_module(module), name)
    except ImportError:
        return False


def onnx_export__torchscript(*args, **kwargs):
    """``torch.onnx.export`` with ``dynamo=False`` unless given."""
    ctx = FUNCTION_REWRITER.get_context()
    kwargs.setdefault('dynamo', False)
    return ctx.origin_func(*args, **kwargs)


if needs_dynamo_false():
    FUNCTION_REWRITER.register_rewriter('torch.onnx.export')(
        onnx_export__torchscript)
if model_to_graph_moved():
    FUNCTION_REWRITER.register_rewriter(MOVED_MODEL_TO_GRAPH)(
        model_to_graph__custom_optimizer)


@contextlib.contextmanager
def cpu_export_for_gpu_backends():
    """Let mmdeploy's ``torch2onnx`` run on ``device='cpu'`` for TensorRT.

    mmdeploy refuses to build a TensorRT task processor on a CPU device,
    yet its ONNX export runs on CPU anyway ("force to export on cpu" in
    ``mmdeploy.apis.onnx.export``). Only the ONNX stage is run this way; the
    engine build (``onnx2tensorrt``) still needs TensorRT and a GPU.
    """
    from mmdeploy.apis.utils import utils
    original = utils.check_backend_device
    utils.check_backend_device = lambda deploy_cfg, device: None
    try:
        yield
    finally:
        utils.check_backend_device = original


def reset_task_scope() -> None:
    """Let mmdeploy's next task processor set the model config's
    ``default_scope`` again.

    mmdeploy 1.3.1's ``BaseTask`` makes a ``DefaultScope`` instance named
    'BaseTask' the current scope only when it first creates it; later tasks
    in the same process reuse it without making it current, after mmdet's
    ``register_all_modules(True)`` has switched the scope to 'mmdet', so our
    ``CenterX`` is then not found ('CenterX is not in the mmdet::model
    registry'). Forgetting the instance makes every task start as the first.
    """
    from mmengine.registry import DefaultScope
    DefaultScope._instance_dict.pop('BaseTask', None)
