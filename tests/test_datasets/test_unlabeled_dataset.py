"""UnlabeledImageDataset: folder / list input, the detection pipeline on
images without annotations, concatenation with a labelled dataset."""
import os
import os.path as osp

import pytest
import torch

from centerx_mm.datasets import (CenterXCocoDataset, DatasetConfigError,
                                 UnlabeledImageDataset)
from centerx_mm.registry import DATASETS

CLASSES = ('ring', 'star', 'cross', 'triangle')
PIPELINE = [
    dict(type='SafeLoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomResize', scale=(64, 64), ratio_range=(0.75, 1.25),
         keep_ratio=True),
    dict(type='RandomCrop', crop_size=(64, 64), allow_negative_crop=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]


@pytest.fixture(scope='module')
def root(tmp_path_factory):
    from centerx_mm.datasets.shapes_generator import generate_shapes_dataset
    out = str(tmp_path_factory.mktemp('unl') / 'data') + '/'
    generate_shapes_dataset(out, num_train=6, num_val=3)
    return out


def unlabeled(root, **kwargs):
    kwargs.setdefault('data_prefix', dict(img='val/'))
    return DATASETS.build(
        dict(type='UnlabeledImageDataset', data_root=root,
             metainfo=dict(classes=CLASSES), pipeline=PIPELINE, **kwargs))


def test_folder_scan_sorted_and_filtered(root, tmp_path):
    ds = unlabeled(root)
    assert isinstance(ds, UnlabeledImageDataset) and len(ds) == 3
    paths = [ds.get_data_info(i)['img_path'] for i in range(3)]
    assert paths == [osp.join(root, 'val', f'00000{i}.png') for i in range(3)]
    assert ds.get_data_info(1)['instances'] == []
    # other files are ignored, sub-folders only with recursive=True
    folder = tmp_path / 'imgs'
    (folder / 'sub').mkdir(parents=True)
    for name in ('a.PNG', 'notes.txt', 'sub/b.jpg'):
        src = osp.join(root, 'val', '000000.png')
        os.symlink(src, folder / name)
    flat = unlabeled(str(tmp_path), data_prefix=dict(img='imgs/'))
    assert len(flat) == 1
    assert osp.basename(flat.get_data_info(0)['img_path']) == 'a.PNG'
    deep = unlabeled(str(tmp_path), data_prefix=dict(img='imgs/'),
                     recursive=True)
    assert sorted(osp.basename(deep.get_data_info(i)['img_path'])
                  for i in range(len(deep))) == ['a.PNG', 'b.jpg']


def test_image_list_file(root, tmp_path):
    lst = tmp_path / 'list.txt'
    absolute = osp.join(root, 'train', '000004.png')
    lst.write_text(f'# unlabelled images\n000002.png\n\n{absolute}\n')
    ds = unlabeled(root, ann_file=str(lst))
    assert [ds.get_data_info(i)['img_path'] for i in range(2)] == [
        osp.join(root, 'val', '000002.png'), absolute]


def test_pipeline_packs_empty_boxes_and_marker(root):
    sample = unlabeled(root)[0]
    ds = sample['data_samples']
    assert sample['inputs'].shape[0] == 3
    assert ds.gt_instances.bboxes.shape == (0, 4)
    assert ds.gt_instances.labels.shape == (0, )
    assert ds.metainfo['annotated_labels'] == []


def test_concat_with_labelled_dataset_keeps_one_metainfo(root):
    labelled = dict(
        type='CenterXCocoDataset', data_root=root,
        metainfo=dict(classes=CLASSES),
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/'), pipeline=PIPELINE)
    unl = dict(type='UnlabeledImageDataset', data_root=root,
               metainfo=dict(classes=CLASSES), data_prefix=dict(img='val/'),
               pipeline=PIPELINE)
    ds = DATASETS.build(dict(type='ConcatDataset', datasets=[labelled, unl]))
    assert isinstance(ds.datasets[0], CenterXCocoDataset)
    assert isinstance(ds.metainfo, dict)  # not a per-dataset list
    assert ds.metainfo['classes'] == CLASSES
    assert len(ds) == 9
    lab, unl_sample = ds[0]['data_samples'], ds[6]['data_samples']
    assert 'annotated_labels' not in lab.metainfo  # fully labelled
    assert len(lab.gt_instances) > 0
    assert unl_sample.metainfo['annotated_labels'] == []
    # the head then switches off every class of the unlabelled image only
    from centerx_mm.registry import MODELS
    head = MODELS.build(
        dict(type='CenterXHead', num_classes=4, in_channels=8,
             feat_channels=8))
    weight = head.heatmap_loss_weight([lab.metainfo, unl_sample.metainfo],
                                      torch.zeros(2, 4, 2, 2))
    assert weight.flatten().tolist() == [1.] * 4 + [0.] * 4


def test_errors_name_the_path(root, tmp_path):
    with pytest.raises(FileNotFoundError, match='image folder not found'):
        unlabeled(root, data_prefix=dict(img='nope/'))
    (tmp_path / 'empty').mkdir()
    with pytest.raises(DatasetConfigError, match=r'no image .* in .*empty'):
        unlabeled(str(tmp_path), data_prefix=dict(img='empty/'))
    lst = tmp_path / 'bad.txt'
    lst.write_text('000000.png\nmissing.png\n')
    with pytest.raises(FileNotFoundError,
                       match=r'bad\.txt line 2: image not found: .*missing'):
        unlabeled(root, ann_file=str(lst))
    with pytest.raises(FileNotFoundError, match='ann_file not found'):
        unlabeled(root, ann_file=str(tmp_path / 'none.txt'))
    (tmp_path / 'blank.txt').write_text('# nothing\n')
    with pytest.raises(DatasetConfigError, match='lists no image'):
        unlabeled(root, ann_file=str(tmp_path / 'blank.txt'))


def test_aspect_ratio_batch_sampler_gets_image_sizes(root, tmp_path):
    """The shipped no-label config uses mmdet's AspectRatioBatchSampler,
    which reads width/height of every sample."""
    from mmdet.datasets.samplers import AspectRatioBatchSampler
    from mmengine.dataset import DefaultSampler
    import cv2
    ds = unlabeled(root)
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        height, width = cv2.imread(info['img_path']).shape[:2]
        assert (info['width'], info['height']) == (width, height)
    batches = list(
        AspectRatioBatchSampler(
            DefaultSampler(ds, shuffle=False), batch_size=2))
    assert sorted(i for batch in batches for i in batch) == [0, 1, 2]
    # a file that is not an image: error at start-up naming it
    folder = tmp_path / 'bad'
    folder.mkdir()
    (folder / 'broken.png').write_bytes(b'not an image')
    with pytest.raises(DatasetConfigError,
                       match=r'cannot read the image size of .*broken\.png'):
        unlabeled(str(tmp_path), data_prefix=dict(img='bad/'))
