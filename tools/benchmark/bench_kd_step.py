"""Distillation overhead: one ``CenterXDistiller`` training step (student
forward + frozen teacher forward + GT and KD losses + backward + AdamW step)
vs one plain ``CenterX`` step of the same student on the same batch, in one
process, interleaved, median times. Also reported: the teacher forward alone,
and memory: the teacher's weights exist once (its parameters are the loaded
checkpoint tensors), have no gradient buffers and are not in the optimizer.

    flock /tmp/centerx_cpu.lock python tools/benchmark/bench_kd_step.py

The teacher's weights do not change the timing: without ``--teacher-ckpt``
a randomly initialised teacher is saved to a temporary checkpoint.

``--loss-scales KD_CONFIG`` instead prints, for the first ``--batch`` train
images of that config and its (trained) teacher, each GT and KD loss term
and the norm of its gradient w.r.t. the student's head outputs, for every
``heatmap_mode`` x ``mask`` at weight 1: what the design notes tune the KD
loss weights by ("三个head的蒸馏loss差异很大，需要手动调一下"). The student is
randomly initialised, or loaded from ``--student-ckpt``.

    python tools/benchmark/bench_kd_step.py --loss-scales \
        configs/distill/kd_r50-r18_shapes.py --teacher-ckpt TEACHER.pth
"""
import argparse
import copy
import gc
import os.path as osp
import sys
import tempfile
from functools import partial

import torch

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from _common import (REPO, command_line,  # noqa: E402
                     interleaved_median_ms, machine_line, markdown_table)
from bench_train_step import OPTIM_WRAPPER, make_batch  # noqa: E402

STUDENT_CONFIG = 'configs/centerx/centerx_r18_1k_shapes.py'
TEACHERS = dict(
    r50='configs/centerx/centerx_r50_2k_shapes.py',
    r18=STUDENT_CONFIG)  # self-distillation


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--teachers', nargs='+', default=['r50', 'r18'],
                        choices=sorted(TEACHERS))
    parser.add_argument('--teacher-ckpt', default=None,
                        help='checkpoint for the (single) --teachers entry')
    parser.add_argument('--input', type=int, default=128)
    parser.add_argument('--batch', type=int, default=16)
    parser.add_argument('--num-boxes', type=int, default=8)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--loss-scales', metavar='KD_CONFIG',
                        help='print loss scales instead of timing')
    parser.add_argument('--student-ckpt', help='with --loss-scales')
    return parser.parse_args(argv)


def live_tensor_mb() -> float:
    """Bytes of all distinct CPU tensor storages alive in this process."""
    import warnings
    storages = {}
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        for obj in gc.get_objects():
            if isinstance(obj, torch.Tensor) and obj.device.type == 'cpu':
                storage = obj.untyped_storage()
                storages[storage.data_ptr()] = storage.nbytes()
    return sum(storages.values()) / 2**20


def param_mb(module) -> float:
    return sum(p.numel() * p.element_size()
               for p in module.parameters()) / 2**20


def loss_scales(args) -> list:
    """GT and KD loss terms and their gradient norms (see module doc)."""
    from mmdet.models.utils import unpack_gt_instances
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import DefaultScope

    from centerx_mm.models.losses import KDLoss
    from centerx_mm.registry import DATASETS, MODELS
    from centerx_mm.utils import load_checkpoint_safely
    from mmengine.runner import set_random_seed
    cfg = Config.fromfile(args.loss_scales)
    if args.teacher_ckpt:
        cfg.model.teachers[0].checkpoint = args.teacher_ckpt
    set_random_seed(args.seed)  # init and augmentation
    with DefaultScope.overwrite_default_scope('centerx_mm'):
        model = MODELS.build(cfg.model)
        model.init_weights()
        if args.student_ckpt:
            model.load_state_dict(
                load_checkpoint_safely(args.student_ckpt)['state_dict'])
        dataset = DATASETS.build(cfg.train_dataloader.dataset)
    model.train()
    data = model.data_preprocessor(
        pseudo_collate([dataset[i] for i in range(args.batch)]), True)
    inputs, samples = data['inputs'], data['data_samples']
    outs = model.bbox_head(model.extract_feat(inputs))
    metas = [s.metainfo for s in samples]
    teacher_outs, heat_weight, _ = model.teacher_targets(
        model.teacher_forward(inputs), model.kd_class_weight(metas, outs[0]))

    def grad_norm(loss, i):
        grad = torch.autograd.grad(loss, outs[i], retain_graph=True)[0]
        return float(grad.norm())

    rows = []
    if all('gt_instances' in s for s in samples):
        gt, ignore, metas = unpack_gt_instances(samples)
        for i, (k, v) in enumerate(
                model.bbox_head.loss_by_feat(*outs, gt, metas,
                                             ignore).items()):
            rows.append(['GT', '-', k, float(v.detach()), grad_norm(v, i)])
    for mode in ('prob', 'logits'):
        for mask in ('peaks', 'dense'):
            loss = KDLoss(heatmap_mode=mode, mask=mask,
                          peak_topk=model.distill_loss.peak_topk,
                          loss_heatmap_weight=1., loss_wh_weight=1.,
                          loss_offset_weight=1., loss_ltrb_weight=1.)
            terms = loss(outs, teacher_outs, heatmap_weight=heat_weight)
            for i, (k, v) in enumerate(terms.items()):
                grad = grad_norm(v, i) if v.requires_grad else 0.
                rows.append([mode, mask, k, float(v.detach()), grad])
    print(f'`{command_line("bench_kd_step.py", None)}`\n')
    print(f'{args.batch} train images of {args.loss_scales}; student '
          f'{args.student_ckpt or "random init"}; weight 1; gradient norm '
          'w.r.t. the student head output the term acts on.\n')
    print(markdown_table(['loss', 'mask', 'term', 'value', 'grad norm'],
                         [r[:3] + [f'{r[3]:.4g}', f'{r[4]:.3g}']
                          for r in rows]))
    return rows


def main(argv=None):
    """Print a markdown table; return the rows."""
    args = parse_args(argv)
    if args.loss_scales:
        from centerx_mm.utils import register_all_modules
        register_all_modules()
        return loss_scales(args)
    if args.teacher_ckpt and len(args.teachers) != 1:
        raise ValueError('--teacher-ckpt needs exactly one --teachers entry')
    from mmengine.config import Config
    from mmengine.logging import MMLogger
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import DefaultScope

    from centerx_mm.registry import MODELS
    from centerx_mm.utils import register_all_modules
    register_all_modules()
    MMLogger.get_instance('bench_kd_step', log_level='WARNING')

    student_cfg = Config.fromfile(osp.join(REPO, STUDENT_CONFIG))
    classes = tuple(student_cfg.metainfo.classes)
    gen = torch.Generator().manual_seed(args.seed)
    data = make_batch(gen, args.batch, args.input, len(classes),
                      args.num_boxes)
    tmp = tempfile.TemporaryDirectory()
    rows = []
    for name in args.teachers:
        teacher_cfg = osp.join(REPO, TEACHERS[name])
        ckpt = args.teacher_ckpt
        with DefaultScope.overwrite_default_scope('centerx_mm'):
            if ckpt is None:
                torch.manual_seed(args.seed)
                t = MODELS.build(Config.fromfile(teacher_cfg).model)
                t.init_weights()
                ckpt = osp.join(tmp.name, f'{name}.pth')
                torch.save(dict(state_dict=t.state_dict(),
                                meta=dict(dataset_meta=dict(
                                    classes=classes))), ckpt)
                del t
            torch.manual_seed(args.seed)
            plain = MODELS.build(copy.deepcopy(student_cfg.model))
            plain.init_weights()
            gc.collect()
            live0 = live_tensor_mb()
            kd_cfg = copy.deepcopy(student_cfg.model)
            kd_cfg.update(type='CenterXDistiller', classes=classes,
                          teachers=[dict(config=teacher_cfg,
                                         checkpoint=ckpt)],
                          distill_loss=dict(type='KDLoss'))
            kd = MODELS.build(kd_cfg)
            gc.collect()
            kd_live = live_tensor_mb() - live0
        kd.load_state_dict(plain.state_dict())
        plain.train()
        kd.train()
        optim_plain = build_optim_wrapper(plain, copy.deepcopy(OPTIM_WRAPPER))
        optim_kd = build_optim_wrapper(kd, copy.deepcopy(OPTIM_WRAPPER))
        data_plain, data_kd = data, copy.deepcopy(data)
        inputs = kd.data_preprocessor(copy.deepcopy(data), True)['inputs']

        ms = interleaved_median_ms(
            dict(
                plain=partial(plain.train_step, data_plain, optim_plain),
                kd=partial(kd.train_step, data_kd, optim_kd),
                teacher=partial(kd.teacher_forward, inputs)),
            args.repeats, args.warmup)

        teacher = kd.teacher
        in_optim = {id(p) for g in optim_kd.optimizer.param_groups
                    for p in g['params']}
        ptrs = [p.data_ptr() for p in teacher.parameters()]
        checks = dict(
            teacher_in_optimizer=any(id(p) in in_optim
                                     for p in teacher.parameters()),
            teacher_grads=sum(p.grad is not None
                              for p in teacher.parameters()),
            teacher_requires_grad=sum(p.requires_grad
                                      for p in teacher.parameters()),
            teacher_in_state_dict=any(
                k.startswith('teacher') for k in kd.state_dict()),
            shared_storages=len(ptrs) - len(set(ptrs)))
        rows.append(dict(
            teacher=name, plain_ms=ms['plain'], kd_ms=ms['kd'],
            teacher_fwd_ms=ms['teacher'], ratio=ms['kd'] / ms['plain'],
            teacher_mb=param_mb(teacher), kd_live_mb=kd_live,
            student_mb=param_mb(kd), **checks))
        del kd, plain, optim_kd, optim_plain
        gc.collect()
    tmp.cleanup()

    command = command_line('bench_kd_step.py', argv)
    print(f'`{command}`  ({machine_line()})\n')
    print(f'Training step, R18 student, input {args.input}, batch '
          f'{args.batch}, {len(classes)} classes, median of {args.repeats} '
          'interleaved steps. "KD model live MB": tensor storage alive after '
          'building the distiller (student + teacher, all parameters and '
          'buffers); "teacher MB": its parameters once.\n')
    print(markdown_table(
        ['teacher', 'plain step ms', 'KD step ms', 'KD / plain',
         'teacher fwd ms', 'student MB', 'teacher MB', 'KD model live MB',
         'teacher grads', 'in optimizer', 'in state_dict'],
        [[r['teacher'], r['plain_ms'], r['kd_ms'], r['ratio'],
          r['teacher_fwd_ms'], r['student_mb'], r['teacher_mb'],
          r['kd_live_mb'], r['teacher_grads'], r['teacher_in_optimizer'],
          r['teacher_in_state_dict']] for r in rows]))
    return rows


if __name__ == '__main__':
    main()
