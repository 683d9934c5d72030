# ONNX Runtime, static 1x3x128x128 input (mmdeploy resizes the image to
# exactly 128x128 for a static shape, without keeping the aspect ratio).
_base_ = ['./_base_/base_static.py']
onnx_config = dict(input_shape=[128, 128])  # (w, h)
backend_config = dict(type='onnxruntime')
