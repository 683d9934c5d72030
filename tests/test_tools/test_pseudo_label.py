"""tools/pseudo_label.py: the JSON it writes, its progress bar, bad input.

The teachers are tiny nets whose head weights are zeroed so that their
output is known: heatmap probability 0.8 (first class) / 0.2 (second) at
every cell, wh 1 cell, offset 0.5 cell. With 64x64 images resized to the
128x128 input (scale 2, stride 4) each box is [2x, 2y, 2, 2] in image
pixels and the top-3 boxes of an image are all of the first class.
"""
import json
import math
import os.path as osp
import textwrap

import pytest
import torch
from mmengine.config import Config

from centerx_mm.registry import DATASETS, MODELS
from tests.helpers import run_tool

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PARTS = (('ring', 'star'), ('cross', 'triangle'))

TEACHER = """
_base_ = [{base!r}]
data_root = {root!r}
metainfo = dict(classes={classes!r})
model = dict(
    backbone=dict(depth=18, base_channels=8),
    neck=dict(in_channels=64, num_deconv_filters=(16, 16, 16)),
    bbox_head=dict(num_classes=2, in_channels=16, feat_channels=16),
    test_cfg=dict(topk=3, local_maximum_kernel=3))
test_dataloader = dict(dataset=dict(data_root=data_root))
"""
MT = """
_base_ = [{student!r}]
model = dict(
    type='CenterXDistiller',
    classes=('ring', 'star', 'cross', 'triangle'),
    bbox_head=dict(num_classes=4),
    teachers=[dict(config={ta!r}, checkpoint={ca!r}, classes=('ring', 'star')),
              dict(config={tb!r}, checkpoint={cb!r},
                   classes=('cross', 'triangle'))])
"""


def write(path, text):
    with open(path, 'w') as f:
        f.write(textwrap.dedent(text))
    return str(path)


@pytest.fixture(scope='module')
def env(tmp_path_factory):
    from centerx_mm.datasets.shapes_generator import generate_shapes_dataset
    tmp = tmp_path_factory.mktemp('pseudo')
    root = str(tmp / 'data') + '/'
    generate_shapes_dataset(root, num_train=4, num_val=2,
                            img_size_range=(64, 64), partial_splits=PARTS)
    base = osp.join(REPO, 'configs/centerx/mt_teacher_a_r50_shapes.py')
    paths = {}
    for name, classes in (('a', PARTS[0]), ('b', PARTS[1])):
        cfg = write(tmp / f'teacher_{name}.py',
                    TEACHER.format(base=base, root=root, classes=classes))
        model = MODELS.build(Config.fromfile(cfg).model)
        model.init_weights()
        head = model.bbox_head
        with torch.no_grad():
            for branch, bias in ((head.heatmap_head,
                                  [math.log(4), math.log(0.25)]),
                                 (head.wh_head, [1., 1.]),
                                 (head.offset_head, [.5, .5])):
                branch[-1].weight.zero_()
                branch[-1].bias.copy_(torch.tensor(bias))
        ckpt = str(tmp / f'teacher_{name}.pth')
        torch.save(dict(state_dict=model.state_dict(),
                        meta=dict(dataset_meta=dict(classes=classes))), ckpt)
        paths[name] = (cfg, ckpt)
    mt = write(tmp / 'mt.py', MT.format(
        student=paths['a'][0], ta=paths['a'][0], ca=paths['a'][1],
        tb=paths['b'][0], cb=paths['b'][1]))
    overlap = write(tmp / 'mt_overlap.py', MT.replace(
        "classes=('cross', 'triangle')", "classes=('ring', 'star')").format(
        student=paths['a'][0], ta=paths['a'][0], ca=paths['a'][1],
        tb=paths['a'][0], cb=paths['a'][1]))
    return dict(tmp=tmp, root=root, mt=mt, mt_overlap=overlap)


def load(path):
    with open(path) as f:
        return json.load(f)


def test_pseudo_label_json(env):
    root, out = env['root'], str(env['tmp'] / 'out' / 'part0_pseudo.json')
    src_file = root + 'annotations/instances_train_part0.json'
    proc = run_tool([
        'tools/pseudo_label.py', env['mt'], '--ann-file', src_file,
        '--img-dir', root + 'train', '--out', out, '--score-thr', '0.5',
        '--batch-size', '3'
    ])
    assert 'pseudo labels' in proc.stderr and '2/2' in proc.stderr  # tqdm
    src, res = load(src_file), load(out)
    n_img = len(src['images'])
    assert n_img == 2
    assert res['images'] == src['images']
    assert res['categories'] == src['categories']
    # GT kept unchanged, first
    gt = res['annotations'][:len(src['annotations'])]
    assert gt == src['annotations']
    pseudo = res['annotations'][len(src['annotations']):]
    # teacher B only (part 0 labels ring/star): 3 boxes per image, all
    # 'cross' (id 3) at 0.8 >= 0.5; 'triangle' (0.2) never in the top 3
    assert len(pseudo) == 3 * n_img
    assert {a['image_id'] for a in pseudo} == {
        im['id'] for im in src['images']}
    for a in pseudo:
        assert a['category_id'] == 3 and a['pseudo'] is True
        assert a['score'] == pytest.approx(0.8, abs=1e-4)
        x, y, w, h = a['bbox']
        assert (w, h) == (2.0, 2.0) and a['area'] == 4.0 and a['iscrowd'] == 0
        assert x % 2 == 0 and y % 2 == 0 and 0 <= x <= 62 and 0 <= y <= 62
    ids = [a['id'] for a in res['annotations']]
    assert len(set(ids)) == len(ids)
    assert res['annotated_classes'] == ['ring', 'star', 'cross', 'triangle']
    info = res['pseudo_label']
    assert info['num_pseudo_boxes'] == {'cross': 6}
    assert info['gt_classes'] == ['ring', 'star'] and info['score_thr'] == 0.5
    # the written file trains as a fully labelled CenterXCocoDataset
    ds = DATASETS.build(dict(
        type='CenterXCocoDataset', data_root='', ann_file=out,
        metainfo=dict(classes=('ring', 'star', 'cross', 'triangle')),
        data_prefix=dict(img=root + 'train/'),
        filter_cfg=dict(filter_empty_gt=False), pipeline=[]))
    assert ds.get_data_info(0)['annotated_labels'] == [0, 1, 2, 3]
    n_cross = sum(i['bbox_label'] == 2 for k in range(len(ds))
                  for i in ds.get_data_info(k)['instances'])
    assert n_cross == 6


def test_pseudo_label_threshold_and_other_part(env):
    from tools.pseudo_label import main
    root = env['root']
    out = str(env['tmp'] / 'part1_pseudo.json')
    res = main([env['mt'], '--ann-file',
                root + 'annotations/instances_train_part1.json', '--img-dir',
                root + 'train', '--out', out, '--score-thr', '0.9',
                '--no-progress'])
    # teacher A's ring at 0.8 < 0.9: no pseudo box, GT only
    src = load(root + 'annotations/instances_train_part1.json')
    assert res['annotations'] == src['annotations']
    assert load(out)['pseudo_label']['num_pseudo_boxes'] == {}
    res = main([env['mt'], '--ann-file',
                root + 'annotations/instances_train_part1.json', '--img-dir',
                root + 'train', '--out', out, '--no-progress'])
    pseudo = [a for a in res['annotations'] if a.get('pseudo')]
    assert len(pseudo) == 6 and {a['category_id'] for a in pseudo} == {1}


def test_pseudo_label_bad_input(env):
    from centerx_mm.datasets import DatasetConfigError
    from tools.pseudo_label import PseudoLabelError, main
    root = env['root']
    args = [env['mt'], '--img-dir', root + 'train', '--out',
            str(env['tmp'] / 'x.json'), '--no-progress', '--ann-file']
    with pytest.raises(PseudoLabelError, match='nothing to pseudo-label'):
        main(args + [root + 'annotations/instances_train_part0.json',
                     '--annotated-classes', 'ring,star,cross,triangle'])
    with pytest.raises(PseudoLabelError,
                       match=r'instances_train\.json has no top-level '
                       '"annotated_classes"'):
        main(args + [root + 'annotations/instances_train.json'])
    with pytest.raises(PseudoLabelError,
                       match=r"annotated classes \['hexagon'\] are not "
                       'categories'):
        main(args + [root + 'annotations/instances_train.json',
                     '--annotated-classes', 'hexagon'])
    with pytest.raises(FileNotFoundError, match='--ann-file not found'):
        main(args + [root + 'annotations/nope.json'])
    bad_json = env['tmp'] / 'bad.json'
    bad_json.write_text('{"images": [')
    with pytest.raises(DatasetConfigError,
                       match=r'--ann-file .*bad\.json is not valid JSON'):
        main(args + [str(bad_json)])
    # two teachers of one unlabelled class: both boxes would become GT
    with pytest.raises(PseudoLabelError,
                       match=r"model.teachers\[0\] and model.teachers\[1\] "
                       "both teach 'ring'"):
        main([env['mt_overlap']] + args[1:] +
             [root + 'annotations/instances_train_part1.json'])
    with pytest.raises(PseudoLabelError, match='has no model.teachers'):
        main([osp.join(REPO, 'configs/centerx/mt_r18_naive_merge_shapes.py')]
             + args[1:] + [root + 'annotations/instances_train_part0.json'])
