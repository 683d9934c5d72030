"""The best and worst images of a test run's predictions
(``tools/test.py CONFIG CKPT --out preds.pkl``) by per-image mAP, drawn:
mmdet's ``tools/analysis_tools/analyze_results.py``, unchanged, on a
centerx_mm config (same arguments as mmdet's).

    python tools/analysis_tools/analyze_results.py CONFIG preds.pkl SHOW_DIR
        [--topk 20] [--show-score-thr 0] [--cfg-options key=value ...]

Our configs set ``default_scope='centerx_mm'`` and import our registries, so
mmdet's own file works on them too; this entry point finds it in the mmdet
package (``mmdet/.mim/tools``).
"""
import os.path as osp
import sys

sys.path.insert(
    0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from centerx_mm.utils.misc import run_mmdet_tool  # noqa: E402

if __name__ == '__main__':
    run_mmdet_tool('analysis_tools/analyze_results.py')
