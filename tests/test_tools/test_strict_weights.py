"""Strict weights (issue 16, issue 14 items 7-8): every tool refuses a
checkpoint whose keys, shapes or class names do not fit the config; a
trained checkpoint needs no ImageNet file; load_from is strict unless
``partial_load``; the README's ImageNet recipe works as written."""
import os.path as osp
import re
import uuid

import pytest
import torch
from mmengine.config import Config

from centerx_mm.checkpoint import CheckpointMismatchError
from centerx_mm.registry import MODELS
from tests.helpers import (REPO, TINY_CONFIG, data_options, make_tiny_dataset,
                           save_ckpt)

CLASSES = ('ring', 'star', 'cross', 'triangle')
TOOLS = ['test', 'demo', 'export_onnx', 'export_caffe', 'deploy']


@pytest.fixture(scope='module')
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp('strict')
    data = make_tiny_dataset(root / 'data', num_train=2, num_val=2)
    cfg = Config.fromfile(TINY_CONFIG)
    torch.manual_seed(0)
    good = MODELS.build(cfg.model)
    cfg.model.bbox_head.num_classes = 5
    five = MODELS.build(cfg.model)
    return dict(
        root=root, data=data, img=osp.join(data, 'val', '000000.png'),
        good=save_ckpt(good, root / 'good.pth', CLASSES),
        five=save_ckpt(five, root / 'five.pth', CLASSES + ('hexagon', )),
        other_arch=save_ckpt(
            torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3)), root / 'arch.pth',
            CLASSES),
        reordered=save_ckpt(good, root / 'reordered.pth',
                            ('star', 'ring', 'cross', 'triangle')))


def _argv(tool, env, ckpt, tmp_path, cfg_options=()):
    opts = ['--cfg-options', *data_options(env['data']), *cfg_options]
    deploy_cfg = osp.join(REPO, 'configs', 'deploy',
                          'centerx_onnxruntime_dynamic.py')
    return {
        'test': [TINY_CONFIG, ckpt, '--work-dir', str(tmp_path), *opts],
        'demo': [env['img'], TINY_CONFIG, ckpt, '--out-file',
                 str(tmp_path / 'demo.png'), *opts],
        'export_onnx': [TINY_CONFIG, ckpt, '--out', str(tmp_path / 'm.onnx'),
                        *opts],
        'export_caffe': [TINY_CONFIG, ckpt, '--out', str(tmp_path / 'm')],
        'deploy': [deploy_cfg, TINY_CONFIG, ckpt, env['img'], '--work-dir',
                   str(tmp_path)],
    }[tool]


def _main(tool):
    return __import__(f'tools.{tool}', fromlist=['main']).main


@pytest.mark.parametrize('tool', TOOLS)
def test_tools_refuse_checkpoint_of_other_shapes(env, tmp_path, tool):
    with pytest.raises(CheckpointMismatchError) as err:
        _main(tool)(_argv(tool, env, env['five'], tmp_path))
    msg = str(err.value)
    assert 'five.pth does not fit the model of config' in msg
    assert re.search(r'shape-mismatched keys: bbox_head\.heatmap_head\.\d+\.'
                     r'(weight|bias) \(5', msg), msg
    assert not (tmp_path / 'm.onnx').exists()
    assert not (tmp_path / 'demo.png').exists()


@pytest.mark.parametrize('tool', ['test', 'export_onnx'])
def test_tools_refuse_checkpoint_of_another_architecture(env, tmp_path,
                                                         tool):
    with pytest.raises(CheckpointMismatchError,
                       match=r'\d+ missing keys: backbone\..*\(\+\d+ more\); '
                       r'2 unexpected keys: 0\.bias, 0\.weight'):
        _main(tool)(_argv(tool, env, env['other_arch'], tmp_path))


@pytest.mark.parametrize('tool', TOOLS)
def test_tools_refuse_other_class_names(env, tmp_path, tool):
    with pytest.raises(CheckpointMismatchError,
                       match=r"reordered\.pth was trained on classes "
                       r"\['star', 'ring', .* names \['ring', 'star'"):
        _main(tool)(_argv(tool, env, env['reordered'], tmp_path))


def test_trained_checkpoint_needs_no_imagenet_file(env, tmp_path):
    """The config names a pretrained file that is not on this machine (the
    README's recipe): test and export still run (issue 14 item 7)."""
    missing = ['model.backbone.init_cfg.type=Pretrained',
               'model.backbone.init_cfg.checkpoint=/nonexistent/r18.pth']
    cfg = Config.fromfile(TINY_CONFIG)
    cfg.merge_from_dict(dict(o.split('=', 1) for o in missing))
    with pytest.raises(FileNotFoundError, match='nonexistent/r18.pth'):
        MODELS.build(cfg.model)  # training would need it
    _main('export_onnx')(_argv('export_onnx', env, env['good'], tmp_path,
                               missing))
    assert (tmp_path / 'm.onnx').exists()
    metrics = _main('test')(_argv('test', env, env['good'], tmp_path,
                                  missing + [
                                      f'experiment_name={uuid.uuid4().hex}']))
    assert 'coco/bbox_mAP' in metrics


def _train(env, tmp_path, *options):
    from tools.train import main
    main([TINY_CONFIG, '--work-dir', str(tmp_path), '--cfg-options',
          *data_options(env['data']), 'train_cfg.max_iters=1',
          f'experiment_name={uuid.uuid4().hex}', *options])


def test_load_from_is_strict_unless_partial_load(env, tmp_path):
    with pytest.raises(CheckpointMismatchError,
                       match=r'load_from \S*five\.pth does not fit .*'
                       r'shape-mismatched keys: bbox_head.*trained on classes'
                       r'.*hexagon.*partial_load=True'):
        _train(env, tmp_path / 'strict', f'load_from={env["five"]}')
    # fine-tuning on purpose: matching weights loaded, the head kept
    _train(env, tmp_path / 'partial', f'load_from={env["five"]}',
           'default_hooks.checkpoint.partial_load=True')
    ckpt = torch.load(str(tmp_path / 'partial' / 'iter_1.pth'),
                      weights_only=False)
    assert ckpt['state_dict']['bbox_head.heatmap_head.2.weight'].shape[0] == 4


def test_resume_of_a_checkpoint_of_other_shapes_is_refused(env, tmp_path):
    """A work dir whose checkpoint holds a 5-class model (another run's):
    mmengine resumed from it as if it were fine."""
    _train(env, tmp_path)
    ckpt_path = str(tmp_path / 'iter_1.pth')
    ckpt = torch.load(ckpt_path, weights_only=False)
    ckpt['state_dict'] = torch.load(env['five'])['state_dict']
    torch.save(ckpt, ckpt_path)
    from tools.train import main
    with pytest.raises(CheckpointMismatchError,
                       match=r'--resume \S*iter_1\.pth does not fit .*'
                       r'shape-mismatched keys: bbox_head'):
        main([TINY_CONFIG, '--work-dir', str(tmp_path), '--resume',
              '--cfg-options', *data_options(env['data']),
              'train_cfg.max_iters=2', f'experiment_name={uuid.uuid4().hex}'])


def test_readme_imagenet_recipe_works_as_written(tmp_path):
    """The README's --cfg-options line, with its placeholder path replaced
    by a real local file, loads that file into the backbone."""
    with open(osp.join(REPO, 'README.md')) as f:
        readme = f.read()
    recipe = re.search(r'`--cfg-options (model\.backbone\.init_cfg[^`]*)`',
                       readme)
    assert recipe, 'the README has no ImageNet --cfg-options recipe'
    options = recipe.group(1).split()
    placeholder = [o.split('=', 1)[1] for o in options
                   if o.startswith('model.backbone.init_cfg.checkpoint=')]
    assert placeholder, options
    donor = MODELS.build(Config.fromfile(TINY_CONFIG).model)
    path = tmp_path / 'resnet18.pth'
    torch.save({'state_dict': donor.backbone.state_dict()}, path)
    options = [o.replace(placeholder[0], str(path)) for o in options]

    from tools.train import parse_args
    from centerx_mm.utils.misc import load_config
    args = parse_args([TINY_CONFIG, '--cfg-options', *options])
    cfg = load_config(args.config, args.cfg_options)
    model = MODELS.build(cfg.model)
    model.init_weights()
    for key, value in donor.backbone.state_dict().items():
        assert torch.equal(model.backbone.state_dict()[key], value), key
