"""Shared helpers of the ``tools/benchmark`` scripts: interleaved timing of
ours against mmdet's (A B A B ...; medians, so machine noise hits both sides
equally), random boxes, markdown tables."""
import contextlib
import os.path as osp
import platform
import shlex
import statistics
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence

import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)


def command_line(script: str, argv: Optional[Sequence[str]]) -> str:
    """The command that reproduces this run, e.g. for docs/benchmarks.md."""
    args = list(sys.argv[1:] if argv is None else argv)
    return ' '.join(['python', f'tools/benchmark/{script}'] +
                    [shlex.quote(a) for a in args])


def machine_line() -> str:
    """One line: CPU count, torch threads, versions, load average (the
    machine is shared: a high load means noisy absolute times)."""
    import os

    import mmdet
    load = ', '.join(f'{v:.1f}' for v in os.getloadavg())
    return (f'{os.cpu_count()} CPUs, torch {torch.__version__} '
            f'({torch.get_num_threads()} threads), mmdet {mmdet.__version__}, '
            f'python {platform.python_version()}, load average {load}')


MMDET_CENTERNET_CONFIG = \
    'centernet/centernet_r18_8xb16-crop512-140e_coco.py'


def load_mmdet_config(rel_path: str = MMDET_CENTERNET_CONFIG):
    """An mmdet 3.3 config shipped inside the mmdet package (``.mim``), by
    path under mmdet's ``configs/``; a clear error if it is missing."""
    import mmdet
    from mmengine.config import Config
    path = osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs', rel_path)
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'mmdet config not found: {path} (mmdet 3.3 installed with its '
            '.mim configs is needed)')
    return Config.fromfile(path)


@contextlib.contextmanager
def torch_threads(num: Optional[int]):
    """Run the block with ``num`` torch intra-op threads (None: unchanged);
    the previous number is restored afterwards. On a shared, oversubscribed
    CPU, 1 thread avoids OpenMP barrier waits that can stretch every op to a
    scheduler time slice."""
    old = torch.get_num_threads()
    if num is not None:
        if num < 1:
            raise ValueError(f'--threads must be >= 1, got {num}')
        torch.set_num_threads(num)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def interleaved_median_ms(fns: Dict[str, Callable[[], object]],
                          repeats: int,
                          warmup: int = 1,
                          per_call: int = 1) -> Dict[str, float]:
    """Median wall time of each callable in milliseconds.

    The callables run interleaved (``A B A B ...``, ``warmup`` untimed rounds
    first), so a slow phase of a shared machine hits all of them alike.

    Args:
        fns (dict[str, callable]): name -> zero-argument callable.
        repeats (int): timed rounds, >= 1.
        warmup (int): untimed rounds before.
        per_call (int): the time of one round is divided by this (e.g. the
            number of images one call processes).

    Returns:
        dict[str, float]: name -> median ms (per ``per_call`` unit).
    """
    if repeats < 1:
        raise ValueError(f'repeats must be >= 1, got {repeats}')
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: Dict[str, List[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - start) * 1e3 / per_call)
    return {name: statistics.median(t) for name, t in times.items()}


def random_boxes(gen: torch.Generator, num: int, img_h: int,
                 img_w: int) -> torch.Tensor:
    """``num`` random x1y1x2y2 boxes fully inside an ``img_h`` x ``img_w``
    image, sides uniform in [2, half the image] pixels."""
    wh = torch.rand(num, 2, generator=gen) * torch.tensor(
        [img_w / 2 - 2, img_h / 2 - 2]) + 2
    x1 = torch.rand(num, generator=gen) * (img_w - wh[:, 0])
    y1 = torch.rand(num, generator=gen) * (img_h - wh[:, 1])
    return torch.stack([x1, y1, x1 + wh[:, 0], y1 + wh[:, 1]], 1)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence]) -> str:
    """A GitHub markdown table; floats get 3 significant decimals."""

    def fmt(v):
        if isinstance(v, float):
            return f'{v:.3f}' if abs(v) < 10 else f'{v:.1f}'
        return str(v)

    lines = ['| ' + ' | '.join(header) + ' |',
             '|' + '|'.join('---' for _ in header) + '|']
    lines += ['| ' + ' | '.join(fmt(v) for v in row) + ' |' for row in rows]
    return '\n'.join(lines)
