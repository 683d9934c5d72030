"""The image loader under mmdet's name: `LoadImageFromFile` in the centerx_mm
scope is our loader (errors name the file), `SafeLoadImageFromFile` stays
an alias, and mmcv's arguments keep working."""
import pytest
from mmcv.transforms import LoadImageFromFile as MMCVLoadImageFromFile
from mmengine.registry import DefaultScope

from centerx_mm.datasets.transforms import (ImageLoadError,
                                            SafeLoadImageFromFile)
from centerx_mm.registry import TRANSFORMS
from tests.helpers import make_tiny_dataset


@pytest.mark.parametrize('name',
                         ['LoadImageFromFile', 'SafeLoadImageFromFile'])
def test_both_names_build_our_loader(name, tmp_path):
    with DefaultScope.overwrite_default_scope('centerx_mm'):
        loader = TRANSFORMS.build(dict(type=name))
    assert type(loader) is SafeLoadImageFromFile
    assert isinstance(loader, MMCVLoadImageFromFile)
    with pytest.raises(ImageLoadError, match='gone.png: file not found'):
        loader(dict(img_path=str(tmp_path / 'gone.png')))


def test_mmdet_scope_still_gets_mmcv_loader():
    with DefaultScope.overwrite_default_scope('mmdet'):
        loader = TRANSFORMS.build(dict(type='LoadImageFromFile'))
    assert type(loader) is MMCVLoadImageFromFile


def test_mmcv_arguments(tmp_path):
    root = make_tiny_dataset(tmp_path / 'd', num_train=1, num_val=1)
    img = f'{root}/train/000000.png'
    out = SafeLoadImageFromFile(to_float32=True, color_type='grayscale')(
        dict(img_path=img))
    assert out['img'].dtype.name == 'float32' and out['img'].ndim == 2
    assert out['ori_shape'] == out['img'].shape[:2]
    # deprecated file_client_args path of mmcv
    out = SafeLoadImageFromFile(file_client_args=dict(backend='disk'))(
        dict(img_path=img))
    assert out['img'].shape[2] == 3
    # mmcv's ignore_empty skips the sample (returns None) as skip_bad does
    loader = SafeLoadImageFromFile(ignore_empty=True)
    assert loader(dict(img_path=str(tmp_path / 'none.png'))) is None
    assert loader.num_skipped == 1
