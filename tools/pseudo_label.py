"""Pseudo labels for partially labelled data: the "pseudo label" baseline of
multi-teacher distillation (design notes, "多模型蒸馏": train a model on A and
one on B, predict the missing labels, train on the completed data).

    python tools/pseudo_label.py CONFIG --ann-file PART.json --img-dir DIR \
        --out OUT.json [--score-thr 0.3] [--batch-size 8] \
        [--annotated-classes ring,star] [--cfg-options key=value ...]

CONFIG is a multi-teacher config (``model.teachers``, e.g.
``configs/distill/mtkd-nolabel_2xr50-r18_partial_shapes.py``): each teacher is
run over every image of ``--ann-file`` (a progress bar is shown) for the
classes it teaches that the file does not annotate (its top-level
``"annotated_classes"``, or ``--annotated-classes``); its boxes with a score >=
``--score-thr`` are added to the ground truth. The output is the input COCO
JSON plus those boxes (``"score"`` and ``"pseudo": true`` set on each; ``bbox``
in original image pixels, ``[x, y, w, h]``), ``"annotated_classes"`` extended
by the pseudo-labelled classes and a ``"pseudo_label"`` record of
the teachers, threshold and box counts. Images are preprocessed with
CONFIG's test pipeline.
"""
import argparse
import copy
import json
import os
import os.path as osp
import sys
from typing import List, Optional, Sequence

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import torch  # noqa: E402
from mmengine.config import DictAction  # noqa: E402

from centerx_mm.datasets.centerx_coco import read_coco_json  # noqa: E402
from centerx_mm.utils import register_all_modules  # noqa: E402
from tools.train import load_config  # noqa: E402


class PseudoLabelError(ValueError):
    """Inputs of tools/pseudo_label.py do not fit together."""


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Complete a partially labelled COCO JSON with teacher '
        'boxes (pseudo labels)')
    parser.add_argument(
        'config', help='multi-teacher config (its model.teachers are run)')
    parser.add_argument(
        '--ann-file', required=True, help='partially labelled COCO JSON')
    parser.add_argument(
        '--img-dir', required=True,
        help='folder the JSON\'s image file_names are relative to')
    parser.add_argument('--out', required=True, help='output COCO JSON')
    parser.add_argument(
        '--score-thr', type=float, default=0.3,
        help='keep teacher boxes with score >= this')
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument(
        '--annotated-classes',
        help='comma-separated classes the JSON labels (default: its '
        '"annotated_classes" key)')
    parser.add_argument(
        '--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument(
        '--no-progress', action='store_true', help='no progress bar')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, e.g. '
        'model.teachers.0.checkpoint=A.pth')
    args = parser.parse_args(argv)
    if not 0 <= args.score_thr <= 1:
        parser.error(f'--score-thr must be in [0, 1], got {args.score_thr}')
    if args.batch_size < 1:
        parser.error(f'--batch-size must be >= 1, got {args.batch_size}')
    return args


def annotated_classes_of(coco: dict, ann_file: str,
                         override: Optional[Sequence[str]]) -> List[str]:
    """Classes the file labels: ``override``, else its top-level key."""
    names = [c['name'] for c in coco['categories']]
    annotated = list(override) if override is not None else \
        coco.get('annotated_classes')
    if annotated is None:
        raise PseudoLabelError(
            f'{ann_file} has no top-level "annotated_classes": say which '
            'classes it labels with --annotated-classes (a fully labelled '
            'file needs no pseudo labels)')
    unknown = [c for c in annotated if c not in names]
    if unknown:
        raise PseudoLabelError(
            f'annotated classes {unknown} are not categories of {ann_file}: '
            f'{names}')
    return list(annotated)


def test_pipeline_of(cfg):
    """CONFIG's test pipeline without annotation loading."""
    from mmcv.transforms import Compose

    from centerx_mm.registry import TRANSFORMS
    return Compose([
        TRANSFORMS.build(copy.deepcopy(t))
        for t in cfg.test_dataloader.dataset.pipeline
        if t['type'] not in ('LoadAnnotations', 'mmdet.LoadAnnotations')
    ])


def pseudo_label(cfg,
                 ann_file: str,
                 img_dir: str,
                 score_thr: float = 0.3,
                 batch_size: int = 8,
                 annotated_classes: Optional[Sequence[str]] = None,
                 device: str = 'cpu',
                 progress: bool = True) -> dict:
    """Return the COCO dict of ``ann_file`` completed with teacher boxes.

    Raises:
        FileNotFoundError / DatasetConfigError: ``ann_file`` is missing, not
            JSON or not COCO (:func:`read_coco_json`).
        PseudoLabelError: its annotated classes are unknown, a teacher class
            is not one of its categories, or no teacher has a class to add.
        TeacherConfigError: see :func:`load_teachers`.
    """
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import DefaultScope

    from centerx_mm.models.detectors.distiller import \
        load_teachers

    coco = read_coco_json(ann_file, '--ann-file')
    annotated = annotated_classes_of(coco, ann_file, annotated_classes)
    cat_id = {c['name']: c['id'] for c in coco['categories']}
    teachers = load_teachers(cfg.model.get('teachers'))
    jobs = []  # (model, {teacher label: category id})
    owner = {}
    for i, (_, names, _) in enumerate(teachers):
        for name in names:
            if name in owner and name not in annotated:
                # boxes of two teachers for one object would both become GT
                raise PseudoLabelError(
                    f'model.teachers[{owner[name]}] and model.teachers[{i}] '
                    f'both teach {name!r}: pseudo labels need one teacher '
                    f'per class (use multi-teacher KD, which merges '
                    f'overlapping teachers, or give the class to one)')
            owner.setdefault(name, i)
    for i, (teacher, names, channels) in enumerate(teachers):
        missing = [n for n in names if n not in cat_id]
        if missing:
            raise PseudoLabelError(
                f'model.teachers[{i}] classes {missing} are not categories '
                f'of {ann_file}: {sorted(cat_id)}')
        todo = {ch: cat_id[n] for n, ch in zip(names, channels)
                if n not in annotated}
        if todo:
            jobs.append((teacher.model.to(device), todo))
    if not jobs:
        raise PseudoLabelError(
            f'{ann_file} already labels every class the teachers teach '
            f'({annotated}): nothing to pseudo-label')

    pipeline = test_pipeline_of(cfg)
    images = coco['images']
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(images), desc='pseudo labels', unit='img',
                   file=sys.stderr)
    next_id = max((a['id'] for a in coco['annotations']), default=0) + 1
    new_anns = []
    with DefaultScope.overwrite_default_scope('centerx_mm'):
        for start in range(0, len(images), batch_size):
            chunk = images[start:start + batch_size]
            data = pseudo_collate([
                pipeline(
                    dict(
                        img_path=osp.join(img_dir, im['file_name']),
                        img_id=im['id'])) for im in chunk
            ])
            for model, todo in jobs:
                with torch.no_grad():
                    results = model.test_step(data)
                for im, res in zip(chunk, results):
                    pred = res.pred_instances
                    for box, score, label in zip(pred.bboxes.tolist(),
                                                 pred.scores.tolist(),
                                                 pred.labels.tolist()):
                        if label not in todo or score < score_thr:
                            continue
                        x1, y1, x2, y2 = box
                        w, h = x2 - x1, y2 - y1
                        if w <= 0 or h <= 0:
                            continue
                        new_anns.append(
                            dict(
                                id=next_id,
                                image_id=im['id'],
                                category_id=todo[label],
                                bbox=[round(v, 2) for v in (x1, y1, w, h)],
                                area=round(w * h, 2),
                                iscrowd=0,
                                score=round(score, 4),
                                pseudo=True))
                        next_id += 1
            if bar is not None:
                bar.update(len(chunk))
    if bar is not None:
        bar.close()

    out = dict(coco)
    out['annotations'] = list(coco['annotations']) + new_anns
    labelled = set(annotated) | {
        n for _, names, _ in teachers for n in names
    }
    out['annotated_classes'] = [
        c['name'] for c in coco['categories'] if c['name'] in labelled
    ]
    id_name = {v: k for k, v in cat_id.items()}
    counts = {}
    for ann in new_anns:
        name = id_name[ann['category_id']]
        counts[name] = counts.get(name, 0) + 1
    out['pseudo_label'] = dict(
        source_ann_file=ann_file,
        gt_classes=annotated,
        teachers=[
            dict(config=t.config, checkpoint=t.checkpoint, classes=list(n))
            for t, n, _ in teachers
        ],
        score_thr=score_thr,
        num_pseudo_boxes=counts)
    return out


def write_json(obj: dict, path: str) -> None:
    """Write atomically (a temp file renamed into place)."""
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(obj, f)
    os.replace(tmp, path)


def main(argv=None) -> dict:
    args = parse_args(argv)
    register_all_modules(init_default_scope=False)
    cfg = load_config(args.config, args.cfg_options)
    if not cfg.get('model', {}).get('teachers'):
        raise PseudoLabelError(
            f'{args.config} has no model.teachers: pass a multi-teacher '
            'config (e.g. configs/distill/'
            'mtkd-nolabel_2xr50-r18_partial_shapes.py)')
    if not osp.isdir(args.img_dir):
        raise FileNotFoundError(f'--img-dir not found: {args.img_dir}')
    annotated = None if args.annotated_classes is None else [
        c.strip() for c in args.annotated_classes.split(',') if c.strip()
    ]
    out = pseudo_label(
        cfg, args.ann_file, args.img_dir, args.score_thr, args.batch_size,
        annotated, args.device, progress=not args.no_progress)
    write_json(out, args.out)
    info = out['pseudo_label']
    print(f'{args.out}: {len(out["images"])} images, '
          f'{len(out["annotations"])} boxes, pseudo boxes per class '
          f'{info["num_pseudo_boxes"]} (score >= {args.score_thr})')
    return out


if __name__ == '__main__':
    main()
