"""Tests of the embedded shapes dataset generator."""
import importlib.util
import json
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest

REPO_ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
_GEN_PATH = osp.join(REPO_ROOT, 'centerx_mm', 'datasets',
                     'shapes_generator.py')
_CLI_PATH = osp.join(REPO_ROOT, 'tools', 'dataset_converters',
                     'make_shapes_dataset.py')


def _load_generator():
    # Load by path: ``centerx_mm/__init__.py`` imports the heavy stack.
    spec = importlib.util.spec_from_file_location('_test_shapes_gen',
                                                  _GEN_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


sg = _load_generator()
GROUPS = (('ring', 'star'), ('cross', 'triangle'))


def _load(path):
    with open(path) as f:
        return json.load(f)


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp('shapes') / 'data'
    result = sg.generate_shapes_dataset(
        out, num_train=40, num_val=12, seed=3, partial_splits=GROUPS)
    return out, result


def test_determinism(dataset, tmp_path):
    out, result = dataset
    result2 = sg.generate_shapes_dataset(
        tmp_path / 'again', num_train=40, num_val=12, seed=3,
        partial_splits=GROUPS)
    names = ['instances_train.json', 'instances_val.json',
             'instances_train_part0.json', 'instances_train_part1.json']
    for name in names:
        a = (out / 'annotations' / name).read_bytes()
        b = (tmp_path / 'again' / 'annotations' / name).read_bytes()
        assert a == b, name
    for split in ('train', 'val'):
        for im in _load(result['ann_files'][split])['images']:
            a = cv2.imread(str(out / split / im['file_name']))
            b = cv2.imread(str(tmp_path / 'again' / split / im['file_name']))
            assert np.array_equal(a, b), im['file_name']
    assert result2['class_counts'] == result['class_counts']

    # An image depends only on (seed, split, index), not on the count before.
    sg.generate_shapes_dataset(tmp_path / 'fewer', num_train=5, num_val=0,
                               seed=3)
    a = cv2.imread(str(out / 'train' / '000004.png'))
    b = cv2.imread(str(tmp_path / 'fewer' / 'train' / '000004.png'))
    assert np.array_equal(a, b)
    # ... and a different seed gives different data.
    sg.generate_shapes_dataset(tmp_path / 'other', num_train=5, num_val=0,
                               seed=4)
    c = cv2.imread(str(tmp_path / 'other' / 'train' / '000004.png'))
    assert a.shape != c.shape or not np.array_equal(a, c)


def test_coco_validity(dataset):
    out, result = dataset
    for split, num in (('train', 40), ('val', 12)):
        coco = _load(out / 'annotations' / f'instances_{split}.json')
        assert coco['categories'] == [
            dict(id=i + 1, name=n, supercategory='shape')
            for i, n in enumerate(sg.CLASSES)
        ]
        images = {im['id']: im for im in coco['images']}
        assert len(images) == len(coco['images']) == num
        assert len({im['file_name'] for im in coco['images']}) == num
        ann_ids = [a['id'] for a in coco['annotations']]
        assert len(set(ann_ids)) == len(ann_ids)
        for im in coco['images']:
            assert not osp.isabs(im['file_name'])
            assert '/' not in im['file_name']
            img = cv2.imread(str(out / split / im['file_name']))
            assert img is not None
            assert img.shape == (im['height'], im['width'], 3)
            assert 160 <= im['width'] <= 224 and 160 <= im['height'] <= 224
        for ann in coco['annotations']:
            im = images[ann['image_id']]
            x, y, w, h = ann['bbox']
            assert ann['category_id'] in (1, 2, 3, 4)
            assert ann['iscrowd'] == 0
            assert w > 0 and h > 0
            assert x >= 0 and y >= 0
            assert x + w <= im['width'] and y + h <= im['height']
            assert 4 <= max(w, h) <= 64.01
            assert ann['area'] == pytest.approx(w * h, abs=0.01)
        per_image = np.bincount([a['image_id'] for a in coco['annotations']],
                                minlength=num + 1)
        assert per_image.max() <= 8
    assert result['num_images'] == {
        'train': 40, 'val': 12, 'train_part0': 20, 'train_part1': 20
    }


def test_boxes_are_tight():
    """The box must enclose the drawn shape and touch it on every side."""
    checked = 0
    for index in range(40):
        rng = sg.image_rng(11, 'tight', index)
        for obj in sg._place_objects(rng, 200, 180, 1):
            ys, xs = np.nonzero(obj['alpha'])
            x1, y1, x2, y2 = obj['bbox']
            # Pixel i spans [i, i + 1]: every touched pixel meets the box ...
            assert xs.min() >= np.floor(x1) and xs.max() < np.ceil(x2)
            assert ys.min() >= np.floor(y1) and ys.max() < np.ceil(y2)
            # ... and the box is at most ~1 px larger (thin tips) per side.
            assert xs.min() - x1 < 1.5 and x2 - (xs.max() + 1) < 1.5
            assert ys.min() - y1 < 1.5 and y2 - (ys.max() + 1) < 1.5
            checked += 1
    assert checked >= 35


def test_objects_stay_visible():
    for index in range(20):
        rng = sg.image_rng(5, 'vis', index)
        objs = sg._place_objects(rng, 180, 170, 8)
        assert 1 <= len(objs) <= 8
        for obj in objs:
            visible = np.count_nonzero(obj['visible'])
            assert visible >= sg.MIN_VISIBLE_FRACTION * obj['area']


def test_class_balance(dataset):
    _, result = dataset
    counts = result['class_counts']['train']
    assert set(counts) == set(sg.CLASSES)
    total = sum(counts.values())
    assert total == result['num_annotations']['train']
    assert 40 * 2 <= total <= 40 * 8
    for name, n in counts.items():
        assert n >= 0.12 * total, (name, counts)


def test_empty_images(tmp_path, monkeypatch):
    # Mechanism: the object count is 0 about 3% of the time, else 1..8.
    rng = np.random.default_rng(0)
    nums = np.array([sg._sample_num_objects(rng) for _ in range(20000)])
    assert 0.02 < np.mean(nums == 0) < 0.04
    assert nums.max() == 8 and set(np.unique(nums)) == set(range(9))
    # An empty image still renders, has no boxes and is listed in the JSON.
    img, objs = sg.render_image(np.random.default_rng(1), 170, 190, 0)
    assert img.shape == (190, 170, 3) and img.dtype == np.uint8
    assert objs == []
    # Forced empty images go through the writer and stay in ``images``.
    monkeypatch.setattr(sg, 'EMPTY_IMAGE_PROB', 1.0)
    result = sg.generate_shapes_dataset(tmp_path, num_train=0, num_val=2)
    coco = _load(result['ann_files']['val'])
    assert [im['file_name'] for im in coco['images']] == [
        '000000.png', '000001.png'
    ]
    assert coco['annotations'] == []
    assert result['num_empty_images']['val'] == 2
    assert (tmp_path / 'val' / '000001.png').exists()


def test_generated_split_has_empty_images(dataset):
    out, result = dataset
    # At 3% per image, seed 3's 40 train images happen to include two.
    coco = _load(out / 'annotations' / 'instances_train.json')
    labelled = {a['image_id'] for a in coco['annotations']}
    empty = [im for im in coco['images'] if im['id'] not in labelled]
    assert len(empty) == result['num_empty_images']['train'] >= 1
    for im in empty:
        assert (out / 'train' / im['file_name']).exists()


def test_partial_splits(dataset):
    out, result = dataset
    full = _load(out / 'annotations' / 'instances_train.json')
    parts = [_load(p) for p in result['partial_ann_files']]
    assert len(parts) == 2
    ids = [{im['id'] for im in p['images']} for p in parts]
    assert not ids[0] & ids[1]
    assert ids[0] | ids[1] == {im['id'] for im in full['images']}
    assert len(ids[0]) == len(ids[1]) == 20
    for part, group, part_ids in zip(parts, GROUPS, ids):
        assert part['categories'] == full['categories']
        assert part['annotated_classes'] == list(group)
        cat_ids = {sg.CLASSES.index(n) + 1 for n in group}
        expected = [
            a for a in full['annotations']
            if a['image_id'] in part_ids and a['category_id'] in cat_ids
        ]
        assert part['annotations'] == expected and expected
        # The images still contain (unlabelled) objects of the other group.
        assert any(a['image_id'] in part_ids
                   and a['category_id'] not in cat_ids
                   for a in full['annotations'])
    # String form of the groups is accepted too.
    assert sg.validate_partial_splits('ring,star;cross,triangle') == GROUPS


@pytest.mark.parametrize('groups, match', [
    ((('ring', 'blob'), ('cross', )), 'blob'),
    ((('ring', 'star'), ('star', 'cross')), 'star'),
    ((('ring', ), ()), 'group 1'),
    ((), 'at least one group'),
])
def test_invalid_partial_splits(tmp_path, groups, match):
    with pytest.raises(ValueError, match=match):
        sg.generate_shapes_dataset(tmp_path, num_train=2, num_val=0,
                                   partial_splits=groups)


def test_invalid_arguments(tmp_path):
    with pytest.raises(ValueError, match='num_train'):
        sg.generate_shapes_dataset(tmp_path, num_train=-1)
    with pytest.raises(ValueError, match='img_size_range'):
        sg.generate_shapes_dataset(tmp_path, img_size_range=(224, 160))
    with pytest.raises(ValueError, match='img_size_range'):
        sg.generate_shapes_dataset(tmp_path, img_size_range=160)
    a_file = tmp_path / 'file.txt'
    a_file.write_text('x')
    with pytest.raises(ValueError, match='not a directory'):
        sg.generate_shapes_dataset(a_file, num_train=1, num_val=1)


def test_img_size_range_and_stale_files(tmp_path):
    sg.generate_shapes_dataset(tmp_path, num_train=6, num_val=0, seed=1,
                               partial_splits=(('ring', ), ('star', ),
                                               ('cross', )))
    result = sg.generate_shapes_dataset(tmp_path, num_train=3, num_val=2,
                                        seed=1, img_size_range=(64, 64),
                                        partial_splits=(('ring', ), ))
    assert sorted(p.name for p in (tmp_path / 'train').iterdir()) == [
        '000000.png', '000001.png', '000002.png'
    ]
    assert sorted(p.name for p in (tmp_path / 'annotations').iterdir()) == [
        'instances_train.json', 'instances_train_part0.json',
        'instances_val.json'
    ]
    for im in _load(result['ann_files']['train'])['images']:
        assert im['width'] == im['height'] == 64


def test_cli(tmp_path):
    out = tmp_path / 'cli'
    proc = subprocess.run(
        [sys.executable, _CLI_PATH, '--out-dir', str(out), '--num-train',
         '6', '--num-val', '2', '--seed', '7', '--img-size-min', '100',
         '--img-size-max', '120', '--partial-splits',
         'ring,star;cross,triangle'],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    for name in sg.CLASSES + ('train_part1', 'val'):
        assert name in proc.stdout
    coco = _load(out / 'annotations' / 'instances_train.json')
    assert len(coco['images']) == 6
    assert all(100 <= im['width'] <= 120 for im in coco['images'])
    assert (out / 'annotations' / 'instances_train_part1.json').exists()
    assert (out / 'val' / '000001.png').exists()

    bad = subprocess.run(
        [sys.executable, _CLI_PATH, '--out-dir', str(tmp_path / 'bad'),
         '--partial-splits', 'ring,star;star'],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and 'star' in bad.stderr
