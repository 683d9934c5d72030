"""The README's own-data recipe: one `img_scale` line sets the input size of
every pipeline; a child config that sets img_scale without rebuilding the
pipelines is refused; the class-count check survives a custom_hooks list."""
import os
import os.path as osp
import re

import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope

from centerx_mm.registry import DATASETS
from centerx_mm.utils.misc import load_config
from tests.helpers import (REPO, TINY_CONFIG, data_options, make_tiny_dataset,
                           run_tool, write)

OWN = osp.join(REPO, 'configs', 'centerx', 'centerx_r18_own_data.py')


@pytest.fixture(scope='module')
def tiny_data(tmp_path_factory):
    return make_tiny_dataset(tmp_path_factory.mktemp('own'), num_train=4,
                             num_val=2)


def copy_of_own_config(dst, data_root, scale_line):
    """What the README says: copy the template, edit its block (here the
    data lines and the one img_scale line). `_base_` paths are made absolute
    because the copy lives outside configs/."""
    text = open(OWN).read()
    assert text.count('img_scale = (512, 512)') == 1
    text = text.replace('img_scale = (512, 512)', scale_line)
    text = text.replace("'../_base_/", repr(osp.join(REPO, 'configs',
                                                     '_base_'))[:-1] + '/')
    text = text.replace("data_root = 'data/my_data/'",
                        f'data_root = {data_root!r}')
    text = text.replace("classes=('person', 'bicycle')",
                        "classes=('ring', 'star', 'cross', 'triangle')")
    for old, new in (("'annotations/train.json'",
                      "'annotations/instances_train.json'"),
                     ("'annotations/val.json'",
                      "'annotations/instances_val.json'"),
                     ("train_img_prefix = 'images/'",
                      "train_img_prefix = 'train/'"),
                     ("val_img_prefix = 'images/'",
                      "val_img_prefix = 'val/'")):
        assert old in text, old
        text = text.replace(old, new)
    return write(dst, text)


def test_one_line_sets_the_input_size(tiny_data, tmp_path):
    root = tiny_data.rstrip('/') + '/'
    cfg = load_config(copy_of_own_config(
        tmp_path / 'mine.py', root, 'img_scale = (320, 320)'))
    assert cfg.model.bbox_head.num_classes == 4
    with DefaultScope.overwrite_default_scope('centerx_mm'):
        train = DATASETS.build(cfg.train_dataloader.dataset)
        test = DATASETS.build(cfg.test_dataloader.dataset)
    by_name = {type(t).__name__: t for t in train.pipeline.transforms}
    assert by_name['RandomResize'].scale == (320, 320)
    assert by_name['RandomCrop'].crop_size == (320, 320)
    resize = {type(t).__name__: t for t in test.pipeline.transforms}['Resize']
    assert resize.scale == (320, 320)
    # shapes images are 160..224 px: keep-ratio resizing brings the long
    # side to 320, so the network sees 320 px, not the 128 of shapes.py
    for i in range(len(test)):
        h, w = test[i]['inputs'].shape[1:]
        assert max(h, w) == 320, (h, w)
    for i in range(len(train)):
        h, w = train[i]['inputs'].shape[1:]
        assert max(h, w) <= 320 and max(h, w) > 128
    assert cfg.val_evaluator.ann_file == \
        root + 'annotations/instances_val.json'


def test_child_img_scale_without_pipelines_is_refused(tmp_path):
    base = osp.join(REPO, 'configs', 'centerx', 'centerx_r18_3k_shapes.py')
    child = write(tmp_path / 'child.py', f"""
        _base_ = [{base!r}]
        img_scale = (512, 512)
        """)
    with pytest.raises(ValueError,
                       match=r'img_scale=\(512, 512\) but the '
                       r'train_dataloader pipeline resizes/crops to '
                       r'\[\(128, 128\)\]'):
        load_config(child)
    # the same through the tool: a clear error, no training
    out = run_tool(['tools/train.py', child, '--work-dir',
                    str(tmp_path / 'w')], check=False)
    assert out.returncode != 0
    assert 'centerx_r18_own_data.py' in out.stderr


def test_class_count_check_survives_custom_hooks(tiny_data, tmp_path):
    """The README's adaptive-loss line replaces custom_hooks; the check is a
    default hook and still stops a num_classes=5 model on 4-class data."""
    child = write(tmp_path / 'adaptive.py', f"""
        _base_ = [{TINY_CONFIG!r}]
        custom_hooks = [dict(type='AdaptiveLossHook',
                             targets=dict(loss_heatmap=1.0))]
        model = dict(bbox_head=dict(num_classes=5))
        """)
    cfg = Config.fromfile(child)
    assert [h['type'] for h in cfg.custom_hooks] == ['AdaptiveLossHook']
    work = tmp_path / 'work'
    out = run_tool(['tools/train.py', child, '--work-dir', str(work),
                    '--cfg-options', *data_options(tiny_data)], check=False)
    assert out.returncode != 0
    assert re.search(r'model.bbox_head.num_classes=5 but the train dataset '
                     r'.* has 4 classes', out.stderr), out.stderr[-2000:]
    assert not any(f.endswith('.pth') for f in os.listdir(work))
    # registered once, by default_hooks, next to the custom AdaptiveLossHook
    from mmengine.runner import Runner
    cfg.model.bbox_head.num_classes = 4
    cfg.merge_from_dict(dict(o.split('=', 1) for o in data_options(tiny_data)))
    cfg.work_dir = str(tmp_path / 'runner')
    names = [type(h).__name__ for h in Runner.from_cfg(cfg).hooks]
    assert names.count('NumClassesCheckHook') == 1
    assert names.count('AdaptiveLossHook') == 1
