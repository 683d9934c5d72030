"""tools/experiments/run_kd_seeds.py: the derived configs and commands of
the 3-seed distillation tables (dry run), schedule scaling, the table."""
import json
import os
import os.path as osp

import pytest
from mmengine.config import Config

from tools.experiments import run_kd_seeds as driver


def test_scaled_schedulers_hand_computed():
    base = [dict(type='LinearLR', start_factor=0.01, by_epoch=False,
                 begin=0, end=100),
            dict(type='MultiStepLR', by_epoch=False, begin=0, end=2000,
                 milestones=[1500, 1800], gamma=0.1),
            dict(type='CosineAnnealingLR', by_epoch=False, begin=50,
                 end=2000, T_max=1950),
            dict(type='MultiStepLR', by_epoch=True, milestones=[8, 11])]
    out = driver.scaled_schedulers(base, 1.5)
    assert out[0] == base[0]  # warm-up kept
    assert out[1]['end'] == 3000 and out[1]['milestones'] == [2250, 2700]
    assert (out[2]['begin'], out[2]['end'], out[2]['T_max']) == (75, 3000,
                                                                 2925)
    assert out[3] == base[3]  # epoch-based: untouched


@pytest.fixture(scope='module')
def ttf_dry_run(tmp_path_factory):
    work = tmp_path_factory.mktemp('kd_seeds')
    driver.main([str(work), '--dry-run', '--recipe', 'ttf', '--seeds', '0',
                 '5', '--iters', '40', '--teacher-iters', '90'])
    with open(osp.join(work, 'commands.sh')) as f:
        commands = f.read().splitlines()[1:]
    return str(work), commands


def test_dry_run_derived_configs(ttf_dry_run):
    work, _ = ttf_dry_run
    assert {c for c in os.listdir(osp.join(work, 'configs'))
            if c.endswith('.py')} == {
        f'{name}.py' for name in driver.ROW
    } | {'plain_centerx_r18_1k_shapes.py',
         'plain_mt_r18_ignore_unlabelled_shapes.py'}
    student = Config.fromfile(osp.join(work, 'configs', 'kd_r50-r18.py'))
    assert student.model.type == 'CenterXDistiller'
    head = student.model.bbox_head
    assert (head.type, head.num_classes, head.in_channels) == (
        'CenterXTTFHead', 4, 64)
    assert student.train_cfg.max_iters == 40 and student.val_cfg is None
    assert student.param_scheduler[1].milestones == [30, 36]
    teacher = Config.fromfile(osp.join(work, 'configs', 'teacher_b_ring.py'))
    assert teacher.model.bbox_head.type == 'CenterXTTFHead'
    assert teacher.model.bbox_head.num_classes == 3
    assert teacher.train_cfg.max_iters == 90
    assert teacher.param_scheduler[1].milestones == [68, 81]  # 2k scaled


def test_dry_run_commands(ttf_dry_run):
    work, commands = ttf_dry_run
    trains = [c for c in commands if 'tools/train.py' in c]
    # 14 rows, 2 seeds
    assert len(trains) == 2 * len(driver.ROWS)
    assert all(' --amp ' in c for c in trains)
    for seed in (0, 5):
        kd = [c for c in trains if f'/kd_r50-r18/seed{seed} ' in c]
        assert len(kd) == 1 and f'randomness.seed={seed}' in kd[0]
        # this seed's teacher, through its derived (TTF) config
        assert f'model.teachers.0.config={work}/configs/teacher_r50.py' \
            in kd[0]
        assert (f'model.teachers.0.checkpoint={work}/teacher_r50/seed{seed}'
                '/iter_90.pth') in kd[0]
        self_kd = [c for c in trains if f'/self-kd_r18-r18/seed{seed} ' in c]
        assert f'{work}/r18_baseline/seed{seed}/iter_40.pth' in self_kd[0]
        overlap = [c for c in trains
                   if f'/mtkd-overlap-nolabel/seed{seed} ' in c][0]
        assert f'model.teachers.1.config={work}/configs/teacher_b_ring.py' \
            in overlap
    # teachers train before the rows they teach
    order = [c.split('--work-dir ')[1].split()[0] for c in trains[:7]]
    assert order.index(f'{work}/teacher_r50/seed0') < order.index(
        f'{work}/kd_r50-r18/seed0')
    # the pseudo-label row: a plain CenterX fed the seed's pseudo labels
    pseudo = [c for c in trains if '/r18_pseudo_label/seed5 ' in c][0]
    assert 'model.teachers' not in pseudo
    assert f'{work}/pseudo_labels/seed5/instances_train_part1_pseudo.json' \
        in pseudo
    labelling = [c for c in commands if 'tools/pseudo_label.py' in c]
    assert len(labelling) == 4
    assert any('teacher_b/seed5/iter_90.pth' in c for c in labelling)
    # students are tested with the plain student config
    tests = [c for c in commands if '--evaluate' in c]
    assert len(tests) == len(trains)
    kd_test = [c for c in tests if '/kd_r50-r18/seed0/metrics' in c][0]
    assert 'configs/plain_centerx_r18_1k_shapes.py' in kd_test
    assert 'test_evaluator.classwise=True' in kd_test


def test_recipes_in_order_and_a_fragment(tmp_path):
    fragment = tmp_path / 'recipe.py'
    fragment.write_text('optim_wrapper = dict(optimizer=dict(lr=0.005))\n')
    work = str(tmp_path / 'work')
    driver.main([work, '--dry-run', '--recipe', 'w32', 'ttf', str(fragment),
                 '--tables', 'kd', '--rows', 'kd_r50-r18', '--seeds', '1'])
    assert sorted(c for c in os.listdir(osp.join(work, 'configs'))
                  if c.endswith('.py')) == [
        'kd_r50-r18.py', 'plain_centerx_r18_1k_shapes.py', 'teacher_r50.py'
    ]
    for name, neck_in in (('kd_r50-r18', 256), ('teacher_r50', 1024)):
        cfg = Config.fromfile(osp.join(work, 'configs', f'{name}.py'))
        assert cfg.optim_wrapper.optimizer.lr == 0.005
        assert cfg.model.backbone.base_channels == 32
        assert cfg.model.neck.in_channels == neck_in
        # ttf after w32: the TTF head takes the half-width head's channels
        head = cfg.model.bbox_head
        assert (head.type, head.in_channels, head.feat_channels) == (
            'CenterXTTFHead', 32, 32)
    # the plain test config of the students gets the same recipes
    plain = Config.fromfile(osp.join(work, 'configs',
                                     'plain_centerx_r18_1k_shapes.py'))
    assert plain.model.bbox_head.type == 'CenterXTTFHead'
    assert plain.model.backbone.base_channels == 32

def test_unknown_recipe(tmp_path):
    with pytest.raises(FileNotFoundError, match='--recipe must be one of'):
        driver.main([str(tmp_path), '--dry-run', '--recipe', 'nope.py'])


def test_table_mean_and_std(tmp_path):
    work = str(tmp_path)
    for seed, (a, b) in enumerate(((0.10, 0.30), (0.20, 0.50))):
        run = osp.join(work, 'mtkd', f'seed{seed}')
        os.makedirs(run)
        with open(osp.join(run, 'metrics.json'), 'w') as f:
            json.dump(dict(mAP=(a + b) / 2, mAP_A=a, mAP_B=b,
                           per_class=dict(ring=a, star=a, cross=b,
                                          triangle=b)), f)
    args = driver.parse_args([work, '--seeds', '0', '1', '2'])
    driver.write_table(work, 'mt', args)
    table = open(osp.join(work, 'mt_table.md')).read()
    # A: 15.0 ± 7.1 (std of 10 and 20), B: 40.0 ± 14.1, all: 27.5 ± 10.6
    assert ('| R18 multi-teacher KD + existing labels | 15.0 ± 7.1 | '
            '40.0 ± 14.1 | 27.5 ± 10.6 | 15.0 / 15.0 / 40.0 / 40.0 | 0,1 | - |'
            ) in table
    assert '| R18 ignore-unlabelled | not yet measured | | | | | |' in table
