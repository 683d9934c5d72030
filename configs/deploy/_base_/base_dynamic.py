_base_ = ['./base_static.py']
# batch, height and width are dynamic; K stays a constant (TopK needs it on
# TensorRT), so dets/labels have a dynamic batch only.
onnx_config = dict(
    dynamic_axes=dict(
        input=dict({
            0: 'batch',
            2: 'height',
            3: 'width'
        }),
        dets=dict({0: 'batch'}),
        labels=dict({0: 'batch'})))
