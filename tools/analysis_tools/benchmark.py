"""PyTorch inference FPS (and data loading speed), mmdet's
``tools/analysis_tools/benchmark.py`` command line, on CPU or GPU.

    python tools/analysis_tools/benchmark.py CONFIG --checkpoint CKPT
        [--task inference] [--max-iter 2000] [--num-warmup 5]
        [--log-interval 50] [--repeat-num 1] [--fuse-conv-bn]
        [--device cpu|cuda] [--work-dir DIR] [--cfg-options key=value ...]
    python tools/analysis_tools/benchmark.py CONFIG --task dataloader|dataset
        [--dataset-type train|val|test] ...

``inference``: ``model.test_step`` on the test set, batch 1, no workers,
timed after ``--num-warmup`` images, as mmdet's ``InferenceBenchmark``
(whose setup, memory report and ``dataloader``/``dataset`` tasks are reused).
Ours differs where mmdet's needs CUDA: the device is ``--device`` (default
cuda when available, else cpu), ``torch.cuda.synchronize`` only on cuda, and
FPS is also computed when the test set has fewer images than ``--max-iter``
(mmdet's then reports 0). Prints ``Overall fps: F img/s, times per image:
T ms/img``; ``--work-dir`` also writes ``benchmark.log``.
"""
import argparse
import os
import os.path as osp
import sys
import time

sys.path.insert(
    0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import torch  # noqa: E402
from mmdet.utils.benchmark import (DataLoaderBenchmark,  # noqa: E402
                                   DatasetBenchmark, InferenceBenchmark,
                                   print_log, print_process_memory)

from centerx_mm.utils import register_all_modules  # noqa: E402
from centerx_mm.utils.misc import load_config  # noqa: E402


class PyTorchInferenceBenchmark(InferenceBenchmark):
    """mmdet's ``InferenceBenchmark`` on any device (see module doc)."""

    def __init__(self, *args, device: str = 'cpu', **kwargs) -> None:
        self.device = torch.device(device)
        super().__init__(*args, **kwargs)

    def _init_model(self, checkpoint: str, is_fuse_conv_bn: bool):
        from mmcv.cnn import fuse_conv_bn
        from mmengine.runner import load_checkpoint

        from centerx_mm.registry import MODELS
        model = MODELS.build(self.cfg.model)
        load_checkpoint(model, checkpoint, map_location='cpu')
        if is_fuse_conv_bn:
            model = fuse_conv_bn(model)
        return model.to(self.device).eval()

    def _sync(self) -> None:
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)

    def run_once(self) -> dict:
        pure_inf_time, measured = 0.0, 0
        for i, data in enumerate(self.data_loader):
            self._sync()
            start = time.perf_counter()
            with torch.no_grad():
                self.model.test_step(data)
            self._sync()
            elapsed = time.perf_counter() - start
            if i >= self.num_warmup:
                pure_inf_time += elapsed
                measured += 1
                if (i + 1) % self.log_interval == 0:
                    fps = measured / pure_inf_time
                    print_log(
                        f'Done image [{i + 1:<3}/{self.max_iter}], '
                        f'fps: {fps:.1f} img/s, times per image: '
                        f'{1000 / fps:.1f} ms/img', self.logger)
                    print_process_memory(self._process, self.logger)
            if i + 1 == self.max_iter:
                break
        if measured == 0:
            raise ValueError(
                f'no image timed: the test set has {len(self.data_loader)} '
                f'images, not more than --num-warmup {self.num_warmup}')
        return {'fps': measured / pure_inf_time, 'images': measured}

    def average_multiple_runs(self, results: list) -> dict:
        print_log('============== Done ==================', self.logger)
        fps = [r['fps'] for r in results]
        avg = sum(fps) / len(fps)
        ms = [1000 / f for f in fps]
        print_log(
            f'Overall fps: {avg:.2f} img/s, times per image: '
            f'{sum(ms) / len(ms):.2f} ms/img ({results[0]["images"]} images '
            f'timed per run, {len(results)} run(s): '
            f'{", ".join(f"{f:.2f}" for f in fps)} img/s; device '
            f'{self.device})', self.logger)
        if self.device.type == 'cuda':
            from mmengine.device import get_max_cuda_memory
            print_log(f'cuda memory: {get_max_cuda_memory()} MB',
                      self.logger)
        print_process_memory(self._process, self.logger)
        return {'avg_fps': avg, 'fps_list': fps}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='centerx_mm benchmark')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('--checkpoint', help='checkpoint (task inference)')
    parser.add_argument(
        '--task', choices=['inference', 'dataloader', 'dataset'],
        default='inference')
    parser.add_argument('--repeat-num', type=int, default=1)
    parser.add_argument('--max-iter', type=int, default=2000)
    parser.add_argument('--log-interval', type=int, default=50)
    parser.add_argument('--num-warmup', type=int, default=5)
    parser.add_argument('--fuse-conv-bn', action='store_true')
    parser.add_argument(
        '--dataset-type', choices=['train', 'val', 'test'], default='test')
    parser.add_argument(
        '--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--work-dir', help='also write benchmark.log here')
    from mmengine.config import DictAction
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from mmengine import MMLogger
    from mmengine.registry import init_default_scope
    register_all_modules(init_default_scope=False)
    cfg = load_config(args.config, args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'centerx_mm'))
    log_file = None
    if args.work_dir:
        os.makedirs(args.work_dir, exist_ok=True)
        log_file = osp.join(args.work_dir, 'benchmark.log')
    logger = MMLogger.get_instance(
        f'centerx_benchmark_{time.time()}', log_file=log_file,
        log_level='INFO')
    if args.task == 'inference':
        if not args.checkpoint or not osp.isfile(args.checkpoint):
            raise FileNotFoundError(
                f'--task inference needs --checkpoint: {args.checkpoint}')
        bench = PyTorchInferenceBenchmark(
            cfg, args.checkpoint, False, args.fuse_conv_bn, args.max_iter,
            args.log_interval, args.num_warmup, logger=logger,
            device=args.device)
    elif args.task == 'dataloader':
        bench = DataLoaderBenchmark(cfg, False, args.dataset_type,
                                    args.max_iter, args.log_interval,
                                    args.num_warmup, logger=logger)
    else:
        bench = DatasetBenchmark(cfg, args.dataset_type, args.max_iter,
                                 args.log_interval, args.num_warmup,
                                 logger=logger)
    return bench.run(args.repeat_num)


if __name__ == '__main__':
    main()
