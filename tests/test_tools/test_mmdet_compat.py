"""At home for an mmdet user: mmdet's own tools, DetInferencer and mmdeploy's
SDK export work on our configs and checkpoints without a wrapper; the
analysis tools, dist/slurm scripts, --auto-scale-lr, --tensorboard, --tta
and a relative --show-dir, on the tiny dataset."""
import glob
import json
import os
import os.path as osp
import pickle
import re
import subprocess

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

from centerx_mm.utils.misc import mmdet_tool_path
from tests.helpers import (REPO, TINY_CONFIG, data_options, make_tiny_dataset,
                           run_tool, write)
from tests.test_deploy.conftest import tiny_detector

CLASSES = ('ring', 'star', 'cross', 'triangle')


@pytest.fixture(scope='module')
def env(tmp_path_factory):
    """Tiny data, the tiny config pointed at it (a file, as a user has),
    and a checkpoint of a random tiny detector with non-degenerate
    outputs (tests/test_deploy/conftest.py) and mmengine's meta."""
    root = tmp_path_factory.mktemp('compat')
    data = make_tiny_dataset(root / 'data', num_train=4, num_val=4)
    cfg = Config.fromfile(TINY_CONFIG)
    cfg.merge_from_dict(dict(o.split('=', 1) for o in data_options(data)))
    cfg_file = str(root / 'tiny_cfg.py')
    cfg.dump(cfg_file)
    model = tiny_detector(cfg)
    ckpt = str(root / 'tiny.pth')
    torch.save(dict(state_dict=model.state_dict(),
                    meta=dict(dataset_meta=dict(classes=CLASSES))), ckpt)
    return dict(root=root, data=data, cfg=cfg, cfg_file=cfg_file,
                model=model, ckpt=ckpt)


# -- registries / mmdet's tools unwrapped --------------------------------


def test_fresh_process_resolves_mmdet_and_our_modules_in_our_scope():
    """Without register_all_modules: only the scope is set, as mmdet's
    tools do. Before `locations`: 'DetLocalVisualizer is not in the
    centerx_mm::visualizer registry'. Resolving modules changes no global
    state: the weights-only loader is installed only by the configs'
    `custom_imports` (centerx_mm.mmdet_plugin) or register_all_modules()."""
    code = (
        'from mmengine.registry import init_default_scope\n'
        'from mmdet.registry import HOOKS, TRANSFORMS, VISUALIZERS\n'
        "init_default_scope('centerx_mm')\n"
        "vis = VISUALIZERS.build(dict(type='DetLocalVisualizer', name='v'))\n"
        "load = TRANSFORMS.build(dict(type='LoadImageFromFile'))\n"
        "hook = HOOKS.build(dict(type='NumClassesCheckHook'))\n"
        'from centerx_mm.checkpoint import safe_checkpoint_loader_installed\n'
        "print(type(vis).__name__, type(load).__name__, type(hook).__name__,"
        " safe_checkpoint_loader_installed())\n")
    out = run_tool(['-c', code])
    assert out.stdout.split() == [
        'DetLocalVisualizer', 'SafeLoadImageFromFile', 'NumClassesCheckHook',
        'False'
    ]


def test_det_inferencer_on_our_config(env):
    """mmdet's DetInferencer in a fresh process (no centerx_mm import): the
    same detections as our model on the config's test pipeline."""
    from mmengine.dataset import Compose, pseudo_collate
    img = osp.join(env['data'], 'val', '000001.png')
    code = (
        'import json\n'
        'from mmdet.apis import DetInferencer\n'
        f"inf = DetInferencer(model={env['cfg_file']!r}, "
        f"weights={env['ckpt']!r}, device='cpu', scope='centerx_mm')\n"
        f'out = inf({img!r}, return_datasamples=True, no_save_vis=True)\n'
        "p = out['predictions'][0].pred_instances\n"
        "print(json.dumps(dict(model=type(inf.model).__name__, "
        "bboxes=p.bboxes[:10].tolist(), scores=p.scores[:10].tolist(), "
        "classes=inf.model.dataset_meta['classes'])))\n")
    got = json.loads(run_tool(['-c', code]).stdout.strip().splitlines()[-1])
    assert got['model'] == 'CenterX'
    assert tuple(got['classes']) == CLASSES
    pipeline = Compose(env['cfg'].test_dataloader.dataset.pipeline)
    data = pipeline(dict(img_path=img, img_id=0))
    with torch.no_grad():
        ref = env['model'].test_step(pseudo_collate([data]))[0].pred_instances
    np.testing.assert_allclose(got['scores'], ref.scores[:10].numpy(),
                               atol=1e-5)
    np.testing.assert_allclose(got['bboxes'], ref.bboxes[:10].numpy(),
                               atol=1e-3)


@pytest.fixture(scope='module')
def preds(env):
    """mmdet's own tools/test.py, unwrapped, on our config and checkpoint
    (it used to fail with UnpicklingError on HistoryBuffer)."""
    # a checkpoint as tools/train.py writes it (message hub, HistoryBuffer)
    work = str(env['root'] / 'train')
    run_tool(['tools/train.py', env['cfg_file'], '--work-dir', work,
              '--cfg-options', 'train_cfg.max_iters=2'])
    out_pkl = str(env['root'] / 'preds.pkl')
    out = run_tool([mmdet_tool_path('test.py'), env['cfg_file'],
                    osp.join(work, 'iter_2.pth'), '--work-dir',
                    str(env['root'] / 'mmdet_test'), '--out', out_pkl])
    assert re.search(r'coco/bbox_mAP: [\d.]+', out.stdout + out.stderr)
    return out_pkl


def test_mmdet_test_py_writes_predictions(preds):
    with open(preds, 'rb') as f:
        results = pickle.load(f)
    assert len(results) == 4
    assert all(len(r['pred_instances']['scores']) == 100 for r in results)


@pytest.mark.parametrize('tool', [
    'browse_dataset', 'get_flops', 'confusion_matrix', 'analyze_results',
    'analyze_logs', 'benchmark'
])
def test_analysis_tool_help(tool):
    out = run_tool([f'tools/analysis_tools/{tool}.py', '--help'])
    assert out.stdout.startswith('usage: ')


def test_browse_dataset_mmdet_unwrapped_and_ours(env, tmp_path):
    for script in (mmdet_tool_path('analysis_tools/browse_dataset.py'),
                   'tools/analysis_tools/browse_dataset.py'):
        out_dir = tmp_path / osp.basename(osp.dirname(script))
        run_tool([script, env['cfg_file'], '--not-show', '--output-dir',
                  str(out_dir)])
        files = sorted(os.listdir(out_dir))
        assert files == [f'{i:06d}.png' for i in range(4)]
        for name in files:  # drawn after the train pipeline: at most 128 px
            # (the images are 160..224 px)
            assert max(cv2.imread(str(out_dir / name)).shape[:2]) <= 128


def test_confusion_matrix_and_analyze_results(env, preds, tmp_path):
    run_tool(['tools/analysis_tools/confusion_matrix.py', env['cfg_file'],
              preds, str(tmp_path / 'cm'), '--score-thr', '0.05'])
    assert cv2.imread(str(tmp_path / 'cm' / 'confusion_matrix.png')) \
        is not None
    run_tool(['tools/analysis_tools/analyze_results.py', env['cfg_file'],
              preds, str(tmp_path / 'ar'), '--topk', '2'])
    for part in ('good', 'bad'):
        assert len(os.listdir(tmp_path / 'ar' / part)) == 2


def test_get_flops_counts_our_parameters(env):
    out = run_tool(['tools/analysis_tools/get_flops.py', env['cfg_file'],
                    '--num-images', '2'])
    params = sum(p.numel() for p in env['model'].parameters())
    assert f'Params: {params / 1e6:.3f}M' in out.stdout, out.stdout[-800:]
    assert re.search(r'Flops: [\d.]+[MG]', out.stdout)


def test_benchmark_reports_pytorch_fps(env, tmp_path):
    # more --max-iter than images: mmdet's InferenceBenchmark reports 0 fps
    out = run_tool(['tools/analysis_tools/benchmark.py', env['cfg_file'],
                    '--checkpoint', env['ckpt'], '--max-iter', '50',
                    '--num-warmup', '1', '--device', 'cpu', '--work-dir',
                    str(tmp_path)])
    text = out.stdout + out.stderr
    m = re.search(r'Overall fps: ([\d.]+) img/s, times per image: ([\d.]+) '
                  r'ms/img \((\d+) images timed', text)
    assert m, text[-1500:]
    fps, ms, n = float(m.group(1)), float(m.group(2)), int(m.group(3))
    assert n == 3 and fps > 0
    assert ms == pytest.approx(1000 / fps, rel=0.02)
    assert 'Overall fps' in (tmp_path / 'benchmark.log').read_text()


# -- train options, logs -------------------------------------------------


@pytest.fixture(scope='module')
def trained(env):
    work = str(env['root'] / 'scaled')
    out = run_tool(['tools/train.py', env['cfg_file'], '--work-dir', work,
                    '--auto-scale-lr', '--tensorboard', '--cfg-options',
                    'train_cfg.max_iters=4'])
    return work, out.stdout + out.stderr


def test_auto_scale_lr(env, trained):
    work, text = trained
    assert 'Scaling the original LR by 0.125' in text  # batch 2 of base 16
    rows = [json.loads(line) for line in open(
        glob.glob(osp.join(work, '*', 'vis_data', 'scalars.json'))[0])]
    cfg = env['cfg']
    expected = cfg.optim_wrapper.optimizer.lr * 2 / 16 * \
        cfg.param_scheduler[0].start_factor
    assert rows[0]['step'] == 1
    assert rows[0]['lr'] == pytest.approx(expected, rel=1e-6)


def test_auto_scale_lr_needs_base_batch_size(env, tmp_path):
    out = run_tool(['tools/train.py', env['cfg_file'], '--work-dir',
                    str(tmp_path), '--auto-scale-lr', '--cfg-options',
                    'auto_scale_lr=None'], check=False)
    assert out.returncode != 0
    assert 'has no auto_scale_lr.base_batch_size' in out.stderr


def test_tensorboard_switch_writes_events(trained):
    work, _ = trained
    events = glob.glob(osp.join(work, '*', 'vis_data', 'events.out.*'))
    assert len(events) == 1 and osp.getsize(events[0]) > 0
    from tensorboard.backend.event_processing.event_accumulator import \
        EventAccumulator
    acc = EventAccumulator(events[0])
    acc.Reload()
    assert [e.step for e in acc.Scalars('loss')] == [1, 2, 3, 4]


def test_analyze_logs(trained, tmp_path):
    work, _ = trained
    fig = tmp_path / 'curve.png'
    out = run_tool(['tools/analysis_tools/analyze_logs.py', 'plot_curve',
                    work, '--keys', 'loss', 'bbox_mAP', '--out', str(fig)])
    assert 'metric is bbox_mAP (1 points)' in out.stdout
    assert cv2.imread(str(fig)) is not None
    out = run_tool(['tools/analysis_tools/analyze_logs.py', 'cal_train_time',
                    work])
    rows = [json.loads(line) for line in open(
        glob.glob(osp.join(work, '*', 'vis_data', 'scalars.json'))[0])]
    times = [r['time'] for r in rows if 'loss' in r][1:]  # first left out
    m = re.search(r'average iter time: ([\d.]+) s/iter', out.stdout)
    assert float(m.group(1)) == pytest.approx(np.mean(times), abs=1e-4)
    out = run_tool(['tools/analysis_tools/analyze_logs.py', 'plot_curve',
                    work, '--keys', 'nope'], check=False)
    assert "has no 'nope'" in out.stderr


# -- test options: --tta, --show-dir, dist/slurm --------------------------


def mirror_dataset(data, dst):
    """val image 0 and its left-right mirror as a 2-image COCO set."""
    os.makedirs(osp.join(dst, 'val'), exist_ok=True)
    with open(osp.join(data, 'annotations', 'instances_val.json')) as f:
        coco = json.load(f)
    img = cv2.imread(osp.join(data, 'val', '000000.png'))
    cv2.imwrite(osp.join(dst, 'val', 'a.png'), img)
    cv2.imwrite(osp.join(dst, 'val', 'b.png'), img[:, ::-1])
    h, w = img.shape[:2]
    images = [dict(id=1, file_name='a.png', width=w, height=h),
              dict(id=2, file_name='b.png', width=w, height=h)]
    anns = []
    for a in coco['annotations']:
        if a['image_id'] != coco['images'][0]['id']:
            continue
        x, y, bw, bh = a['bbox']
        anns.append(dict(a, id=len(anns) + 1, image_id=1))
        anns.append(dict(a, id=len(anns) + 1, image_id=2,
                         bbox=[w - x - bw, y, bw, bh]))
    os.makedirs(osp.join(dst, 'annotations'), exist_ok=True)
    with open(osp.join(dst, 'annotations', 'instances_val.json'), 'w') as f:
        json.dump(dict(coco, images=images, annotations=anns), f)
    return str(dst).rstrip('/') + '/', w


def test_tta_flips_back_and_show_dir_goes_to_work_dir(env, tmp_path):
    """With flip TTA, an image and its mirror see the same two views, so
    their merged detections are mirror images of each other. (Without the
    flip back they would be identical instead.)"""
    from centerx_mm.apis import match_dets
    root, width = mirror_dataset(env['data'], tmp_path / 'mirror')
    work = tmp_path / 'work'
    pkl = str(tmp_path / 'tta.pkl')
    out = run_tool(['tools/test.py', env['cfg_file'], env['ckpt'],
                    '--work-dir', str(work), '--tta', '--out', pkl,
                    '--show-dir', 'vis', '--cfg-options',
                    *data_options(root)])
    # relative --show-dir: under WORK_DIR/<timestamp>/, as mmdet
    drawn = glob.glob(str(work / '*' / 'vis' / '*.png'))
    assert sorted(osp.basename(p) for p in drawn) == ['a.png', 'b.png']
    assert f'drawings saved in {work}' in out.stdout
    with open(pkl, 'rb') as f:
        res = {osp.basename(r['img_path']): r['pred_instances']
               for r in pickle.load(f)}

    def dets(p, mirror=False):
        b = p['bboxes'].numpy().copy()
        if mirror:
            b[:, [0, 2]] = width - b[:, [2, 0]]
        return (np.concatenate([b, p['scores'].numpy()[:, None]], 1)[None],
                p['labels'].numpy()[None])

    a, b = res['a.png'], res['b.png']
    assert len(a['scores']) == len(b['scores']) > 0
    match = match_dets(*dets(a), *dets(b, mirror=True), score_tol=1e-4)
    assert match['labels_identical'] and match['max_abs_diff'] < 0.05, match
    # and TTA is not the plain test: plain dets of a and mirrored b differ
    plain = str(tmp_path / 'plain.pkl')
    run_tool(['tools/test.py', env['cfg_file'], env['ckpt'], '--work-dir',
              str(work), '--out', plain, '--cfg-options',
              *data_options(root)])
    with open(plain, 'rb') as f:
        plain_a = pickle.load(f)[0]['pred_instances']
    assert not torch.equal(plain_a['scores'], a['scores'])


def test_tta_needs_tta_config(env, tmp_path):
    out = run_tool(['tools/test.py', env['cfg_file'], env['ckpt'],
                    '--work-dir', str(tmp_path), '--tta', '--cfg-options',
                    'tta_model=None'], check=False)
    assert out.returncode != 0
    assert 'has no tta_model (see configs/_base_/default_runtime.py' \
        in out.stderr


def test_dist_test_two_processes(env, tmp_path):
    proc = subprocess.run(
        ['bash', 'tools/dist_test.sh', env['cfg_file'], env['ckpt'], '2',
         '--work-dir', str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=300,
        env=dict(os.environ, OMP_NUM_THREADS='1', PORT='29641'))
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, text[-4000:]
    assert 'Distributed launcher: pytorch' in text
    assert 'GPU number: 2' in text
    assert re.search(r'coco/bbox_mAP: [\d.]+', text)
    out = subprocess.run(['bash', 'tools/dist_test.sh'], cwd=REPO,
                         capture_output=True, text=True)
    assert out.returncode == 2 and 'usage:' in out.stderr


FAKE_SRUN = """#!/usr/bin/env bash
# stands in for Slurm's srun: records its options, runs the command as the
# one task of a 1-task job (the variables srun and mmengine would set)
echo "$@" > "$SRUN_LOG"
while [ $# -gt 0 ]; do
  case "$1" in
    -p) shift 2 ;;
    -*) shift ;;
    *) break ;;
  esac
done
exec env SLURM_PROCID=0 SLURM_NTASKS=1 SLURM_NODELIST=localhost \\
  RANK=0 WORLD_SIZE=1 LOCAL_RANK=0 MASTER_ADDR=127.0.0.1 \\
  MASTER_PORT=29643 "$@"
"""


def test_slurm_scripts(env, tmp_path):
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    write(bin_dir / 'srun', FAKE_SRUN)
    os.chmod(bin_dir / 'srun', 0o755)
    log = tmp_path / 'srun.log'
    run_env = dict(os.environ, PATH=f'{bin_dir}:{os.environ["PATH"]}',
                   SRUN_LOG=str(log), GPUS='1', GPUS_PER_NODE='1',
                   OMP_NUM_THREADS='1')
    work = tmp_path / 'work'
    proc = subprocess.run(
        ['bash', 'tools/slurm_train.sh', 'gpu_part', 'cx_job',
         env['cfg_file'], str(work), '--cfg-options',
         'train_cfg.max_iters=2'],
        cwd=REPO, capture_output=True, text=True, timeout=300, env=run_env)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    args = log.read_text().split()
    assert args[:2] == ['-p', 'gpu_part']
    assert '--job-name=cx_job' in args and '--ntasks=1' in args
    assert '--launcher=slurm' in args
    assert (work / 'iter_2.pth').exists()
    proc = subprocess.run(
        ['bash', 'tools/slurm_test.sh', 'gpu_part', 'cx_test',
         env['cfg_file'], str(work / 'iter_2.pth'), '--work-dir',
         str(tmp_path / 'test')],
        cwd=REPO, capture_output=True, text=True, timeout=300, env=run_env)
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, text[-4000:]
    assert '--job-name=cx_test' in log.read_text()
    assert re.search(r'coco/bbox_mAP: [\d.]+', text)


# -- mmdeploy SDK export, ONNX input name ----------------------------------


def test_mmdeploy_sdk_export_and_one_input_name(env, tmp_path):
    from mmdeploy.utils import load_config

    from tools.deploy import main as deploy_main
    from tools.export_onnx import main as export_main
    deploy_cfg = osp.join(REPO, 'configs', 'deploy',
                          'centerx_onnxruntime_dynamic.py')
    work = str(tmp_path / 'sdk')
    img = osp.join(env['data'], 'val', '000000.png')
    report = deploy_main([deploy_cfg, env['cfg_file'], env['ckpt'], img,
                          '--work-dir', work, '--dump-info'])
    assert sorted(osp.basename(f) for f in report['sdk_files']) == [
        'deploy.json', 'detail.json', 'pipeline.json']
    with open(osp.join(work, 'pipeline.json')) as f:
        tasks = json.load(f)['pipeline']['tasks']
    transforms = tasks[0]['transforms']
    assert transforms[0]['type'] == 'LoadImageFromFile'
    assert {'type': 'Resize', 'keep_ratio': True,
            'size': [128, 128]} in transforms
    # one input name for both exports: mmdeploy's
    name = load_config(deploy_cfg)[0].onnx_config.input_names[0]
    assert tasks[1]['input_map'] == {'img': name}
    import onnx
    assert [i.name for i in onnx.load(report['onnx']).graph.input] == [name]
    ours = str(tmp_path / 'ours.onnx')
    export_main([env['cfg_file'], env['ckpt'], '--out', ours])
    assert [i.name for i in onnx.load(ours).graph.input] == [name]


# -- inheriting mmdet's CenterNet config, fine-tuning its checkpoint -------


def test_mmdet_centernet_config_and_checkpoint_fine_tune(env, tmp_path):
    """configs/centerx/centerx_r18_from-mmdet-centernet_coco.py inherits
    mmdet's config with `mmdet::`; a (random) mmdet CenterNet saved here
    fine-tunes on 4 classes: every weight but the 80-class heatmap output
    comes from it."""
    from mmdet.registry import MODELS as MMDET_MODELS
    from mmengine.registry import DefaultScope
    mmdet_cfg = Config.fromfile(
        osp.join(osp.dirname(mmdet_tool_path('test.py')), '..', 'configs',
                 'centernet', 'centernet_r18_8xb16-crop512-140e_coco.py'))
    mmdet_cfg.model.backbone.init_cfg = None
    with DefaultScope.overwrite_default_scope('mmdet'):
        torch.manual_seed(1)
        centernet = MMDET_MODELS.build(mmdet_cfg.model)
        centernet.init_weights()
    assert type(centernet).__name__ == 'CenterNet'
    mmdet_ckpt = str(tmp_path / 'mmdet_centernet.pth')
    torch.save(dict(state_dict=centernet.state_dict(),
                    meta=dict(dataset_meta=dict(classes=('x', ) * 80))),
               mmdet_ckpt)
    root = env['data'].rstrip('/') + '/'
    example = osp.join(REPO, 'configs', 'centerx',
                       'centerx_r18_from-mmdet-centernet_coco.py')
    child = write(tmp_path / 'finetune.py', f"""
        _base_ = [{example!r}]
        metainfo = dict(classes={CLASSES!r})
        model = dict(bbox_head=dict(num_classes=4))
        load_from = {mmdet_ckpt!r}
        train_dataloader = dict(
            batch_size=2, num_workers=0, persistent_workers=False,
            dataset=dict(times=1, dataset=dict(
                data_root={root!r}, metainfo=metainfo,
                ann_file='annotations/instances_train.json',
                data_prefix=dict(img='train/'),
                filter_cfg=dict(filter_empty_gt=False))))
        train_cfg = dict(_delete_=True, type='IterBasedTrainLoop',
                         max_iters=1)
        param_scheduler = []
        optim_wrapper = dict(optimizer=dict(lr=0.0))
        val_dataloader = None
        val_cfg = None
        val_evaluator = None
        test_dataloader = None
        test_cfg = None
        test_evaluator = None
        default_hooks = dict(checkpoint=dict(interval=1, by_epoch=False),
                             logger=dict(interval=1))
        """)
    work = tmp_path / 'work'
    out = run_tool(['tools/train.py', child, '--work-dir', str(work)])
    text = out.stdout + out.stderr
    assert 'size mismatch for bbox_head.heatmap_head.2.weight' in text
    tuned = torch.load(str(work / 'iter_1.pth'), weights_only=False)
    state, src = tuned['state_dict'], centernet.state_dict()
    assert tuned['meta']['dataset_meta']['classes'] == CLASSES
    assert state['bbox_head.heatmap_head.2.weight'].shape[0] == 4
    same = [k for k in src
            if k in state and state[k].shape == src[k].shape and
            'running' not in k and 'num_batches' not in k]
    assert len(same) == len(src) - 2 - sum(
        'running' in k or 'num_batches' in k for k in src)
    for k in same:  # lr 0: the weights are the loaded ones
        assert torch.equal(state[k], src[k]), k
