"""tools/dataset_converters/extend_partial_labels.py: a partial JSON that
also labels a class, for overlapping teachers."""
import json
import os.path as osp

import pytest

from centerx_mm.datasets import DatasetConfigError
from centerx_mm.registry import DATASETS
from tools.dataset_converters.extend_partial_labels import main

PARTS = (('ring', 'star'), ('cross', 'triangle'))


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    from tests.helpers import make_tiny_dataset
    root = make_tiny_dataset(tmp_path_factory.mktemp('extend'),
                             partial_splits=PARTS)
    ann = osp.join(root, 'annotations')
    return dict(root=root + '/', part1=osp.join(ann,
                                                'instances_train_part1.json'),
                full=osp.join(ann, 'instances_train.json'))


def test_adds_the_class_of_the_partial_images(data, tmp_path):
    out = str(tmp_path / 'part1_ring.json')
    result = main([data['part1'], '--full', data['full'], '--classes',
                   'ring', '--out', out])
    part1 = json.load(open(data['part1']))
    full = json.load(open(data['full']))
    images = {i['id'] for i in part1['images']}
    rings = [a for a in full['annotations']
             if a['image_id'] in images and a['category_id'] == 1]
    assert rings, 'the tiny dataset should have rings in part 1'
    written = json.load(open(out))
    assert written == result
    assert written['annotated_classes'] == ['ring', 'cross', 'triangle']
    assert written['images'] == part1['images']
    assert sorted(a['id'] for a in written['annotations']) == sorted(
        [a['id'] for a in part1['annotations']] + [a['id'] for a in rings])
    assert written['extended_labels']['num_added'] == len(rings)
    # the dataset reads it: each image labels ring, cross, triangle
    dataset = DATASETS.build(dict(
        type='CenterXCocoDataset', data_root=data['root'], ann_file=out,
        metainfo=dict(classes=('ring', 'star', 'cross', 'triangle')),
        data_prefix=dict(img='train/'), filter_cfg=dict(
            filter_empty_gt=False), pipeline=[]))
    assert dataset[0]['annotated_labels'] == [0, 2, 3]


def test_bad_input(data, tmp_path):
    out = str(tmp_path / 'x.json')
    args = [data['part1'], '--full', data['full'], '--out', out, '--classes']
    with pytest.raises(DatasetConfigError, match=r"already labels \['cross'"):
        main(args + ['cross'])
    with pytest.raises(DatasetConfigError,
                       match=r"--classes \['hexagon'\] are not categories"):
        main(args + ['hexagon'])
    with pytest.raises(DatasetConfigError, match='no top-level '
                       '"annotated_classes"'):
        main([data['full'], '--full', data['full'], '--out', out,
              '--classes', 'ring'])
    with pytest.raises(FileNotFoundError, match='--full not found'):
        main([data['part1'], '--full', '/no/such.json', '--out', out,
              '--classes', 'ring'])
    assert not osp.exists(out)
