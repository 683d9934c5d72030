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
from mmengine.dist import all_reduce, get_world_size
from mmengine.hooks import Hook
from mmengine.logging import MMLogger
from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapper

from centerx_mm.registry import HOOKS

#: Key of the hook's state in a runner checkpoint (plain floats/ints/dicts).
CKPT_KEY = 'adaptive_loss_hook'


def _is_number(value) -> bool:
    """A finite int/float (not bool)."""
    return isinstance(
        value,
        (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@HOOKS.register_module()
class AdaptiveLossHook(Hook):
    """Reweight loss terms so that each one is held at a target value.

    For every loss term whose name matches a pattern of ``targets`` (fnmatch,
    e.g. ``'loss_kd_*'``; the first matching pattern wins) the weight is::

        magnitude_t = |raw_t|                                   (momentum=0)
        magnitude_t = momentum * magnitude_{t-1} + (1 - momentum) * |raw_t|
        weight_t    = target / magnitude_t                      (detached)

    where ``raw_t`` is the term as the model returns it (already scaled by
    its config ``loss_weight``), reduced like mmengine's ``parse_losses``
    (``mean()``). With ``momentum=0`` (the original rule) the weighted term
    always has the value ``target`` and its gradient is
    ``target * d(raw) / raw``. The first magnitude of a term is its first
    raw value (no bias correction). Terms that contain ``'loss'`` but match no
    pattern are summed unchanged; keys without ``'loss'`` are only logged.

    Robustness (the original divided by the loss): a matched term whose raw
    value is NaN/inf is removed from the total for that step; one with
    ``|raw| <= eps`` (e.g. ``loss_wh`` of a batch without objects) gets
    weight 0. Neither updates its magnitude; both are counted and logged.
    If no term is left with a non-zero weight (and no unmatched term
    exists), the whole step is skipped: backward runs on a zero-gradient
    anchor (so DDP sees every parameter) and the optimizer step is not
    taken. With ``warmup_iters=N`` the weight ramps linearly from 1 at
    iteration 0 to ``target / magnitude`` at iteration N.

    Mechanism: in ``before_train`` the hook replaces ``parse_losses`` on the
    unwrapped model instance (``runner.model.module`` under
    ``MMDistributedDataParallel``; both ``BaseModel.train_step`` and the DDP
    wrapper's ``train_step`` call ``<model>.parse_losses``). The wrapper calls
    the model's own ``parse_losses`` (so an override in a KD model is kept),
    then reweights the per-term values. ``after_train`` restores it.

    Logged (text log, ``vis_data/scalars.json``, TensorBoard if configured):
    ``loss`` (weighted total, the value back-propagated), ``loss_<x>``
    (weighted term), ``raw_loss_<x>`` and ``weight_loss_<x>`` for matched
    terms, ``raw_loss`` (the unweighted total, what training without the
    hook would minimise), ``adaptive_num_dropped`` (cumulative count of
    dropped terms) and ``adaptive_num_skipped`` (skipped steps).

    State (magnitudes and counters, python floats/ints only) is stored in
    checkpoints under ``'adaptive_loss_hook'`` and restored on ``--resume``
    (not on ``load_from``, which starts a fresh run).

    Args:
        targets (dict[str, float]): name pattern -> target value (> 0).
        momentum (float): EMA momentum in [0, 1); 0 is the original rule.
        warmup_iters (int): iterations of the linear ramp, >= 0.
        eps (float): raw values with ``|raw| <= eps`` count as zero.
        max_weight (float, optional): upper bound of ``target / magnitude``
            (a term that is tiny but not zero, e.g. a KD term against an
            untrained teacher, would otherwise get a huge weight). None: no
            bound, the original rule.
        sync_across_ranks (bool): in distributed training, average the raw
            values of matched terms over ranks before computing weights, so
            all ranks use the same weights (one small all-reduce per step).
    """

    priority = 'NORMAL'

    def __init__(self,
                 targets: Dict[str, float],
                 momentum: float = 0.0,
                 warmup_iters: int = 0,
                 eps: float = 1e-12,
                 max_weight: Optional[float] = None,
                 sync_across_ranks: bool = True) -> None:
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
                             f'> 0, got {max_weight!r}')
        self.max_weight = max_weight
        self.momentum = float(momentum)
        self.warmup_iters = warmup_iters
        self.eps = float(eps)
        self.sync_across_ranks = sync_across_ranks

        # State saved in checkpoints.
        self.magnitude: Dict[str, float] = {}
        self.num_updates: Dict[str, int] = {}
        self.num_zero: Dict[str, int] = {}
        self.num_nonfinite: Dict[str, int] = {}
        self.num_skipped_steps = 0

        self.cur_iter = 0
        self._model = None
        self._optim_wrapper = None
        self._skip_next_step = False
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
            None when no term is left (the step must be skipped); the new
            log vars (``'loss'`` first); whether a NaN/inf term was removed
            from the graph.
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
            if self.sync_across_ranks and get_world_size() > 1:
                all_reduce(raw, op='mean')
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
            self.num_skipped_steps += 1
            MMLogger.get_current_instance().warning(
                f'AdaptiveLossHook: iter {self.cur_iter}: no usable loss '
                f'term (raw values {raw_local}); skipping this optimizer '
                f'step ({self.num_skipped_steps} skipped so far).')
        out['raw_loss'] = raw_total.detach()
        out['adaptive_num_dropped'] = raw_total.new_tensor(
            float(
                sum(self.num_zero.values()) +
                sum(self.num_nonfinite.values())))
        out['adaptive_num_skipped'] = raw_total.new_tensor(
            float(self.num_skipped_steps))
        out = OrderedDict([('loss', loss)] + list(out.items()))
        return loss, out, dropped

    def _update(self, name: str, target: float, raw: float,
                alpha: float) -> Optional[float]:
        """Update the magnitude of ``name`` with ``raw``; return the weight
        (0 for a zero term, None for NaN/inf)."""
        logger = MMLogger.get_current_instance()
        if not math.isfinite(raw):
            self.num_nonfinite[name] = self.num_nonfinite.get(name, 0) + 1
            logger.warning(
                f'AdaptiveLossHook: iter {self.cur_iter}: {name} = {raw}; '
                f'term dropped for this step ({self.num_nonfinite[name]} '
                'non-finite so far).')
            return None
        if abs(raw) <= self.eps:
            self.num_zero[name] = self.num_zero.get(name, 0) + 1
            if self.num_zero[name] == 1:
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
        if self.max_weight is not None:
            weight = min(weight, float(self.max_weight))
        return (1 - alpha) + alpha * weight

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
    # Attaching to the model / optimizer
    # ------------------------------------------------------------------
    def attach(self, model, optim_wrapper=None) -> None:
        """Replace ``model.parse_losses`` (an unwrapped ``BaseModel``) and,
        if given, wrap ``optim_wrapper.step`` to skip all-dropped steps."""
        if 'parse_losses' in vars(model):
            raise RuntimeError(
                f'{type(model).__name__}.parse_losses is already replaced on '
                'this instance (two AdaptiveLossHooks in custom_hooks?).')
        if not callable(getattr(model, 'parse_losses', None)):
            raise TypeError(
                'AdaptiveLossHook needs a model with parse_losses() (an '
                f'mmengine BaseModel); got {type(model).__name__}.')
        original = model.parse_losses

        def parse_losses(losses):
            raw_total, log_vars = original(losses)
            loss, log_vars, dropped = self.reweight(raw_total, log_vars)
            if loss is None or dropped:
                # Zero-gradient anchor over every trainable parameter: keeps
                # backward() valid and lets DDP reduce all parameters.
                anchor = sum(p.sum() for p in model.parameters()
                             if p.requires_grad) * 0.0
                if loss is None:
                    loss = anchor
                    self._skip_next_step = True
                else:
                    loss = loss + anchor
                log_vars['loss'] = loss
            return loss, log_vars

        model.parse_losses = parse_losses
        self._model = model
        if isinstance(optim_wrapper, OptimWrapper):
            original_step = optim_wrapper.step

            def step(*args, **kwargs):
                if self._skip_next_step:
                    self._skip_next_step = False
                    return None
                return original_step(*args, **kwargs)

            optim_wrapper.step = step
            self._optim_wrapper = optim_wrapper

    def detach(self) -> None:
        """Undo :meth:`attach`."""
        if self._model is not None:
            vars(self._model).pop('parse_losses', None)
            self._model = None
        if self._optim_wrapper is not None:
            vars(self._optim_wrapper).pop('step', None)
            self._optim_wrapper = None
        self._skip_next_step = False

    # ------------------------------------------------------------------
    # Hook interface
    # ------------------------------------------------------------------
    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        self.attach(model, runner.optim_wrapper)

    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch=None) -> None:
        self.cur_iter = runner.iter

    def after_train(self, runner) -> None:
        self.detach()

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint[CKPT_KEY] = self.state_dict()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get(CKPT_KEY)
        # mmengine calls this hook for `load_from` and for `resume`; only a
        # resumed run continues the previous one (Runner._resume).
        if not getattr(runner, '_resume', False):
            return
        if state is None:
            runner.logger.warning(
                'AdaptiveLossHook: the resumed checkpoint has no '
                f'{CKPT_KEY!r} state; magnitudes start afresh.')
            return
        self.load_state_dict(state)
        runner.logger.info(
            f'AdaptiveLossHook: restored magnitudes {self.magnitude}')

    # ------------------------------------------------------------------
    # State
    # ------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Magnitudes and counters as python floats/ints (loadable with
        ``torch.load(weights_only=True)``)."""
        return dict(magnitude={
            k: float(v)
            for k, v in self.magnitude.items()
        },
                    num_updates={
                        k: int(v)
                        for k, v in self.num_updates.items()
                    },
                    num_zero={
                        k: int(v)
                        for k, v in self.num_zero.items()
                    },
                    num_nonfinite={
                        k: int(v)
                        for k, v in self.num_nonfinite.items()
                    },
                    num_skipped_steps=int(self.num_skipped_steps))

    def load_state_dict(self, state: dict) -> None:
        """Inverse of :meth:`state_dict`; a malformed state raises naming
        the field."""
        if not isinstance(state, dict):
            raise TypeError(f'checkpoint[{CKPT_KEY!r}] must be a dict, got '
                            f'{type(state).__name__}')
        parsed = {}
        for field, cast in (('magnitude', float), ('num_updates', int),
                            ('num_zero', int), ('num_nonfinite', int)):
            value = state.get(field, {})
            if not isinstance(value, dict):
                raise TypeError(f'checkpoint[{CKPT_KEY!r}][{field!r}] must '
                                f'be a dict, got {type(value).__name__}')
            parsed[field] = {str(k): cast(v) for k, v in value.items()}
        self.magnitude = parsed['magnitude']
        self.num_updates = parsed['num_updates']
        self.num_zero = parsed['num_zero']
        self.num_nonfinite = parsed['num_nonfinite']
        self.num_skipped_steps = int(state.get('num_skipped_steps', 0))
