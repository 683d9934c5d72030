import json
import os.path as osp
from typing import List, Optional, Sequence

from mmdet.datasets import CocoDataset

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

    mmdet silently drops annotations whose ``category_id`` is not selected
    and silently ignores configured class names missing from the file; here
    both are errors that name the file, the class or the annotation.

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
        ann_file = self.ann_file
        raw = read_coco_json(ann_file)
        classes = tuple(self.metainfo['classes'])
        file_cats = {c['id']: c['name'] for c in raw['categories']}
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
        for ann in raw['annotations']:
            if ann.get('category_id') not in file_cats:
                raise DatasetConfigError(
                    f'annotation id {ann.get("id")} (image_id '
                    f'{ann.get("image_id")}) in {ann_file} has unknown '
                    f'category_id {ann.get("category_id")}; known ids: '
                    f'{sorted(file_cats)}')
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

        data_list = super().load_data_list()
        if self._annotated_labels is not None:
            for info in data_list:
                info['annotated_labels'] = self._annotated_labels
        return data_list
