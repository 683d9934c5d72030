import copy
import os
import os.path as osp
from typing import List, Sequence, Tuple

from mmdet.datasets import BaseDetDataset, CocoDataset
from mmdet.datasets.transforms import PackDetInputs
from PIL import Image

from centerx_mm.registry import DATASETS
from .centerx_coco import DatasetConfigError

IMG_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


@DATASETS.register_module()
class UnlabeledImageDataset(BaseDetDataset):
    """Images without annotations, for distillation without labels (design
    notes, "模型蒸馏" point 7): no JSON needed.

    The images are either every file under ``data_prefix['img']`` whose name
    ends with one of ``img_suffixes`` (sorted; sub-folders with
    ``recursive=True``), or, when ``ann_file`` is given, the paths listed in
    that text file, one per line (relative to ``data_prefix['img']`` or
    absolute; blank lines and lines starting with ``#`` are skipped).

    Each sample has ``instances=[]`` (so ``LoadAnnotations`` gives empty
    boxes and the detection train pipeline runs unchanged) and
    ``annotated_labels=[]`` ("no class is labelled here"). The latter is
    added to the ``meta_keys`` of this dataset's ``PackDetInputs``, so that
    mixed into a labelled batch (``ConcatDataset``) these images get no GT
    loss in ``CenterXHead`` but still the KD losses.

    ``METAINFO`` is ``CocoDataset``'s (COCO palette), so that with the same
    ``metainfo=dict(classes=...)`` it concatenates with a ``CocoDataset``
    (``ConcatDataset`` requires equal metainfo).

    Args:
        img_suffixes (Sequence[str]): file name endings of images
            (case-insensitive) when scanning the folder.
        recursive (bool): scan sub-folders too.
    """
    METAINFO = copy.deepcopy(CocoDataset.METAINFO)

    def __init__(self,
                 *args,
                 img_suffixes: Sequence[str] = IMG_SUFFIXES,
                 recursive: bool = False,
                 data_prefix: dict = dict(img=''),
                 **kwargs) -> None:
        self.img_suffixes = tuple(s.lower() for s in img_suffixes)
        self.recursive = recursive
        super().__init__(*args, data_prefix=data_prefix, **kwargs)
        for transform in self.pipeline.transforms:
            if isinstance(transform, PackDetInputs) and \
                    'annotated_labels' not in transform.meta_keys:
                transform.meta_keys = tuple(
                    transform.meta_keys) + ('annotated_labels', )

    def _scan_folder(self, folder: str) -> List[str]:
        if not osp.isdir(folder):
            raise FileNotFoundError(
                f'UnlabeledImageDataset: image folder not found: {folder} '
                "(data_root + data_prefix['img'])")
        if self.recursive:
            paths = [
                osp.join(root, name)
                for root, _, names in os.walk(folder) for name in names
            ]
        else:
            paths = [osp.join(folder, name) for name in os.listdir(folder)]
        paths = sorted(p for p in paths
                       if p.lower().endswith(self.img_suffixes))
        if not paths:
            raise DatasetConfigError(
                f'UnlabeledImageDataset: no image ending with '
                f'{self.img_suffixes} in {folder}')
        return paths

    def _read_list(self, list_file: str, folder: str) -> List[str]:
        if not osp.isfile(list_file):
            raise FileNotFoundError(
                f'UnlabeledImageDataset: image list ann_file not found: '
                f'{list_file}')
        paths = []
        with open(list_file) as f:
            for lineno, line in enumerate(f, 1):
                line = line.strip()
                if not line or line.startswith('#'):
                    continue
                path = line if osp.isabs(line) else osp.join(folder, line)
                if not osp.isfile(path):
                    raise FileNotFoundError(
                        f'UnlabeledImageDataset: {list_file} line {lineno}: '
                        f'image not found: {path}')
                paths.append(path)
        if not paths:
            raise DatasetConfigError(
                f'UnlabeledImageDataset: {list_file} lists no image')
        return paths

    @staticmethod
    def _image_size(path: str) -> Tuple[int, int]:
        """(width, height) from the file header (nothing is decoded)."""
        try:
            with Image.open(path) as img:
                return img.size
        except (OSError, ValueError) as err:
            raise DatasetConfigError(
                f'UnlabeledImageDataset: cannot read the image size of '
                f'{path}: {err}') from None

    def load_data_list(self) -> List[dict]:
        """One sample per image; ``width``/``height`` come from the header,
        since mmdet's ``AspectRatioBatchSampler`` (the default of the
        shipped configs) groups by them."""
        folder = self.data_prefix.get('img', '')
        paths = self._read_list(self.ann_file, folder) if self.ann_file \
            else self._scan_folder(folder or '.')
        data_list = []
        for idx, path in enumerate(paths):
            width, height = self._image_size(path)
            data_list.append(
                dict(
                    img_path=path,
                    img_id=idx,
                    width=width,
                    height=height,
                    seg_map_path=None,
                    instances=[],
                    annotated_labels=[]))
        return data_list
