import json
import math
import os.path as osp
from collections import Counter, defaultdict
from typing import Dict, List, Optional, Sequence

from mmdet.datasets import CocoDataset
from mmengine.logging import print_log

from centerx_mm.registry import DATASETS


class DatasetConfigError(ValueError):
    """A dataset's annotation file does not fit its config."""


def read_coco_json(ann_file: str, field: str = 'ann_file') -> dict:
    """Load a COCO JSON; errors name ``field`` (the config key or CLI flag
    the path came from) and the file.

    Raises:
        FileNotFoundError: no such file.
        DatasetConfigError: not valid JSON, or no images/annotations/
            categories key.
    """
    if not osp.isfile(ann_file):
        raise FileNotFoundError(f'{field} not found: {ann_file}')
    try:
        with open(ann_file) as f:
            raw = json.load(f)
    except json.JSONDecodeError as err:
        raise DatasetConfigError(
            f'{field} {ann_file} is not valid JSON: {err}') from None
    for key in ('images', 'annotations', 'categories'):
        if key not in raw:
            raise DatasetConfigError(
                f'{field} {ann_file} is not COCO format: no "{key}" key')
    return raw


@DATASETS.register_module()
class CenterXCocoDataset(CocoDataset):
    """mmdet ``CocoDataset`` that checks its annotation file at start-up.

    Labels follow ``metainfo['classes']`` by category name (mmdet follows
    the order of the file's categories, so a file listing them in another
    order silently swaps classes). Malformed fields, duplicate image ids,
    category ids or names, unknown category ids and configured class names
    missing from the file are errors that name the file, the annotation or
    image id and the field. Boxes mmdet drops (NaN, < 1 px, outside the
    image's JSON size, ...) are dropped too, and counted per reason in the
    log and in ``self.dropped_boxes``.

    Partially labelled data (multi-teacher distillation): ``annotated_classes``
    names the subset of ``metainfo['classes']`` this file labels (default:
    the file's top-level ``"annotated_classes"`` key if present, else all).
    Each sample then carries ``annotated_labels`` (class indices), which
    ``CenterXHead`` uses to switch off heatmap negatives of unlabelled
    classes when configured to.

    Args:
        annotated_classes (Sequence[str], optional): labelled class names.
        allow_unlisted_categories (bool): if True, annotations of categories
            present in the file but not in ``metainfo['classes']`` are
            dropped (mmdet's behaviour for class subsets) instead of raising.
    """

    def __init__(self,
                 *args,
                 annotated_classes: Optional[Sequence[str]] = None,
                 allow_unlisted_categories: bool = False,
                 **kwargs) -> None:
        self.annotated_classes = (
            tuple(annotated_classes) if annotated_classes is not None else None)
        self.allow_unlisted_categories = allow_unlisted_categories
        super().__init__(*args, **kwargs)

    def load_data_list(self) -> List[dict]:
        """Read and check the annotation file; labels follow
        ``metainfo['classes']`` by category NAME, whatever the order of the
        file's categories. Boxes mmdet would drop are dropped as there, and
        counted per reason in the log (``self.dropped_boxes``)."""
        ann_file = self.ann_file
        raw = read_coco_json(ann_file)
        classes = self.metainfo['classes']
        if isinstance(classes, str):
            raise DatasetConfigError(
                f'metainfo.classes is the string {classes!r}, not a tuple of '
                f'class names: write classes=({classes!r}, ) -- a one-class '
                'tuple needs the trailing comma')
        classes = tuple(classes)
        images = check_images(raw['images'], ann_file)
        file_cats = check_categories(raw['categories'], ann_file)
        missing = [c for c in classes if c not in file_cats.values()]
        if missing:
            raise DatasetConfigError(
                f'classes {missing} (metainfo.classes of the dataset config) '
                f'are not among the categories of {ann_file}: '
                f'{sorted(file_cats.values())}')
        unlisted = sorted(set(file_cats.values()) - set(classes))
        if unlisted and not self.allow_unlisted_categories:
            raise DatasetConfigError(
                f'{ann_file} has categories {unlisted} that are not in '
                f'metainfo.classes {list(classes)}; add them to the classes, '
                'or set allow_unlisted_categories=True to drop their boxes.')
        check_annotations(raw['annotations'], file_cats, ann_file)
        annotated = self.annotated_classes
        if annotated is None and 'annotated_classes' in raw:
            annotated = tuple(raw['annotated_classes'])
        if annotated is not None:
            unknown = [c for c in annotated if c not in classes]
            if unknown:
                raise DatasetConfigError(
                    f'annotated_classes {unknown} of {ann_file} are not in '
                    f'the class list {list(classes)}')
        self._annotated_labels = None if annotated is None else sorted(
            classes.index(c) for c in annotated)

        # By name: label i is classes[i], whatever the file's order.
        name_to_id = {name: cat_id for cat_id, name in file_cats.items()}
        self.cat_ids = [name_to_id[c] for c in classes]
        self.cat2label = {cat_id: i for i, cat_id in enumerate(self.cat_ids)}
        self.cat_img_map = defaultdict(list)
        kept, dropped = defaultdict(list), Counter()
        for ann in raw['annotations']:
            image = images.get(ann['image_id'])
            if image is None:
                dropped['image_id not among the images'] += 1
                continue
            self.cat_img_map[ann['category_id']].append(ann['image_id'])
            reason = drop_reason(ann, image, self.cat2label)
            if reason:
                dropped[reason] += 1
            else:
                kept[ann['image_id']].append(ann)
        self.dropped_boxes = dict(dropped)
        if dropped:
            print_log(
                f'{ann_file}: dropped {sum(dropped.values())} of '
                f'{len(raw["annotations"])} boxes: ' + ', '.join(
                    f'{n} {reason}' for reason, n in dropped.most_common()),
                logger='current', level=30)
        data_list = [
            self.parse_data_info(
                dict(raw_img_info=dict(img, img_id=img_id),
                     raw_ann_info=kept[img_id]))
            for img_id, img in images.items()
        ]
        if self._annotated_labels is not None:
            for info in data_list:
                info['annotated_labels'] = self._annotated_labels
        return data_list


def _where(ann_file: str, kind: str, item: dict) -> str:
    return f'{kind} id {item.get("id")!r} in {ann_file}'


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_images(images, ann_file: str) -> Dict[int, dict]:
    """``images`` of a COCO file by id (file order).

    Raises:
        DatasetConfigError: no images, a duplicate id, or a missing or
            malformed ``id``/``file_name``/``width``/``height`` (the image
            id and field are named).
    """
    if not isinstance(images, list) or not images:
        raise DatasetConfigError(
            f'{ann_file} has no images: its "images" list is empty')
    by_id = {}
    for img in images:
        where = _where(ann_file, 'image', img)
        if not isinstance(img.get('id'), int) or isinstance(img['id'], bool):
            raise DatasetConfigError(
                f'{where}: "id" must be an integer')
        if img['id'] in by_id:
            raise DatasetConfigError(
                f'{ann_file} lists image id {img["id"]} twice '
                f'({by_id[img["id"]].get("file_name")!r} and '
                f'{img.get("file_name")!r}): the boxes of one would be '
                'attached to the other')
        if not isinstance(img.get('file_name'), str) or not img['file_name']:
            raise DatasetConfigError(
                f'{where}: "file_name" is missing or not a string '
                f'({img.get("file_name")!r})')
        for key in ('width', 'height'):
            if not _is_number(img.get(key)) or not img[key] > 0:
                raise DatasetConfigError(
                    f'{where} ({img["file_name"]}): "{key}" must be a '
                    f'positive number of pixels, got {img.get(key)!r}')
        by_id[img['id']] = img
    return by_id


def check_categories(categories, ann_file: str) -> Dict[int, str]:
    """``{id: name}`` of a COCO file's categories.

    Raises:
        DatasetConfigError: a duplicate id or name, or a malformed one.
    """
    file_cats = {}
    for cat in categories:
        where = _where(ann_file, 'category', cat)
        if not isinstance(cat.get('id'), int) or isinstance(cat['id'], bool):
            raise DatasetConfigError(f'{where}: "id" must be an integer')
        if not isinstance(cat.get('name'), str):
            raise DatasetConfigError(f'{where}: "name" must be a string')
        if cat['id'] in file_cats:
            raise DatasetConfigError(
                f'{ann_file} lists category id {cat["id"]} twice')
        if cat['name'] in file_cats.values():
            raise DatasetConfigError(
                f'{ann_file} lists category name {cat["name"]!r} twice '
                f'(ids {[i for i, n in file_cats.items() if n == cat["name"]]}'
                f' and {cat["id"]}): labels are matched by name, so names '
                'must be unique')
        file_cats[cat['id']] = cat['name']
    return file_cats


def check_annotations(anns, file_cats: Dict[int, str], ann_file: str):
    """Every annotation: a unique id, a known integer ``category_id``, a
    ``bbox`` of 4 numbers and a numeric ``area``.

    Raises:
        DatasetConfigError: naming the annotation id and the field.
    """
    seen = set()
    for ann in anns:
        where = f'annotation id {ann.get("id")!r} (image_id ' \
            f'{ann.get("image_id")!r}) in {ann_file}'
        if ann.get('id') in seen:
            raise DatasetConfigError(
                f'{ann_file} lists annotation id {ann["id"]!r} twice')
        seen.add(ann.get('id'))
        cat = ann.get('category_id')
        if cat not in file_cats:
            hint = ''
            if isinstance(cat, str) and cat.strip().lstrip('-').isdigit():
                hint = (f' (the string {cat!r}: COCO ids are integers, '
                        f'write {int(cat)} without quotes)')
            raise DatasetConfigError(
                f'{where} has unknown category_id {cat!r}{hint}; known ids: '
                f'{sorted(file_cats)}')
        bbox = ann.get('bbox')
        if not isinstance(bbox, list) or len(bbox) != 4 or not all(
                _is_number(v) for v in bbox):
            raise DatasetConfigError(
                f'{where}: "bbox" must be [x, y, width, height] (4 numbers), '
                f'got {bbox!r}')
        if not _is_number(ann.get('area')):
            raise DatasetConfigError(
                f'{where}: "area" must be a number, got {ann.get("area")!r}')


def drop_reason(ann: dict, image: dict, cat2label: dict) -> Optional[str]:
    """Why mmdet's ``CocoDataset`` would drop this box, or None."""
    x1, y1, w, h = ann['bbox']
    if ann.get('ignore', False):
        return 'with ignore=1'
    if not all(math.isfinite(v) for v in (x1, y1, w, h, ann['area'])):
        return 'with NaN or inf'
    if w < 1 or h < 1:
        return 'with width or height < 1 px'
    if ann['area'] <= 0:
        return 'with area <= 0'
    inter_w = min(x1 + w, image['width']) - max(x1, 0)
    inter_h = min(y1 + h, image['height']) - max(y1, 0)
    if inter_w <= 0 or inter_h <= 0:
        return 'outside the image (JSON width x height)'
    if ann['category_id'] not in cat2label:
        return 'of categories not in metainfo.classes'
    return None
