"""No label silently wrong (issue 16): labels by class name, duplicates are
errors, dropped boxes counted per reason, JSON sizes checked against the
image, evaluator ann_file checked, clear messages for malformed fields."""
import copy
import json
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine.config import Config

from centerx_mm.datasets import CenterXCocoDataset, DatasetConfigError
from centerx_mm.datasets.checks import (EvaluatorConfigError,
                                        check_evaluator_ann_files)
from centerx_mm.datasets.transforms import (ImageLoadError,
                                            SafeLoadImageFromFile)
from tests.helpers import (TINY_CONFIG, capture_log, data_options,
                           make_tiny_dataset)

CLASSES = ('ring', 'star', 'cross', 'triangle')


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    return make_tiny_dataset(tmp_path_factory.mktemp('shapes'), num_train=4,
                             num_val=2)


@pytest.fixture
def raw(data_root):
    with open(osp.join(data_root, 'annotations', 'instances_train.json')) as f:
        return json.load(f)


def build(root, data, tmp_path, classes=CLASSES, **kwargs):
    ann = tmp_path / 'ann.json'
    with open(ann, 'w') as f:
        json.dump(data, f)
    return CenterXCocoDataset(
        data_root=root, ann_file=str(ann), data_prefix=dict(img='train/'),
        metainfo=dict(classes=classes), pipeline=[], **kwargs)


def test_labels_follow_class_names_not_file_order(data_root, raw, tmp_path):
    names = {c['id']: c['name'] for c in raw['categories']}
    raw['categories'] = raw['categories'][::-1]  # another order, same ids
    dataset = build(data_root, raw, tmp_path)
    by_img = {}
    for ann in raw['annotations']:
        by_img.setdefault(ann['image_id'], []).append(
            CLASSES.index(names[ann['category_id']]))
    checked = 0
    for info in map(dataset.get_data_info, range(len(dataset))):
        labels = [i['bbox_label'] for i in info['instances']]
        assert labels == by_img.get(info['img_id'], [])
        checked += len(labels)
    assert checked == len(raw['annotations']) > 0
    # config order is what counts, e.g. ring is label 0 whatever the file
    assert dataset.cat2label[[i for i, n in names.items()
                              if n == 'ring'][0]] == 0


def test_duplicate_category_names_and_ids(data_root, raw, tmp_path):
    dup = copy.deepcopy(raw)
    dup['categories'].append(dict(id=99, name='star'))
    with pytest.raises(DatasetConfigError,
                       match=r"ann\.json lists category name 'star' twice"):
        build(data_root, dup, tmp_path)
    dup = copy.deepcopy(raw)
    dup['categories'].append(dict(raw['categories'][0], name='hexagon'))
    with pytest.raises(DatasetConfigError,
                       match=r'ann\.json lists category id \d+ twice'):
        build(data_root, dup, tmp_path)


def test_duplicate_image_ids(data_root, raw, tmp_path):
    raw['images'][1]['id'] = raw['images'][0]['id']
    with pytest.raises(DatasetConfigError,
                       match=r"ann\.json lists image id \d+ twice "
                       r"\('000000\.png' and '000001\.png'\)"):
        build(data_root, raw, tmp_path)


def test_dropped_boxes_are_counted_per_reason(data_root, raw, tmp_path):
    img = raw['images'][0]
    base = dict(image_id=img['id'], category_id=raw['categories'][0]['id'],
                iscrowd=0)
    extra = [
        dict(bbox=[10, 10, 0, 20], area=0),  # zero width
        dict(bbox=[10, 10, -5, 20], area=100),  # negative width
        dict(bbox=[float('nan'), 10, 20, 20], area=400),  # NaN
        dict(bbox=[img['width'] + 5, 10, 20, 20], area=400),  # outside
        dict(bbox=[10, 10, 20, 20], area=0),  # zero area
    ]
    start = max(a['id'] for a in raw['annotations']) + 1
    raw['annotations'] += [dict(base, id=start + i, **a)
                           for i, a in enumerate(extra)]
    with capture_log() as lines:
        dataset = build(data_root, raw, tmp_path)
    assert dataset.dropped_boxes == {
        'with width or height < 1 px': 2, 'with NaN or inf': 1,
        'outside the image (JSON width x height)': 1, 'with area <= 0': 1}
    total = len(raw['annotations'])
    assert any(f'ann.json: dropped 5 of {total} boxes: 2 with width or '
               'height < 1 px' in line for line in lines), lines


def test_json_width_height_zero_or_smaller_than_the_image(data_root, raw,
                                                         tmp_path):
    bad = copy.deepcopy(raw)
    bad['images'][0]['width'] = 0
    with pytest.raises(DatasetConfigError,
                       match=r'image id \d+ in \S*ann\.json \(000000\.png\): '
                       r'"width" must be a positive number of pixels, got 0'):
        build(data_root, bad, tmp_path)
    # A JSON size smaller than the file: boxes beyond it are dropped and
    # counted, and decoding the image reports the disagreement.
    img = raw['images'][0]
    real_hw = (img['height'], img['width'])
    img['width'] = img['height'] = 8
    with capture_log() as lines:
        dataset = build(data_root, raw, tmp_path)
    assert dataset.dropped_boxes.get(
        'outside the image (JSON width x height)', 0) >= 1
    info = dataset.get_data_info(0)
    with capture_log() as lines:
        out = SafeLoadImageFromFile().transform(dict(info))
    assert out['img'].shape[:2] == real_hw
    assert any('000000.png: the annotation file gives width x height 8x8 '
               f'but the image decodes to {real_hw[1]}x{real_hw[0]}' in line
               for line in lines), lines


@pytest.mark.parametrize('bbox', [['1', '2', '3', '4'], [1, 2, 3],
                                  [1, 2, 3, 4, 5], None])
def test_malformed_bbox_names_file_annotation_and_field(data_root, raw,
                                                        tmp_path, bbox):
    raw['annotations'][0]['bbox'] = bbox
    ann_id = raw['annotations'][0]['id']
    with pytest.raises(DatasetConfigError,
                       match=rf'annotation id {ann_id} \(image_id \d+\) in '
                       r'\S*ann\.json: "bbox" must be \[x, y, width, height\] '
                       r'\(4 numbers\), got'):
        build(data_root, raw, tmp_path)


def test_missing_file_name_and_empty_images(data_root, raw, tmp_path):
    del raw['images'][1]['file_name']
    with pytest.raises(DatasetConfigError,
                       match=r'image id \d+ in \S*ann\.json: "file_name" is '
                       'missing'):
        build(data_root, raw, tmp_path)
    raw['images'] = []
    with pytest.raises(DatasetConfigError,
                       match=r'ann\.json has no images: its "images" list is '
                       'empty'):
        build(data_root, raw, tmp_path)


def test_category_id_given_as_a_string(data_root, raw, tmp_path):
    raw['annotations'][0]['category_id'] = '1'
    with pytest.raises(DatasetConfigError,
                       match=r"unknown category_id '1' \(the string '1': COCO "
                       r'ids are integers, write 1 without quotes\)'):
        build(data_root, raw, tmp_path)


def test_classes_string_missing_tuple_comma(data_root, raw, tmp_path):
    with pytest.raises(DatasetConfigError,
                       match=r"metainfo\.classes is the string 'ring'.*"
                       r"classes=\('ring', \).*trailing comma"):
        build(data_root, raw, tmp_path, classes='ring')


def test_extremely_thin_image(tmp_path):
    path = str(tmp_path / 'thin.png')
    cv2.imwrite(path, np.full((1, 4000, 3), 128, np.uint8))
    with pytest.raises(ImageLoadError,
                       match=r'thin\.png: the image is 4000x1 px .*aspect '
                       'ratio over 100:1'):
        SafeLoadImageFromFile().transform(dict(img_path=path))
    loader = SafeLoadImageFromFile(skip_bad=True)
    assert loader.transform(dict(img_path=path)) is None
    from tools.demo import main
    with pytest.raises(ValueError, match=r'thin\.png: the image is 4000x1'):
        main([path, TINY_CONFIG, path, '--out-file',
              str(tmp_path / 'o.png')])


def test_evaluator_ann_file_must_match_the_dataset(data_root, tmp_path):
    cfg = Config.fromfile(TINY_CONFIG)
    cfg.merge_from_dict(dict(o.split('=', 1) for o in data_options(data_root)))
    check_evaluator_ann_files(cfg)  # the shipped settings agree
    train_json = osp.join(data_root, 'annotations', 'instances_train.json')
    cfg.val_evaluator.ann_file = train_json
    with pytest.raises(EvaluatorConfigError,
                       match=r'val_evaluator\.ann_file=\S*instances_train'
                       r'\.json is not the annotation file of val_dataloader\.'
                       r'dataset \(\S*instances_val\.json\)'):
        check_evaluator_ann_files(cfg)
    cfg.check_evaluator_ann_file = False  # deliberate
    check_evaluator_ann_files(cfg)

    for tool, extra in (('train', []), ('test', [train_json])):
        main = __import__(f'tools.{tool}', fromlist=['main']).main
        argv = [TINY_CONFIG, *extra, '--work-dir', str(tmp_path),
                '--cfg-options', *data_options(data_root),
                f'{"val" if tool == "train" else "test"}_evaluator.ann_file='
                f'{train_json}']
        with pytest.raises(EvaluatorConfigError, match='other ground truth'):
            main(argv)
