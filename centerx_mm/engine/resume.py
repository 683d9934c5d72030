"""Which checkpoint ``tools/train.py --resume`` continues from.

mmengine resumes from the file named in ``work_dir/last_checkpoint`` and
nothing else: a missing ``last_checkpoint`` restarts from iteration 0 over
the existing checkpoints, and a truncated latest checkpoint fails with no
fallback. Here every ``iter_N.pth`` / ``epoch_N.pth`` is a candidate, newest
(largest N) first, and the first that loads weights-only and is a
training-run checkpoint wins; each one skipped is logged with the reason.
"""
import os
import os.path as osp
import re
from typing import List, Optional, Tuple

from mmengine.logging import print_log

from centerx_mm.checkpoint import (is_remote, load_checkpoint_safely,
                                   resumable_problem)

#: the file names mmengine's CheckpointHook writes (default filename_tmpl).
CKPT_NAME = re.compile(r'(?:iter|epoch)_(\d+)\.pth')


class ResumeError(RuntimeError):
    """``--resume`` cannot continue: no usable checkpoint, or not a
    training-run checkpoint."""


def check_resumable(path: str) -> None:
    """Raise :class:`ResumeError` unless ``path`` loads weights-only and is
    a training-run checkpoint; a weights-only file gets ``load_from``
    suggested."""
    try:
        ckpt = load_checkpoint_safely(path, map_location='cpu')
    except Exception as err:  # noqa: BLE001 (every reason is reported)
        raise ResumeError(f'--resume {path}: {err}') from None
    problem = resumable_problem(ckpt)
    if problem:
        raise ResumeError(
            f'--resume {path}: {problem}. --resume continues a training run '
            'from a checkpoint that run wrote; to start a new run from these '
            f'weights use --cfg-options load_from={path}')


def _candidates(work_dir: str) -> Tuple[List[str], List[str]]:
    """Checkpoint files (newest first) and notes on ``last_checkpoint``."""
    notes, folders = [], [work_dir]
    last = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(last):
        with open(last) as f:
            named = f.read().strip()
        if is_remote(named):
            notes.append(f'{last} names the remote URL {named!r}: ignored '
                         '(checkpoints are only loaded from local files)')
        elif named and not osp.isfile(named):
            notes.append(f'{last} names {named}, which does not exist')
        elif named:
            folders.append(osp.dirname(osp.abspath(named)))
    found = {}
    for folder in folders:
        if not osp.isdir(folder):
            continue
        for name in os.listdir(folder):
            match = CKPT_NAME.fullmatch(name)
            path = osp.abspath(osp.join(folder, name))
            if match and osp.isfile(path):
                found[path] = (int(match.group(1)), osp.getmtime(path))
    return sorted(found, key=found.get, reverse=True), notes


def find_resume_checkpoint(work_dir: str) -> Optional[str]:
    """The newest ``iter_N/epoch_N.pth`` of ``work_dir`` (and of the folder
    ``last_checkpoint`` points to) that ``--resume`` can continue from.

    Returns:
        str or None: the path; None when there is no checkpoint at all.

    Raises:
        ResumeError: there are checkpoints but none is usable (each is
            listed with the reason).
    """
    paths, notes = _candidates(work_dir)
    for note in notes:
        print_log(f'--resume: {note}', logger='current', level=30)
    skipped = []
    for path in paths:
        try:
            check_resumable(path)
        except ResumeError as err:
            reason = str(err).replace(f'--resume {path}: ', '', 1)
            skipped.append(f'{path}: {reason}')
            print_log(f'--resume: skipped {path}: {reason}',
                      logger='current', level=30)
            continue
        print_log(
            f'--resume: continuing from {path}' +
            (f' (skipped {len(skipped)} newer unusable checkpoint(s))'
             if skipped else ''), logger='current')
        return path
    if skipped:
        raise ResumeError(
            f'--resume: none of the {len(skipped)} checkpoints in {work_dir} '
            'can be resumed, so the run is not restarted over them:\n  ' +
            '\n  '.join(skipped) +
            '\nMove them away (or use another --work-dir) to start afresh.')
    return None


def resolve_resume(load_from: Optional[str], work_dir: str) -> Optional[str]:
    """The checkpoint to resume: ``load_from`` when given (checked by
    :func:`check_resumable`), else :func:`find_resume_checkpoint`. None (a
    fresh start, announced with a warning) when ``work_dir`` holds no
    checkpoint."""
    if load_from:
        check_resumable(load_from)
        return load_from
    path = find_resume_checkpoint(work_dir)
    if path is None:
        print_log(
            f'--resume: no checkpoint (iter_N.pth/epoch_N.pth) in '
            f'{work_dir}: nothing to resume, training STARTS FROM ITERATION '
            '0.', logger='current', level=30)
    return path
