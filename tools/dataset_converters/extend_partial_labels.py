"""Label more classes in a partially labelled COCO JSON, from the fully
labelled JSON of the same images: the data of an overlapping-teachers
experiment (two partial datasets that both label one class).

    python tools/dataset_converters/extend_partial_labels.py \
        data/shapes/annotations/instances_train_part1.json \
        --full data/shapes/annotations/instances_train.json \
        --classes ring \
        --out data/shapes/annotations/instances_train_part1_ring.json

The output is PARTIAL with, for each of its images, the annotations of
``--classes`` copied from ``--full`` (same ids), and ``"annotated_classes"``
extended by them (in category order). Images, categories and PARTIAL's own
annotations are unchanged. Written atomically.
"""
import argparse
import json
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(
    __file__)))))

from centerx_mm.datasets import DatasetConfigError  # noqa: E402
from centerx_mm.datasets.centerx_coco import read_coco_json  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Add the labels of some classes to a partially labelled '
        'COCO JSON from the fully labelled one')
    parser.add_argument('partial', help='partially labelled COCO JSON')
    parser.add_argument('--full', required=True,
                        help='fully labelled COCO JSON of the same images')
    parser.add_argument('--classes', required=True,
                        help='comma-separated class names to add')
    parser.add_argument('--out', required=True, help='output COCO JSON')
    return parser.parse_args(argv)


def extend_partial_labels(partial: dict, full: dict, classes,
                          partial_name: str = 'partial',
                          full_name: str = '--full') -> dict:
    """Return a copy of ``partial`` that also labels ``classes``.

    Raises:
        DatasetConfigError: a class is not a category, the category lists
            differ, ``partial`` has no ``annotated_classes`` or already
            labels a class, an image of ``partial`` is not in ``full``, or
            an annotation id would occur twice.
    """
    names = {c['id']: c['name'] for c in partial['categories']}
    if names != {c['id']: c['name'] for c in full['categories']}:
        raise DatasetConfigError(
            f'{partial_name} and {full_name} have different categories')
    unknown = [c for c in classes if c not in names.values()]
    if unknown:
        raise DatasetConfigError(
            f'--classes {unknown} are not categories of {partial_name}: '
            f'{sorted(names.values())}')
    annotated = partial.get('annotated_classes')
    if annotated is None:
        raise DatasetConfigError(
            f'{partial_name} has no top-level "annotated_classes": it is '
            'not a partially labelled file')
    already = [c for c in classes if c in annotated]
    if already:
        raise DatasetConfigError(
            f'{partial_name} already labels {already}')
    image_ids = {img['id'] for img in partial['images']}
    missing = image_ids - {img['id'] for img in full['images']}
    if missing:
        raise DatasetConfigError(
            f'{len(missing)} images of {partial_name} are not in '
            f'{full_name}, e.g. id {min(missing)}')
    cat_ids = {i for i, n in names.items() if n in classes}
    added = [
        a for a in full['annotations']
        if a['image_id'] in image_ids and a['category_id'] in cat_ids
    ]
    ids = [a['id'] for a in partial['annotations']] + [a['id'] for a in added]
    if len(set(ids)) != len(ids):
        raise DatasetConfigError(
            f'annotation ids of {partial_name} and {full_name} overlap: '
            'they are not the same dataset')
    out = dict(partial)
    out['annotations'] = sorted(partial['annotations'] + added,
                                key=lambda a: a['id'])
    out['annotated_classes'] = [
        c['name'] for c in partial['categories']
        if c['name'] in annotated or c['name'] in classes
    ]
    out['extended_labels'] = dict(
        source=full_name, classes=list(classes), num_added=len(added))
    return out


def main(argv=None) -> dict:
    args = parse_args(argv)
    classes = [c.strip() for c in args.classes.split(',') if c.strip()]
    if not classes:
        raise DatasetConfigError('--classes is empty')
    out = extend_partial_labels(
        read_coco_json(args.partial, 'partial'),
        read_coco_json(args.full, '--full'), classes, args.partial,
        args.full)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    tmp = args.out + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(out, f)
    os.replace(tmp, args.out)
    print(f'{args.out}: {out["extended_labels"]["num_added"]} '
          f'{"/".join(classes)} boxes added; annotated_classes '
          f'{out["annotated_classes"]}')
    return out


if __name__ == '__main__':
    main()
