"""Boxes in network-input pixels -> boxes in the original image: the one
implementation used by ``CenterXHead.predict_by_feat`` (torch tensors) and by
the exported runtimes (``centerx_mm.apis.rescale_dets``, numpy arrays).

Works on either array type without importing torch: only slicing, in-place
arithmetic with Python floats and ``.clip`` are used.
"""


def restore_boxes(bboxes, meta: dict, rescale: bool = True):
    """Undo the test pipeline's geometry, in place, and return ``bboxes``.

    Steps, in the order the pipeline applied them backwards:

    1. padding placed around the image: ``border`` (mmdet
       ``RandomCenterCropPad`` test mode, [top, bottom, left, right] of the
       image inside the canvas) or ``pad_param`` (letterbox transforms such as
       mmyolo's ``LetterResize``, [top, bottom, left, right] padding):
       subtract (left, top);
    2. with ``rescale`` and a ``scale_factor`` (sx, sy) in ``meta``: divide
       x by sx and y by sy (``Resize``);
    3. with ``rescale``: clip to ``ori_shape`` (H, W).

    Args:
        bboxes (Tensor | ndarray): (N, 4) float x1y1x2y2, network-input px.
        meta (dict): image meta of the test pipeline.
        rescale (bool): map to the original image (steps 2 and 3).

    Returns:
        The same object, now in original-image pixels.
    """
    pad = meta.get('pad_param', meta.get('border'))
    if pad is not None:
        top, left = float(pad[0]), float(pad[2])
        bboxes[:, 0::2] -= left
        bboxes[:, 1::2] -= top
    if not rescale:
        return bboxes
    if meta.get('scale_factor') is not None:
        sx, sy = (float(v) for v in list(meta['scale_factor'])[:2])
        bboxes[:, 0::2] /= sx
        bboxes[:, 1::2] /= sy
    if meta.get('ori_shape') is not None:
        ori_h, ori_w = meta['ori_shape'][:2]
        bboxes[:, 0::2] = bboxes[:, 0::2].clip(0, ori_w)
        bboxes[:, 1::2] = bboxes[:, 1::2].clip(0, ori_h)
    return bboxes
