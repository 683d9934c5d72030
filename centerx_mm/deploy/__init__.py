"""Deployment of centerx_mm detectors (issue 6, design notes "模型加速").

- :mod:`.export`: ONNX export with the decode in the graph, no mmdeploy.
- :mod:`.trt_check`: static check of a graph against the ONNX-TensorRT
  operator tables (8.6 and 10.1).
- :mod:`.caffe`: Caffe ``.prototxt`` + ``.caffemodel`` of the network.
- :mod:`.rewriters` and :mod:`.compat` (imported here when mmdeploy is
  installed): what mmdeploy 1.3.1 needs, ``codebase_config.module=
  ['centerx_mm.deploy']`` in the deploy configs.
"""
import importlib.util

# mmdeploy builds our model, dataset and hooks by registry type: importing
# them registers them. Nothing else in the process changes on import (the
# weights-only checkpoint loader is installed by register_all_modules()).
import centerx_mm.datasets  # noqa: F401
import centerx_mm.engine  # noqa: F401
import centerx_mm.models  # noqa: F401
from .export import (CenterXExportModel, ExportError, check_exportable,
                     check_standard_onnx, deploy_settings, export_onnx)

if importlib.util.find_spec('mmdeploy') is not None:
    from . import compat, rewriters  # noqa: F401

__all__ = [
    'CenterXExportModel', 'ExportError', 'check_exportable',
    'check_standard_onnx', 'deploy_settings', 'export_onnx'
]
