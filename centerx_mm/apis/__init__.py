"""Inference of exported CenterX models (ONNX Runtime, OpenVINO, OpenCV
Caffe) and evaluation of an ONNX model against PyTorch."""
from .evaluation import evaluate_onnx, match_dets
from .runtime import (BACKENDS, BackendUnavailableError, ONNXRuntimeDetector,
                      OpenCVCaffeDetector, OpenVINODetector, RuntimeInputError,
                      apply_pipeline, build_detector, import_openvino,
                      keep_ratio_resize, load_image, peaks_numpy,
                      pipeline_of, read_onnx_settings, rescale_dets,
                      sparse_to_dets)

__all__ = [
    'BACKENDS', 'BackendUnavailableError', 'ONNXRuntimeDetector',
    'OpenCVCaffeDetector', 'OpenVINODetector', 'RuntimeInputError',
    'apply_pipeline', 'build_detector', 'evaluate_onnx', 'import_openvino',
    'keep_ratio_resize', 'load_image',
    'match_dets', 'peaks_numpy', 'pipeline_of', 'read_onnx_settings',
    'rescale_dets', 'sparse_to_dets'
]
