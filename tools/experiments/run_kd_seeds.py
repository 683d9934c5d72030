"""The distillation tables over several seeds (configs/distill/README.md,
docs/experiments_kd.md, docs/experiments_multi_teacher.md; issue 11).

    python tools/experiments/run_kd_seeds.py WORK_ROOT \
        [--seeds 0 1 2] [--recipe classic|ttf|w32|FRAGMENT.py ...] \
        [--tables kd mt] [--rows ROW ...] [--iters 1000] \
        [--teacher-iters 3000] [--no-amp] [--lock /tmp/centerx_cpu.lock] \
        [--dry-run] [--smoke] [--cfg-options KEY=VALUE ...]

Every row is trained once per seed (``--cfg-options randomness.seed=S``,
``--amp`` unless ``--no-amp``) and evaluated on the fully labelled val split
with per-class AP; the tables give mean +- std over the seeds. A row's
teachers are the teacher rows of the same seed.

Table ``kd`` (data/shapes, 4 classes): ``teacher_r50`` (R50,
``--teacher-iters``), ``r18_baseline``, ``kd_r50-r18`` (GT + KD),
``kd-nolabel_r50-r18`` (KD only, unlabelled image folder),
``self-kd_r18-r18`` (teacher: ``r18_baseline`` of the same seed).

Table ``mt`` (the two partially labelled halves of data/shapes): teachers
``teacher_a`` (R50, part 0: ring, star), ``teacher_b`` (part 1: cross,
triangle), ``teacher_b_ring`` (part 1 + its ring boxes: ring, cross,
triangle); students ``r18_naive_merge``, ``r18_ignore_unlabelled``,
``r18_pseudo_label`` (tools/pseudo_label.py with teachers a/b, score >=
0.3), ``mtkd-nolabel`` (KD only), ``mtkd`` (KD + the labels that exist),
``mtkd-overlap-nolabel`` (teachers a and b_ring both own ring); and
``r18_baseline`` (the fully labelled student, shared with table kd) to check
that each teacher is clearly stronger on its classes.

Recipe: every config is used through a derived config in
``WORK_ROOT/configs/<row>.py``: the shipped config, then each ``--recipe``
in order (``classic``: nothing; ``ttf``: ``CenterXTTFHead`` instead of the
classic head; ``w32``: half-width nets, as
configs/_base_/models/centerx_r18w32.py, for any depth; a file: its text,
e.g. the fast-training recipe's optimizer and schedule, may use ``_base_.``
and should set ``train_cfg.max_iters`` with a ``param_scheduler``), each a
config level of its own under ``WORK_ROOT/configs/recipes/``, then the
row's iteration count (every iteration-based LR step, cosine length and
phase end is scaled with it, a LinearLR warm-up from 0 is kept). All of a
run's settings are in that file and its command line
(``WORK_ROOT/commands.sh`` lists every command).

Re-running skips every run whose checkpoint / metrics exist. ``--lock F``
runs every training/test/pseudo-label step under ``flock F`` (the CPU
lock of a shared machine). ``--dry-run`` writes the derived configs and
``commands.sh`` and runs nothing. ``--smoke`` checks the whole pipeline in
minutes: a generated 8-image dataset in ``WORK_ROOT/data``, 2 iterations,
batch 2, seed 0.

Outputs: ``WORK_ROOT/<row>/seed<S>/`` (checkpoints, logs,
``metrics.json``), ``WORK_ROOT/kd_table.md`` and ``WORK_ROOT/mt_table.md``.
"""
import argparse
import json
import math
import os
import os.path as osp
import shlex
import subprocess
import sys
import time

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SHAPES = 'data/shapes/'
GROUPS = dict(A=('ring', 'star'), B=('cross', 'triangle'))
PLAIN_KD = 'configs/centerx/centerx_r18_1k_shapes.py'
PLAIN_MT = 'configs/centerx/mt_r18_ignore_unlabelled_shapes.py'
RECIPES = dict(
    classic='',
    ttf="""\
# recipe 'ttf': CenterXTTFHead (ltrb + GIoU, TTFNet) instead of CenterXHead
model = dict(
    bbox_head=dict(
        _delete_=True,
        type='CenterXTTFHead',
        num_classes=_base_.model.bbox_head.num_classes,
        in_channels=_base_.model.bbox_head.in_channels,
        feat_channels=_base_.model.bbox_head.feat_channels))
""",
    w32="""\
# recipe 'w32': half-width ResNet (base_channels 32), neck 128-64-32, head 32
# (configs/_base_/models/centerx_r18w32.py, for any depth)
model = dict(
    backbone=dict(base_channels=32),
    neck=dict(
        in_channels=_base_.model.neck.in_channels // 2,
        num_deconv_filters=(128, 64, 32)),
    bbox_head=dict(in_channels=32, feat_channels=32))
""")


def row(name, table, config, title, teachers=(), plain=None, teacher=False,
        pseudo=False):
    """A table row: ``teachers`` are the names of the teacher rows that fill
    ``model.teachers`` in order; ``plain`` the config it is tested with."""
    return dict(name=name, table=table, config=config, title=title,
                teachers=tuple(teachers), plain=plain, teacher=teacher,
                pseudo=pseudo)


ROWS = [
    # ---- table kd
    row('teacher_r50', 'kd', 'configs/centerx/centerx_r50_2k_shapes.py',
        'teacher: R50, all labels', teacher=True),
    row('r18_baseline', 'kd', PLAIN_KD, 'R18 baseline (GT)'),
    row('kd_r50-r18', 'kd', 'configs/distill/kd_r50-r18_shapes.py',
        'R18 KD + GT (R50 teacher)', ('teacher_r50', ), PLAIN_KD),
    row('kd-nolabel_r50-r18', 'kd',
        'configs/distill/kd-nolabel_r50-r18_shapes.py',
        'R18 KD without labels (R50 teacher)', ('teacher_r50', ), PLAIN_KD),
    row('self-kd_r18-r18', 'kd', 'configs/distill/self-kd_r18-r18_shapes.py',
        'R18 self-distillation (GT + KD)', ('r18_baseline', ), PLAIN_KD),
    # ---- table mt
    row('teacher_a', 'mt',
        'configs/distill/teachers/centerx_r50_2k_shapes-part0.py',
        'teacher A: R50, part 0 (ring, star)', teacher=True),
    row('teacher_b', 'mt',
        'configs/distill/teachers/centerx_r50_2k_shapes-part1.py',
        'teacher B: R50, part 1 (cross, triangle)', teacher=True),
    row('teacher_b_ring', 'mt',
        'configs/distill/teachers/centerx_r50_2k_shapes-part1-ring.py',
        "teacher B': R50, part 1 + ring (ring, cross, triangle)",
        teacher=True),
    row('r18_naive_merge', 'mt', 'configs/centerx/mt_r18_naive_merge_shapes.py',
        'R18 naive merge', plain=PLAIN_MT),
    row('r18_ignore_unlabelled', 'mt', PLAIN_MT, 'R18 ignore-unlabelled',
        plain=PLAIN_MT),
    row('r18_pseudo_label', 'mt',
        'configs/centerx/mt_r18_pseudo_label_shapes.py',
        'R18 pseudo labels (teachers A/B, score >= 0.3)',
        ('teacher_a', 'teacher_b'), PLAIN_MT, pseudo=True),
    row('mtkd-nolabel', 'mt',
        'configs/distill/mtkd-nolabel_2xr50-r18_partial_shapes.py',
        'R18 multi-teacher KD, no labels', ('teacher_a', 'teacher_b'),
        PLAIN_MT),
    row('mtkd', 'mt', 'configs/distill/mtkd_2xr50-r18_partial_shapes.py',
        'R18 multi-teacher KD + existing labels', ('teacher_a', 'teacher_b'),
        PLAIN_MT),
    row('mtkd-overlap-nolabel', 'mt',
        'configs/distill/mtkd-overlap-nolabel_2xr50-r18_partial_shapes.py',
        "R18 overlapping teachers A + B' (both own ring), no labels",
        ('teacher_a', 'teacher_b_ring'), PLAIN_MT),
]
ROW = {r['name']: r for r in ROWS}
MT_EXTRA = ('r18_baseline', )  # rows table mt needs from table kd


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('work_root')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument(
        '--recipe', nargs='+', default=['classic'],
        help="recipes applied in order: 'classic' (none), 'ttf', 'w32' or "
        'config fragment files (default classic)')
    parser.add_argument('--tables', nargs='+', choices=('kd', 'mt'),
                        default=['kd', 'mt'])
    parser.add_argument('--rows', nargs='+', choices=sorted(ROW),
                        help='only these rows (and the teachers they need)')
    parser.add_argument('--iters', type=int, default=1000,
                        help='iterations of every student row')
    parser.add_argument('--teacher-iters', type=int, default=3000,
                        help='iterations of every teacher row')
    parser.add_argument('--no-amp', action='store_true',
                        help='train without --amp')
    parser.add_argument('--lock', default='',
                        help='run each step under flock LOCK')
    parser.add_argument('--dry-run', action='store_true')
    parser.add_argument(
        '--smoke', action='store_true',
        help='tiny generated dataset, 2 iterations, batch 2, seed 0')
    parser.add_argument('--cfg-options', nargs='+', default=[],
                        help='extra KEY=VALUE for every train and test run')
    args = parser.parse_args(argv)
    if args.smoke:
        args.seeds = [0]
        args.iters = args.teacher_iters = 2
    return args


# ------------------------------------------------------------ one test run


def evaluate(out_json, config, ckpt, test_args):
    """tools/test.py CONFIG CKPT with per-class AP; metrics + group means
    into OUT_JSON."""
    sys.path.insert(0, REPO)
    from tools import test
    metrics = test.main([config, ckpt] + list(test_args))
    result = dict(config=config, checkpoint=ckpt,
                  mAP=metrics['coco/bbox_mAP'],
                  mAP_50=metrics.get('coco/bbox_mAP_50'),
                  per_class={
                      k[len('coco/'):-len('_precision')]: v
                      for k, v in metrics.items()
                      if k.endswith('_precision')
                  })
    for group, names in GROUPS.items():
        aps = [result['per_class'].get(c) for c in names]
        # COCO mAP over a group of classes = mean of their APs
        result[f'mAP_{group}'] = None if None in aps else sum(aps) / len(aps)
    with open(out_json, 'w') as f:
        json.dump(result, f, indent=1)


# ------------------------------------------------------------ the configs


def recipe_text(recipe):
    """Config text of a built-in recipe or of a fragment file."""
    if recipe in RECIPES:
        return RECIPES[recipe]
    if not osp.isfile(recipe):
        raise FileNotFoundError(
            f'--recipe must be one of {sorted(RECIPES)} or a config '
            f'fragment file; {recipe} not found')
    with open(recipe) as f:
        return f'# recipe {recipe}\n' + f.read()


def scaled_schedulers(schedulers, factor):
    """Iteration-based LR schedulers with every step / length / phase
    boundary scaled by ``factor``; a LinearLR warm-up from 0 is kept."""
    out = []
    for sched in schedulers or []:
        sched = dict(sched)
        warmup = sched.get('type') == 'LinearLR' and sched.get('begin',
                                                               0) == 0
        if sched.get('by_epoch', True) or warmup:
            out.append(sched)
            continue
        for key in ('begin', 'end', 'T_max'):
            value = sched.get(key)
            if isinstance(value, (int, float)) and math.isfinite(value):
                sched[key] = int(round(value * factor))
        if 'milestones' in sched:
            sched['milestones'] = [
                int(round(m * factor)) for m in sched['milestones']
            ]
        out.append(sched)
    return out


def data_root_options(cfg, data_root):
    """--cfg-options re-pointing every path under data/shapes/ of ``cfg``
    (datasets, evaluators) at ``data_root``."""
    options = []

    def walk(node, path):
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, path + [str(key)])
        elif isinstance(node, (list, tuple)):
            for i, value in enumerate(node):
                walk(value, path + [str(i)])
        elif isinstance(node, str) and node.startswith(SHAPES) and \
                path[0] != 'model':
            options.append('.'.join(path) + '=' + data_root +
                           node[len(SHAPES):])

    walk(cfg.to_dict(), [])
    return options


class Runner:
    """Writes the derived configs and runs (or lists) every step."""

    def __init__(self, args):
        self.args = args
        self.work = osp.abspath(args.work_root)
        self.recipes = [(r, recipe_text(r)) for r in args.recipe
                        if recipe_text(r)]
        self.commands = []
        self.data_root = SHAPES
        if args.smoke:
            self.data_root = osp.join(self.work, 'data') + '/'
            args.cfg_options = [
                'train_dataloader.batch_size=2',
                'train_dataloader.num_workers=0',
                'train_dataloader.persistent_workers=False',
                'test_dataloader.num_workers=0',
                'test_dataloader.persistent_workers=False',
                'default_hooks.logger.interval=1'
            ] + args.cfg_options

    # -------------------------------------------------------- helpers
    def iters(self, name):
        return self.args.teacher_iters if ROW[name]['teacher'] \
            else self.args.iters

    def run_dir(self, name, seed):
        return osp.join(self.work, name, f'seed{seed}')

    def ckpt(self, name, seed):
        return osp.join(self.run_dir(name, seed),
                        f'iter_{self.iters(name)}.pth')

    def derived_config(self, name, config, iters):
        """WORK_ROOT/configs/<name>.py: CONFIG + recipes + schedule."""
        from mmengine.config import Config
        os.makedirs(osp.join(self.work, 'configs', 'recipes'), exist_ok=True)
        base = osp.join(REPO, config)
        for i, (recipe, text) in enumerate(self.recipes):
            level = osp.join(self.work, 'configs', 'recipes',
                             f'{name}.{i}.py')
            with open(level, 'w') as f:
                f.write(f'# derived by tools/experiments/run_kd_seeds.py, '
                        f'recipe {recipe}\n_base_ = [{base!r}]\n{text}')
            base = level
        path = osp.join(self.work, 'configs', f'{name}.py')
        head = (f'# derived by tools/experiments/run_kd_seeds.py: {config}, '
                f'recipes {" ".join(self.args.recipe)}\n'
                f'_base_ = [{base!r}]\n')
        with open(path, 'w') as f:
            f.write(head)
        cfg = Config.fromfile(path)
        if iters is not None:
            loop = cfg.get('train_cfg', {})
            if loop.get('type', 'IterBasedTrainLoop') != 'IterBasedTrainLoop':
                raise ValueError(f'{config}: iteration-based configs only')
            factor = iters / loop['max_iters']
            schedulers = scaled_schedulers(cfg.get('param_scheduler'),
                                           factor)
            head += (f'# {iters} iterations, LR schedule scaled from '
                     f'{loop["max_iters"]}; no validation while training '
                     '(each run is tested once, at its end)\n'
                     f'train_cfg = dict(max_iters={iters}, '
                     f'val_interval={iters})\n'
                     'val_cfg = None\nval_dataloader = None\n'
                     'val_evaluator = None\n'
                     f'default_hooks = dict(checkpoint=dict('
                     f'interval={iters}))\n'
                     f'param_scheduler = {schedulers!r}\n')
            with open(path, 'w') as f:
                f.write(head)
            cfg = Config.fromfile(path)
        return path, cfg

    def options(self, cfg):
        extra = [] if self.data_root == SHAPES else data_root_options(
            cfg, self.data_root)
        return extra + list(self.args.cfg_options)

    def step(self, cmd, log, done):
        """Run ``cmd`` (a list) unless ``done`` exists; output to ``log``."""
        if self.args.lock:
            cmd = ['flock', self.args.lock] + cmd
        self.commands.append(shlex.join(cmd) + f' > {shlex.quote(log)} 2>&1')
        if self.args.dry_run:
            return
        if osp.exists(done):
            print(f'[skip] {done} exists')
            return
        os.makedirs(osp.dirname(log), exist_ok=True)
        short = cmd[:cmd.index('--cfg-options')] if '--cfg-options' in cmd \
            else cmd
        print(f'[run] {shlex.join(short)}  (log {log})', flush=True)
        t0 = time.time()
        with open(log, 'w') as f:
            proc = subprocess.run(cmd, cwd=REPO, stdout=f,
                                  stderr=subprocess.STDOUT)
        if proc.returncode:
            with open(log) as f:
                tail = f.read()[-3000:]
            raise SystemExit(f'FAILED ({proc.returncode}): {log}\n{tail}')
        return time.time() - t0

    # ----------------------------------------------------------- steps
    def prepare_data(self):
        """data/shapes with its partial splits (generated if missing) and
        part 1 + ring for the overlapping teacher."""
        ann = osp.join(self.data_root, 'annotations')
        size = ['--num-train', '8', '--num-val', '4'] if self.args.smoke \
            else []
        self.step([
            sys.executable, 'tools/dataset_converters/make_shapes_dataset.py',
            '--out-dir', self.data_root, '--partial-splits',
            'ring,star;cross,triangle'
        ] + size, osp.join(self.work, 'logs', 'make_data.log'),
            osp.join(ann, 'instances_train_part1.json'))
        self.step([
            sys.executable, 'tools/dataset_converters/'
            'extend_partial_labels.py',
            osp.join(ann, 'instances_train_part1.json'), '--full',
            osp.join(ann, 'instances_train.json'), '--classes', 'ring',
            '--out', osp.join(ann, 'instances_train_part1_ring.json')
        ], osp.join(self.work, 'logs', 'extend_partial_labels.log'),
            osp.join(ann, 'instances_train_part1_ring.json'))

    def teacher_options(self, name, seed):
        options = []
        for i, teacher in enumerate(ROW[name]['teachers']):
            options += [
                f'model.teachers.{i}.config={self.configs[teacher]}',
                f'model.teachers.{i}.checkpoint={self.ckpt(teacher, seed)}'
            ]
        return options

    def pseudo_labels(self, name, seed):
        """The pseudo-label JSONs of both parts, from this seed's teachers;
        returns the --cfg-options of the pseudo-label row."""
        out_dir = osp.join(self.work, 'pseudo_labels', f'seed{seed}')
        options = []
        for part in (0, 1):
            out = osp.join(out_dir, f'instances_train_part{part}_pseudo.json')
            self.step([
                sys.executable, 'tools/pseudo_label.py',
                self.configs['mtkd-nolabel'], '--ann-file',
                osp.join(self.data_root, 'annotations',
                         f'instances_train_part{part}.json'), '--img-dir',
                osp.join(self.data_root, 'train'), '--out', out,
                '--score-thr', '0.3', '--no-progress', '--cfg-options'
            ] + self.teacher_options('mtkd-nolabel', seed) +
                self.options(self.cfgs['mtkd-nolabel']),
                osp.join(out_dir, f'part{part}.log'), out)
            options += [
                f'train_dataloader.dataset.datasets.{part}.ann_file={out}',
                f'train_dataloader.dataset.datasets.{part}.data_prefix.img='
                + osp.join(self.data_root, 'train') + '/'
            ]
        return options

    def train_and_test(self, name, seed):
        r = ROW[name]
        run_dir = self.run_dir(name, seed)
        options = [f'randomness.seed={seed}']
        if r['pseudo']:  # its teachers label the data, it is a plain CenterX
            options += self.pseudo_labels(name, seed)
        else:
            options += self.teacher_options(name, seed)
        cfg = self.cfgs[name]
        cmd = [sys.executable, 'tools/train.py', self.configs[name],
               '--work-dir', run_dir]
        if not self.args.no_amp:
            cmd.append('--amp')
        secs = self.step(
            cmd + ['--cfg-options'] + options + self.options(cfg),
            run_dir + '.train.log', self.ckpt(name, seed))
        if secs is not None:
            with open(osp.join(run_dir, 'train_seconds'), 'w') as f:
                f.write(f'{secs:.0f}\n')
        plain = self.configs.get(f'plain:{r["plain"]}', self.configs[name])
        plain_cfg = self.cfgs.get(f'plain:{r["plain"]}', cfg)
        self.step([
            sys.executable, 'tools/experiments/run_kd_seeds.py', '--evaluate',
            osp.join(run_dir, 'metrics.json'), plain, self.ckpt(name, seed),
            '--work-dir', osp.join(run_dir, 'test'), '--cfg-options',
            'test_evaluator.classwise=True'
        ] + self.options(plain_cfg), run_dir + '.test.log',
            osp.join(run_dir, 'metrics.json'))

    def selected_rows(self):
        names = [r['name'] for r in ROWS if r['table'] in self.args.tables]
        if 'mt' in self.args.tables:
            names += [n for n in MT_EXTRA if n not in names]
        if self.args.rows:
            wanted = set(self.args.rows)
            for n in self.args.rows:
                wanted |= set(ROW[n]['teachers'])
            names = [n for n in names if n in wanted] + [
                n for n in self.args.rows if n not in names
            ]
        # ROWS lists every row after the rows that teach it
        return [r['name'] for r in ROWS if r['name'] in names]

    def run(self):
        names = self.selected_rows()
        self.configs, self.cfgs = {}, {}
        for name in names:
            self.configs[name], self.cfgs[name] = self.derived_config(
                name, ROW[name]['config'], self.iters(name))
            plain = ROW[name]['plain']
            if plain and f'plain:{plain}' not in self.configs:
                key = f'plain:{plain}'
                self.configs[key], self.cfgs[key] = self.derived_config(
                    'plain_' + osp.splitext(osp.basename(plain))[0], plain,
                    None)
        if 'r18_pseudo_label' in names:  # the config tools/pseudo_label runs
            self.configs['mtkd-nolabel'], self.cfgs['mtkd-nolabel'] = \
                self.derived_config('mtkd-nolabel',
                                    ROW['mtkd-nolabel']['config'],
                                    self.args.iters)
        self.prepare_data()
        for seed in self.args.seeds:
            for name in names:
                self.train_and_test(name, seed)
        with open(osp.join(self.work, 'commands.sh'), 'w') as f:
            f.write('# tools/experiments/run_kd_seeds.py ' +
                    shlex.join(sys.argv[1:]) + '\n' +
                    '\n'.join(self.commands) + '\n')
        print(f'{len(self.commands)} commands: '
              f'{osp.join(self.work, "commands.sh")}')
        if not self.args.dry_run:
            for table in self.args.tables:
                write_table(self.work, table, self.args)


# ------------------------------------------------------------ the tables


def mean_std(values):
    values = [v for v in values if v is not None]
    if not values:
        return '-'
    mean = sum(values) / len(values)
    if len(values) == 1:
        return f'{100 * mean:.1f} (1 seed)'
    var = sum((v - mean)**2 for v in values) / (len(values) - 1)
    return f'{100 * mean:.1f} ± {100 * math.sqrt(var):.1f}'


def write_table(work, table, args):
    """WORK_ROOT/<table>_table.md: mean ± std over the seeds with metrics."""
    names = [r['name'] for r in ROWS if r['table'] == table]
    if table == 'mt':
        names = list(MT_EXTRA) + names
    keys = ['mAP'] if table == 'kd' else ['mAP_A', 'mAP_B', 'mAP']
    heads = dict(mAP='mAP', mAP_A='mAP ring+star',
                 mAP_B='mAP cross+triangle')
    classes = GROUPS['A'] + GROUPS['B']
    lines = [
        f'{table}: students {args.iters} iterations, teachers '
        f'{args.teacher_iters}, recipe {" ".join(args.recipe)}, '
        f'{"fp32" if args.no_amp else "--amp"}; COCO AP x100 on the val '
        'split, mean ± std (sample) over seeds', '',
        '| row | ' + ' | '.join(heads[k] for k in keys) +
        f' | per class ({" / ".join(classes)}) | seeds | train s (mean) |',
        '|---' * (len(keys) + 4) + '|'
    ]
    for name in names:
        metrics = []
        secs = []
        for seed in args.seeds:
            run_dir = osp.join(work, name, f'seed{seed}')
            path = osp.join(run_dir, 'metrics.json')
            if osp.isfile(path):
                with open(path) as f:
                    metrics.append(json.load(f))
            if osp.isfile(osp.join(run_dir, 'train_seconds')):
                with open(osp.join(run_dir, 'train_seconds')) as f:
                    secs.append(float(f.read()))
        title = ROW[name]['title']
        if not metrics:
            lines.append(f'| {title} | not yet measured |' +
                         ' |' * (len(keys) + 2))
            continue
        cells = [mean_std([m.get(k) for m in metrics]) for k in keys]
        per_class = ' / '.join(
            mean_std([m['per_class'].get(c) for m in metrics]).split(' ')[0]
            for c in classes)
        seeds = [s for s in args.seeds if osp.isfile(
            osp.join(work, name, f'seed{s}', 'metrics.json'))]
        lines.append(f'| {title} | ' + ' | '.join(cells) +
                     f' | {per_class} | {",".join(map(str, seeds))} | ' +
                     (f'{sum(secs) / len(secs):.0f}' if secs else '-') + ' |')
    text = '\n'.join(lines) + '\n'
    with open(osp.join(work, f'{table}_table.md'), 'w') as f:
        f.write(text)
    print(text)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ['--evaluate']:  # internal: one test run
        return evaluate(*argv[1:4], argv[4:])
    args = parse_args(argv)
    sys.path.insert(0, REPO)
    from centerx_mm.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    Runner(args).run()


if __name__ == '__main__':
    main()
