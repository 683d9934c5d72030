"""A static non-square ONNX input letterboxes an image of either
orientation (issue 16), with the same boxes as PyTorch on that input."""
import cv2
import numpy as np
import pytest
import torch

from centerx_mm.apis import (ONNXRuntimeDetector, RuntimeInputError,
                             keep_ratio_resize)
from centerx_mm.deploy import deploy_settings, export_onnx


@pytest.mark.parametrize('image_hw', [(160, 96), (96, 160)])
def test_static_non_square_input_letterboxes_both_orientations(
        tiny, tmp_path, image_hw):
    out = str(tmp_path / 'static_64x128.onnx')
    export_onnx(tiny.model, out, deploy_settings(tiny.cfg),
                input_hw=(64, 128))
    det = ONNXRuntimeDetector(out)
    assert det.input_bhw == (1, 64, 128)
    img = cv2.resize(cv2.imread(tiny.img), image_hw[::-1])
    batch, metas = det.preprocess([img])
    h, w = image_hw
    scale = min(64 / h, 128 / w)
    assert metas[0]['img_shape'] == (round(h * scale), round(w * scale))
    ours = det(img)
    with torch.no_grad():
        maps = tiny.model(torch.from_numpy(batch), mode='tensor')
        ref = tiny.model.bbox_head.predict_by_feat(
            *maps, [dict(metas[0], batch_input_shape=(64, 128))])[0]
    assert len(ours['scores']) == len(ref) > 0
    np.testing.assert_allclose(ours['bboxes'], ref.bboxes.numpy(), atol=1e-3)
    assert (ours['bboxes'][:, 2] <= w + 1e-3).all()
    assert (ours['bboxes'][:, 3] <= h + 1e-3).all()


def test_resize_of_an_extreme_aspect_ratio_is_named():
    with pytest.raises(RuntimeInputError,
                       match=r'image of 4000x1 px .* resized to 128x0 px'):
        keep_ratio_resize(np.zeros((1, 4000, 3), np.uint8), (128, 128))
