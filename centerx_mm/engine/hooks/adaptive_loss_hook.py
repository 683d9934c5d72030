"""Adaptive loss weights that hold every loss term at a fixed target value.

Design notes, section "共产主义loss": with a too large learning rate CenterNet
training sometimes blows up (loss jumps, mAP drops to zero and climbs again).
The fix: give each loss term a weight that changes every step so that the
weighted term always equals a fixed target, and let a cosine LR schedule shape
the step size. See ``docs/adaptive_loss.md``.
"""
import fnmatch
import math
from collections import OrderedDict
from typing import Dict, List, Optional, Tuple

import torch
from mmengine.logging import MMLogger

from centerx_mm.registry import HOOKS
from .parse_losses_hook import ParseLossesHook, mean_over_ranks

#: Key of the hook's state in a runner checkpoint (plain floats/ints/dicts).
CKPT_KEY = 'adaptive_loss_hook'

#: Default of ``AdaptiveLossHook.max_weight`` (see its docstring).
DEFAULT_MAX_WEIGHT = 1e4


def _is_number(value) -> bool:
    """A finite int/float (not bool)."""
    return isinstance(
        value,
        (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@HOOKS.register_module()
class AdaptiveLossHook(ParseLossesHook):
    """Reweight loss terms so that each one is held at a target value.

    For every loss term whose name matches a pattern of ``targets`` (fnmatch,
    e.g. ``'loss_kd_*'``; the first matching pattern wins) the weight is::

        magnitude_t = |raw_t|                                   (momentum=0)
        magnitude_t = momentum * magnitude_{t-1} + (1 - momentum) * |raw_t|
        weight_t    = min(target / magnitude_t, max_weight)     (detached)

    where ``raw_t`` is the term as the model returns it (already scaled by
    its config ``loss_weight``), reduced like mmengine's ``parse_losses``
    (``mean()``). With ``momentum=0`` (the original rule) the weighted term
    has the value ``target`` (until the bound acts) and its gradient is
    ``target * d(raw) / raw``. The first magnitude of a term is its first
    raw value (no bias correction). Terms that contain ``'loss'`` but match
    no pattern are summed unchanged; keys without ``'loss'`` are only
    logged.

    Robustness (the original divided by the loss): a matched term whose raw
    value is NaN/inf is removed from the total for that micro-batch; one
    with ``|raw| <= eps`` (e.g. ``loss_wh`` of a batch without objects) gets
    weight 0. Neither updates its magnitude; both are counted. A micro-batch
    with no term left with a non-zero weight (and no unmatched term) has no
    usable loss: it back-propagates a zero-gradient anchor, and the
    optimizer update it belongs to is skipped if no other micro-batch of
    its accumulation window had a usable loss; the LR schedulers are held
    for that update (:class:`ParseLossesHook`: every ``OptimWrapper``,
    ``OptimWrapperDict``, the mixed-precision wrappers). With
    ``warmup_iters=N`` the weight ramps linearly from 1 at iteration 0 to
    the adaptive weight at iteration N.

    Logged (text log, message hub, ``vis_data/scalars.json``, TensorBoard
    when a ``TensorboardVisBackend`` is configured, all through the log
    vars / message hub): ``loss`` (weighted total, the value
    back-propagated), ``loss_raw`` (the unweighted total, what training
    without the hook would minimise and log as ``loss``), ``loss_<x>``
    (weighted term), ``raw_loss_<x>`` and ``weight_loss_<x>`` for every
    matched term; per logging window (counts since the previous log line):
    ``adaptive_skipped`` (skipped updates), ``adaptive_dropped`` (terms
    dropped as zero or NaN/inf), ``adaptive_capped`` (weights bounded by
    ``max_weight``).

    State (magnitudes and counters, python floats/ints only) is stored in
    checkpoints under ``'adaptive_loss_hook'`` and restored on ``--resume``
    (not on ``load_from``, which starts a fresh run).

    Args:
        targets (dict[str, float]): name pattern -> target value (> 0).
        momentum (float): EMA momentum in [0, 1); 0 is the original rule.
        warmup_iters (int): iterations of the linear ramp, >= 0.
        eps (float): raw values with ``|raw| <= eps`` count as zero.
        max_weight (float, optional): upper bound of ``target / magnitude``.
            Default 1e4: the largest weight a term needs in the uses
            measured here is about 1e3 (the 'prob' KD heatmap MSE at
            ``KDLoss`` weight 1 is ~1e-3 once training runs; the
            hand-tuned weight holding it near 1 is 1000, and it starts at
            8.5e-3, docs/experiments_kd.md), so 1e4 leaves 10x headroom,
            while a term that falls toward 0 (a KD term once the student
            matches its teacher; a 5e-6 ``loss_kd_wh`` against an untrained
            teacher got weight 3.5e4 and a gradient norm ~1e3 in a smoke
            run) no longer has its gradient amplified without bound: below
            ``target / max_weight`` the term is left to shrink. Heatmaps
            with many more cells (COCO: ~300x more per image) need a larger
            bound or a pre-scaling ``loss_weight``. None: no bound (the
            original rule).
        sync_across_ranks (bool): in distributed training, average the raw
            values of matched terms over ranks before computing weights, so
            all ranks use the same weights and take the same skip decisions
            (one small all-reduce per step). With False, ranks may disagree
            on a skip and their weights drift apart.
    """

    ckpt_key = CKPT_KEY
    log_prefix = 'adaptive'
    counters = ('dropped', 'capped')

    def __init__(self,
                 targets: Dict[str, float],
                 momentum: float = 0.0,
                 warmup_iters: int = 0,
                 eps: float = 1e-12,
                 max_weight: Optional[float] = DEFAULT_MAX_WEIGHT,
                 sync_across_ranks: bool = True) -> None:
        super().__init__()
        if not isinstance(targets, dict) or not targets:
            raise TypeError('AdaptiveLossHook.targets must be a non-empty '
                            'dict {name pattern: target value}, got '
                            f'{targets!r}')
        self.targets: Dict[str, float] = OrderedDict()
        for pattern, target in targets.items():
            if not isinstance(pattern, str):
                raise TypeError('AdaptiveLossHook.targets keys must be str '
                                f'patterns, got {pattern!r}')
            if not _is_number(target) or target <= 0:
                raise ValueError(f'AdaptiveLossHook.targets[{pattern!r}] '
                                 f'must be a finite number > 0, got '
                                 f'{target!r}')
            self.targets[pattern] = float(target)
        if not _is_number(momentum) or not 0 <= momentum < 1:
            raise ValueError('AdaptiveLossHook.momentum must be in [0, 1), '
                             f'got {momentum!r}')
        if not isinstance(warmup_iters, int) or isinstance(
                warmup_iters, bool) or warmup_iters < 0:
            raise ValueError('AdaptiveLossHook.warmup_iters must be an int '
                             f'>= 0, got {warmup_iters!r}')
        if not _is_number(eps) or eps < 0:
            raise ValueError(f'AdaptiveLossHook.eps must be >= 0, got {eps!r}')
        if max_weight is not None and (not _is_number(max_weight)
                                       or max_weight <= 0):
            raise ValueError('AdaptiveLossHook.max_weight must be None or '
                             f'a finite number > 0, got {max_weight!r}')
        self.max_weight = None if max_weight is None else float(max_weight)
        self.momentum = float(momentum)
        self.warmup_iters = warmup_iters
        self.eps = float(eps)
        self.sync_across_ranks = sync_across_ranks

        # State saved in checkpoints (besides the base class's).
        self.magnitude: Dict[str, float] = {}
        self.num_updates: Dict[str, int] = {}
        self.num_zero: Dict[str, int] = {}
        self.num_nonfinite: Dict[str, int] = {}
        self.num_capped: Dict[str, int] = {}
        self._checked_patterns = False

    # ------------------------------------------------------------------
    # Weight rule
    # ------------------------------------------------------------------
    def match(self, name: str) -> Optional[float]:
        """Target of loss term ``name`` (first matching pattern), or None."""
        for pattern, target in self.targets.items():
            if fnmatch.fnmatchcase(name, pattern):
                return target
        return None

    def warmup_factor(self, cur_iter: int) -> float:
        """Share of the adaptive weight at iteration ``cur_iter`` (0-based):
        ``min(1, cur_iter / warmup_iters)``; 1 without warm-up."""
        if self.warmup_iters == 0:
            return 1.0
        return min(1.0, cur_iter / self.warmup_iters)

    def process(self, raw_total, log_vars):
        """:meth:`reweight` (the anchor is added when a term was dropped)."""
        return self.reweight(raw_total, log_vars)

    def reweight(
        self, raw_total: torch.Tensor, log_vars: Dict[str, torch.Tensor]
    ) -> Tuple[Optional[torch.Tensor], 'OrderedDict[str, torch.Tensor]', bool]:
        """Reweight the terms of a parsed loss dict.

        Args:
            raw_total (Tensor): the unweighted total from ``parse_losses``.
            log_vars (dict[str, Tensor]): ``parse_losses`` output: ``'loss'``
                and one scalar tensor (with graph) per term.

        Returns:
            tuple: ``(total, log_vars, dropped)``: the weighted total, or
            None when no term is left (no usable loss); the new log vars
            (``'loss'`` first, then ``'loss_raw'``); whether a NaN/inf term
            was removed from the graph.
        """
        terms = OrderedDict(
            (k, v) for k, v in log_vars.items() if k != 'loss' and 'loss' in k)
        matched = OrderedDict()
        for name in terms:
            target = self.match(name)
            if target is not None:
                matched[name] = target
        self._check_patterns(list(terms))

        raw_local, raw_used = {}, {}
        if matched:
            raw = torch.stack(
                [terms[k].detach().float().reshape(()) for k in matched])
            raw_local = dict(zip(matched, raw.tolist()))
            if self.sync_across_ranks:
                raw = mean_over_ranks(raw)
            raw_used = dict(zip(matched, raw.tolist()))

        alpha = self.warmup_factor(self.cur_iter)
        graph = []  # tensors summed into the total
        num_contributing = 0  # terms with a non-zero weight
        dropped = False
        out = OrderedDict()
        for name, value in terms.items():
            if name not in matched:
                graph.append(value)
                num_contributing += 1
                out[name] = value
                continue
            weight = self._update(name, matched[name], raw_used[name], alpha)
            if weight is None:  # NaN/inf: removed from the graph
                dropped = True
                weight = 0.0
                out[name] = value.detach().new_zeros(())
            else:
                # A zero term stays in the graph with weight 0 (zero
                # gradient), so DDP still sees the parameters it uses.
                out[name] = value * weight
                graph.append(out[name])
                num_contributing += weight != 0.0
            out[f'raw_{name}'] = value.detach().new_tensor(raw_local[name])
            out[f'weight_{name}'] = value.detach().new_tensor(weight)
        for name, value in log_vars.items():
            if name != 'loss' and name not in terms:
                out[name] = value

        loss = None
        if num_contributing:
            loss = torch.stack([t.reshape(()) for t in graph]).sum()
        else:
            MMLogger.get_current_instance().warning(
                f'AdaptiveLossHook: iter {self.cur_iter}: no usable loss '
                f'term (raw values {raw_local}): this micro-batch adds no '
                'gradient.')
        out = OrderedDict([('loss', loss),
                           ('loss_raw', raw_total.detach())] +
                          list(out.items()))
        return loss, out, dropped

    def _update(self, name: str, target: float, raw: float,
                alpha: float) -> Optional[float]:
        """Update the magnitude of ``name`` with ``raw``; return the weight
        (0 for a zero term, None for NaN/inf)."""
        logger = MMLogger.get_current_instance()
        if not math.isfinite(raw):
            count = self._count(self.num_nonfinite, name, 'dropped')
            logger.warning(
                f'AdaptiveLossHook: iter {self.cur_iter}: {name} = {raw}; '
                f'term dropped for this step ({count} non-finite so far).')
            return None
        if abs(raw) <= self.eps:
            if self._count(self.num_zero, name, 'dropped') == 1:
                logger.info(
                    f'AdaptiveLossHook: iter {self.cur_iter}: {name} = '
                    f'{raw} (e.g. a batch without objects): weight 0 for '
                    'this step; later zero steps are only counted.')
            return 0.0
        if name in self.magnitude and self.momentum > 0:
            mag = (self.momentum * self.magnitude[name] +
                   (1 - self.momentum) * abs(raw))
        else:
            mag = abs(raw)
        self.magnitude[name] = mag
        self.num_updates[name] = self.num_updates.get(name, 0) + 1
        weight = target / mag
        if self.max_weight is not None and weight > self.max_weight:
            weight = self.max_weight
            if self._count(self.num_capped, name, 'capped') == 1:
                logger.warning(
                    f'AdaptiveLossHook: iter {self.cur_iter}: {name} = '
                    f'{raw}: weight {target / mag:.4g} bounded by '
                    f'max_weight={self.max_weight:g}; later bounded steps '
                    'are only counted (adaptive_capped).')
        return (1 - alpha) + alpha * weight

    def _count(self, counts: Dict[str, int], name: str, window: str) -> int:
        """Count one event of term ``name`` in ``counts`` (state) and in
        the logging window's ``window`` counter; returns the term's count."""
        counts[name] = counts.get(name, 0) + 1
        self.window_counts[window] += 1
        return counts[name]

    def _check_patterns(self, names: List[str]) -> None:
        if self._checked_patterns:
            return
        self._checked_patterns = True
        unused = [
            p for p in self.targets
            if not any(fnmatch.fnmatchcase(n, p) for n in names)
        ]
        if unused:
            MMLogger.get_current_instance().warning(
                f'AdaptiveLossHook: target patterns {unused} match no loss '
                f'term of this model (terms: {names}); they are ignored.')

    # ------------------------------------------------------------------
    # State
    # ------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Magnitudes and counters as python floats/ints (loadable with
        ``torch.load(weights_only=True)``)."""
        state = dict(
            magnitude={k: float(v)
                       for k, v in self.magnitude.items()})
        for field in ('num_updates', 'num_zero', 'num_nonfinite',
                      'num_capped'):
            state[field] = {k: int(v) for k, v in getattr(self, field).items()}
        state.update(super().state_dict())
        return state

    def load_state_dict(self, state: dict) -> None:
        """Inverse of :meth:`state_dict`; a malformed state raises naming
        the field. Checkpoints of older versions (without ``num_capped`` or
        ``scheduler_holds``) load with those empty."""
        super().load_state_dict(state)
        parsed = {}
        for field, cast in (('magnitude', float), ('num_updates', int),
                            ('num_zero', int), ('num_nonfinite', int),
                            ('num_capped', int)):
            value = state.get(field, {})
            if not isinstance(value, dict):
                raise TypeError(f'checkpoint[{CKPT_KEY!r}][{field!r}] must '
                                f'be a dict, got {type(value).__name__}')
            parsed[field] = {str(k): cast(v) for k, v in value.items()}
        for field, value in parsed.items():
            setattr(self, field, value)
