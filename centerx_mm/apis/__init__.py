"""Inference of exported CenterX models (ONNX Runtime, OpenCV Caffe) and
evaluation of an ONNX model against PyTorch."""
from .evaluation import evaluate_onnx, match_dets
from .runtime import (ONNXRuntimeDetector, OpenCVCaffeDetector,
                      RuntimeInputError, keep_ratio_resize, load_image,
                      peaks_numpy, rescale_dets, sparse_to_dets)

__all__ = [
    'ONNXRuntimeDetector', 'OpenCVCaffeDetector', 'RuntimeInputError',
    'evaluate_onnx', 'keep_ratio_resize', 'load_image', 'match_dets',
    'peaks_numpy', 'rescale_dets', 'sparse_to_dets'
]
