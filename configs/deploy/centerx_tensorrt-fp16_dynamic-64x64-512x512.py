# TensorRT FP16 (the peak op is a comparison cast, FP16-safe), dynamic shapes
# 1x3x64x64 .. 8x3x512x512 (multiples of 32).
_base_ = ['./centerx_tensorrt_dynamic-64x64-512x512.py']
backend_config = dict(common_config=dict(fp16_mode=True))
