# mmdeploy (1.3.1) base: static-shape ONNX of a centerx_mm detector whose
# graph ends in the decode (centerx_decode): outputs dets [B, K, 5]
# (x1, y1, x2, y2, score) in network-input pixels and labels [B, K].
onnx_config = dict(
    type='onnx',
    export_params=True,
    keep_initializers_as_inputs=False,
    opset_version=11,
    save_file='end2end.onnx',
    input_names=['input'],
    output_names=['dets', 'labels'],
    input_shape=None,
    optimize=False)
codebase_config = dict(
    type='mmdet',
    task='ObjectDetection',
    model_type='end2end',
    # our rewriters + the torch >= 2.9 compatibility shim
    module=['centerx_mm.deploy'],
    # unused by CenterX (no NMS: K peaks, K = model.test_cfg.topk), kept
    # because mmdeploy's mmdet codebase reads it
    post_processing=dict(
        score_threshold=0.0,
        confidence_threshold=0.0,
        iou_threshold=0.5,
        max_output_boxes_per_class=100,
        pre_top_k=100,
        keep_top_k=100,
        background_label_id=-1))
