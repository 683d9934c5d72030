# ONNX Runtime, dynamic batch/height/width: the same input tensors as
# tools/test.py (keep-ratio resize, batch padded to a multiple of 32).
_base_ = ['./_base_/base_dynamic.py']
backend_config = dict(type='onnxruntime')
