"""The Caffe check matches detections with match_dets: two near-tied
detections that the Caffe+numpy and PyTorch top-K orders swap are not a
box difference (it reported a false 131 px before)."""
import numpy as np

from centerx_mm.apis import OpenCVCaffeDetector
from centerx_mm.deploy import deploy_settings
from centerx_mm.deploy.caffe import export_caffe


class SwappingDetector(OpenCVCaffeDetector):
    """Caffe detector whose first two detections come out swapped, as a
    near-tie may come out of another runtime's sort."""

    def __call__(self, imgs, score_thr=0.0):
        out = super().__call__(imgs, score_thr)
        order = np.arange(len(out['scores']))
        order[:2] = [1, 0]
        return {k: v[order] for k, v in out.items()}


def test_caffe_check_matches_detections_not_positions(tiny, tmp_path):
    from tools.export_caffe import check_images
    prototxt, caffemodel = str(tmp_path / 'n.prototxt'), str(
        tmp_path / 'n.caffemodel')
    export_caffe(tiny.model, deploy_settings(tiny.cfg), prototxt, caffemodel)
    dets = OpenCVCaffeDetector(prototxt, caffemodel)(tiny.img)
    thr = float(dets['scores'][12])  # 12 detections above
    swapped = SwappingDetector(prototxt, caffemodel)
    ours = swapped(tiny.img, score_thr=thr)
    assert len(ours['scores']) >= 2
    far = np.abs(ours['bboxes'][0] - ours['bboxes'][1]).max()
    assert far > 1.0  # a positional diff would report this
    res = check_images(tiny.model, swapped, prototxt, caffemodel,
                       [tiny.img], thr)
    assert res['caffe_dets'] == res['pytorch_dets'] == len(ours['scores'])
    assert res['dets_identical']
    assert res['max_abs_diff_bboxes'] <= 1e-3
