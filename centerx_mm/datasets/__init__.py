from .centerx_coco import CenterXCocoDataset, DatasetConfigError
from .transforms import *  # noqa: F401,F403

__all__ = ['CenterXCocoDataset', 'DatasetConfigError']
from .unlabeled_dataset import UnlabeledImageDataset  # noqa: E402

__all__ += ['UnlabeledImageDataset']
