from typing import Optional

import mmcv
import numpy as np
from mmcv.transforms import LoadImageFromFile
from mmengine import fileio
from mmengine.logging import print_log

from centerx_mm.registry import TRANSFORMS
from ..checks import image_problem, report_size_mismatch


class ImageLoadError(IOError):
    """An image file is missing or cannot be decoded."""


# Registered as ``LoadImageFromFile`` in the centerx_mm scope, the type name
# that mmdet's DetInferencer and mmdeploy's SDK export look for as the first
# test transform; ``SafeLoadImageFromFile`` stays as an alias for old configs.
@TRANSFORMS.register_module(
    name=['LoadImageFromFile', 'SafeLoadImageFromFile'])
class SafeLoadImageFromFile(LoadImageFromFile):
    """mmcv ``LoadImageFromFile`` whose errors name the file.

    A missing, unreadable or corrupt (undecodable) image raises
    :class:`ImageLoadError` with the path, instead of a cv2/NoneType
    traceback. With ``skip_bad=True`` (or mmcv's ``ignore_empty=True``) the
    sample is skipped instead (the dataset then draws another one; training
    only: mmengine refuses ``None`` at test time) and each skip is logged with
    a running count. Otherwise the same arguments and results as mmcv's.
    """

    def __init__(self, *args, skip_bad: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.skip_bad = skip_bad or self.ignore_empty
        self.num_skipped = 0

    def _bad(self, filename: str, reason: str) -> Optional[dict]:
        if not self.skip_bad:
            raise ImageLoadError(
                f'cannot load image {filename}: {reason} (set skip_bad=True '
                'in LoadImageFromFile to skip such training samples)')
        self.num_skipped += 1
        print_log(
            f'skipped bad image {filename}: {reason} '
            f'({self.num_skipped} skipped so far in this worker)',
            logger='current',
            level=30)
        return None

    def transform(self, results: dict) -> Optional[dict]:
        filename = results['img_path']
        try:
            if self.file_client_args is not None:  # mmcv's deprecated path
                img_bytes = fileio.FileClient.infer_client(
                    self.file_client_args, filename).get(filename)
            else:
                img_bytes = fileio.get(
                    filename, backend_args=self.backend_args)
        except FileNotFoundError:
            return self._bad(filename, 'file not found')
        except OSError as err:
            return self._bad(filename, f'unreadable ({err})')
        try:
            img = mmcv.imfrombytes(
                img_bytes,
                flag=self.color_type,
                backend=self.imdecode_backend)
        except Exception as err:  # decoders raise various types
            return self._bad(filename, f'corrupt image ({err})')
        if img is None or img.size == 0:
            return self._bad(filename,
                             'corrupt or not an image (decoder returned None)')
        problem = image_problem(img.shape)
        if problem:
            return self._bad(filename, problem)
        report_size_mismatch(results, img.shape)
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results
