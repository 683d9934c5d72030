"""Bad input gets a clear error naming the file or field; edge-case boxes
train without NaN."""
import copy
import json
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate

from centerx_mm.datasets import CenterXCocoDataset, DatasetConfigError
from centerx_mm.datasets.transforms import (ImageLoadError,
                                            SafeLoadImageFromFile)
from centerx_mm.registry import MODELS
from tests.helpers import TINY_CONFIG, make_tiny_dataset

CLASSES = ('ring', 'star', 'cross', 'triangle')


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    return make_tiny_dataset(tmp_path_factory.mktemp('shapes'), num_train=4,
                             num_val=2)


def load_json(root, split='train'):
    with open(osp.join(root, 'annotations', f'instances_{split}.json')) as f:
        return json.load(f)


def write_json(path, data):
    with open(path, 'w') as f:
        json.dump(data, f)
    return str(path)


def build(root, ann_file, pipeline=(), **kwargs):
    return CenterXCocoDataset(
        data_root=root,
        ann_file=ann_file,
        data_prefix=dict(img='train/'),
        metainfo=dict(classes=kwargs.pop('classes', CLASSES)),
        pipeline=list(pipeline),
        **kwargs)


def test_missing_image_names_the_file(tmp_path):
    with pytest.raises(ImageLoadError, match='nothing.png: file not found'):
        SafeLoadImageFromFile().transform(
            dict(img_path=str(tmp_path / 'nothing.png')))


def test_corrupt_image_names_the_file(tmp_path):
    bad = tmp_path / 'corrupt.png'
    bad.write_bytes(b'\x89PNG\r\n\x1a\n' + b'garbage' * 10)
    with pytest.raises(ImageLoadError, match='corrupt.png: corrupt'):
        SafeLoadImageFromFile().transform(dict(img_path=str(bad)))


def test_skip_bad_counts_and_dataset_draws_another(data_root, tmp_path):
    loader = SafeLoadImageFromFile(skip_bad=True)
    assert loader.transform(dict(img_path=str(tmp_path / 'x.png'))) is None
    assert loader.num_skipped == 1
    data = load_json(data_root)
    data['images'][0]['file_name'] = 'deleted.png'
    ann = write_json(tmp_path / 'ann.json', data)
    dataset = build(data_root, ann,
                    [dict(type='SafeLoadImageFromFile', skip_bad=True)])
    sample = dataset[0]  # index 0 is broken: another sample comes back
    assert sample['img_path'] != osp.join(data_root, 'train', 'deleted.png')
    assert sample['img'].ndim == 3


def test_unknown_category_id_is_named(data_root, tmp_path):
    data = load_json(data_root)
    data['annotations'][0]['category_id'] = 99
    ann = write_json(tmp_path / 'ann.json', data)
    with pytest.raises(DatasetConfigError,
                       match=r'annotation id \d+ .*ann\.json has unknown '
                       r'category_id 99'):
        build(data_root, ann)


def test_class_not_in_annotation_file(data_root):
    with pytest.raises(DatasetConfigError,
                       match=r"\['hexagon'\] .*not among the categories"):
        build(data_root, 'annotations/instances_train.json',
              classes=CLASSES + ('hexagon', ))


def test_file_categories_missing_from_classes(data_root):
    with pytest.raises(DatasetConfigError, match=r"\['triangle'\]"):
        build(data_root, 'annotations/instances_train.json',
              classes=CLASSES[:3])
    dataset = build(data_root, 'annotations/instances_train.json',
                    classes=CLASSES[:3], allow_unlisted_categories=True)
    labels = {i['bbox_label'] for d in dataset.data_list
              for i in d['instances']}
    assert labels <= {0, 1, 2}


def test_missing_and_invalid_annotation_files(data_root, tmp_path):
    with pytest.raises(FileNotFoundError, match='missing.json'):
        build(data_root, str(tmp_path / 'missing.json'))
    bad = tmp_path / 'bad.json'
    bad.write_text('{"images": [')
    with pytest.raises(DatasetConfigError, match='bad.json is not valid'):
        build(data_root, str(bad))
    nococo = write_json(tmp_path / 'nococo.json', {'images': []})
    with pytest.raises(DatasetConfigError, match='no "annotations" key'):
        build(data_root, nococo)


def test_annotated_classes(data_root, tmp_path):
    with pytest.raises(DatasetConfigError, match=r"\['hexagon'\]"):
        build(data_root, 'annotations/instances_train.json',
              annotated_classes=('ring', 'hexagon'))
    dataset = build(data_root, 'annotations/instances_train.json',
                    annotated_classes=('cross', 'ring'))
    assert dataset.get_data_info(0)['annotated_labels'] == [0, 2]


def test_edge_case_boxes_train_without_nan(data_root, tmp_path):
    data = load_json(data_root)
    img0, img1 = data['images'][0], data['images'][1]
    w, h = img0['width'], img0['height']
    anns = [
        dict(bbox=[10, 10, 0, 20], area=0),  # zero width: dropped
        dict(bbox=[10, 10, 20, 0.0], area=0),  # zero height: dropped
        dict(bbox=[-15, -15, 40, 40], area=1600),  # partly outside
        dict(bbox=[w - 20, h - 20, 50, 50], area=2500),  # partly outside
        dict(bbox=[30, 30, 40, 40], area=1600, iscrowd=1),  # crowd: ignored
    ]
    data['annotations'] = [
        dict(ann, id=i + 1, image_id=img0['id'], category_id=1 + i % 4,
             iscrowd=ann.get('iscrowd', 0)) for i, ann in enumerate(anns)
    ]
    data['images'] = [img0, img1]  # img1 has no boxes at all
    ann = write_json(tmp_path / 'edge.json', data)
    cfg = Config.fromfile(TINY_CONFIG)
    dataset = build(data_root, ann, cfg.train_pipeline)
    assert len(dataset) == 2
    model = MODELS.build(cfg.model)
    model.init_weights()
    batch = model.data_preprocessor(pseudo_collate([dataset[0], dataset[1]]),
                                    training=True)
    losses = model.loss(batch['inputs'], batch['data_samples'])
    total = sum(losses.values())
    total.backward()
    assert torch.isfinite(total)
    assert all(torch.isfinite(p.grad).all() for p in model.parameters()
               if p.grad is not None)
    gts = [s.gt_instances for s in batch['data_samples']]
    assert len(gts[1]) == 0  # the empty image stays empty
    assert len(batch['data_samples'][0].ignored_instances) <= 1
