"""Show or save the training pipeline's output (augmented images with their
GT boxes): mmdet's ``tools/analysis_tools/browse_dataset.py``, unchanged,
on a centerx_mm config (same arguments as mmdet's).

    python tools/analysis_tools/browse_dataset.py CONFIG --output-dir DIR
        --not-show [--cfg-options key=value ...]

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
    run_mmdet_tool('analysis_tools/browse_dataset.py')
