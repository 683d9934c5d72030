# TensorRT (8.6, as mmdeploy 1.3.1's plugins; no plugin is needed by this
# graph), FP32, dynamic shapes 1x3x64x64 .. 8x3x512x512 (multiples of 32).
_base_ = ['./_base_/base_dynamic.py']
backend_config = dict(
    type='tensorrt',
    common_config=dict(fp16_mode=False, max_workspace_size=1 << 30),
    model_inputs=[
        dict(
            input_shapes=dict(
                input=dict(
                    min_shape=[1, 3, 64, 64],
                    opt_shape=[1, 3, 128, 128],
                    max_shape=[8, 3, 512, 512])))
    ])
