"""Checks of images and evaluator settings that name the file or field.

Small functions, no mmdet import: the image loader, ``tools/demo.py`` and
the runtime detectors call :func:`image_problem`; the loader calls
:func:`report_size_mismatch`; ``tools/train.py``/``tools/test.py`` call
:func:`check_evaluator_ann_files`.
"""
import os.path as osp
from typing import Optional, Sequence

#: Longer side / shorter side above which an image is refused: resized to a
#: 128..512 px network input its short side would round to 0-2 px (mmcv's
#: keep-ratio resize then fails inside OpenCV).
MAX_ASPECT_RATIO = 100

_size_reported = set()


class EvaluatorConfigError(ValueError):
    """An evaluator's ann_file is not its dataset's annotation file."""


def image_problem(shape: Sequence[int]) -> Optional[str]:
    """Why an image of ``shape`` (H, W[, C]) cannot go through the
    pipeline, or None."""
    h, w = int(shape[0]), int(shape[1])
    if min(h, w) < 1:
        return f'the image is {w}x{h} px (width x height): empty'
    if max(h, w) / min(h, w) > MAX_ASPECT_RATIO:
        return (f'the image is {w}x{h} px (width x height): an aspect ratio '
                f'over {MAX_ASPECT_RATIO}:1 cannot be resized to the network '
                'input (its short side would be under 1-2 px)')
    return None


def report_size_mismatch(results: dict, shape: Sequence[int]) -> bool:
    """Warn (once per file) when the annotation file's ``width``/``height``
    of an image differ from its decoded size. Returns True on a mismatch.

    Boxes are checked against the JSON size when the dataset is built
    (boxes outside it are dropped and counted), and the COCO metric uses it
    too, so a wrong size silently changes the ground truth."""
    json_hw = (results.get('height'), results.get('width'))
    if None in json_hw:
        return False
    h, w = int(shape[0]), int(shape[1])
    if (int(json_hw[0]), int(json_hw[1])) == (h, w):
        return False
    path = results.get('img_path')
    if path not in _size_reported:
        _size_reported.add(path)
        from mmengine.logging import print_log
        print_log(
            f'{path}: the annotation file gives width x height '
            f'{json_hw[1]}x{json_hw[0]} but the image decodes to {w}x{h}; '
            'boxes outside the JSON size were dropped when the dataset was '
            'built (see its "dropped ... boxes" line) and the COCO metric '
            'uses the JSON size. Fix the width/height in the annotation '
            'file.', logger='current', level=30)
    return True


def dataset_ann_file(dataset: dict) -> Optional[str]:
    """The annotation file a dataset config reads (``data_root`` joined as
    mmengine does), or None for wrappers and datasets without one."""
    if not isinstance(dataset, dict) or not dataset.get('ann_file'):
        return None
    ann_file = str(dataset['ann_file'])
    root = dataset.get('data_root')
    if root and not osp.isabs(ann_file):
        ann_file = osp.join(str(root), ann_file)
    return ann_file


def check_evaluator_ann_files(cfg) -> None:
    """``{val,test}_evaluator.ann_file`` must be the annotation file of
    ``{val,test}_dataloader.dataset``: otherwise the metric scores the
    predictions against other ground truth.

    Skipped for ``format_only`` evaluators, and entirely when the config
    sets ``check_evaluator_ann_file = False`` (a deliberate override).

    Raises:
        EvaluatorConfigError: naming both files and the override.
    """
    if not cfg.get('check_evaluator_ann_file', True):
        return
    for split in ('val', 'test'):
        loader = cfg.get(f'{split}_dataloader') or {}
        evaluators = cfg.get(f'{split}_evaluator') or []
        if isinstance(evaluators, dict):
            evaluators = [evaluators]
        ds_ann = dataset_ann_file(loader.get('dataset'))
        for ev in evaluators:
            ev_ann = ev.get('ann_file') if isinstance(ev, dict) else None
            if not ev_ann or ds_ann is None or ev.get('format_only'):
                continue
            if osp.realpath(ev_ann) != osp.realpath(ds_ann):
                raise EvaluatorConfigError(
                    f'{split}_evaluator.ann_file={ev_ann} is not the '
                    f'annotation file of {split}_dataloader.dataset '
                    f'({ds_ann}): the metric would score the predictions '
                    'against other ground truth. Point both at the same '
                    'file, or set check_evaluator_ann_file = False in the '
                    'config if this is deliberate.')
