"""Base of the hooks that rewrite each micro-batch's parsed loss and may skip
the optimizer update it belongs to (:class:`AdaptiveLossHook`,
:class:`LossJumpSkipHook`). Not registered: it is no hook of its own."""
import logging
from typing import Dict, Optional, Tuple

import torch
from mmengine.dist import all_reduce, get_world_size
from mmengine.hooks import Hook, LoggerHook, ParamSchedulerHook
from mmengine.hooks.hook import DATA_BATCH
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapper, OptimWrapperDict
from mmengine.runner.priority import get_priority


def _warn(msg: str) -> None:
    print_log(msg, logger='current', level=logging.WARNING)


def mean_over_ranks(values: torch.Tensor) -> torch.Tensor:
    """``values`` averaged over the ranks of a distributed run (as is
    without one)."""
    if get_world_size() > 1:
        values = values.clone()
        all_reduce(values, op='mean')
    return values


class ParseLossesHook(Hook):
    """Rewrite ``parse_losses`` output; skip updates without a usable loss.

    Subclasses implement :meth:`process`. In ``before_train`` the hook

    - replaces ``parse_losses`` on the unwrapped model instance (both
      ``BaseModel.train_step`` and ``MMDistributedDataParallel.train_step``
      call ``<model>.parse_losses``) by: the model's own ``parse_losses``,
      then :meth:`process`. When :meth:`process` returns no loss, the
      micro-batch back-propagates a zero-gradient anchor
      (``0 * sum(p.sum())`` over the trainable parameters, so DDP still
      reduces every parameter);
    - wraps ``backward`` and ``step`` of ``runner.optim_wrapper`` (of each
      wrapper of an ``OptimWrapperDict``). Every ``backward`` records
      whether the latest parsed loss was usable; ``step`` (called by
      ``update_params`` when ``should_update()``, i.e. once per
      accumulation window) skips the optimizer step when *none* of the
      window's micro-batches had a usable loss. A window with one usable
      micro-batch is stepped: the others added zero gradients. The
      decision never leaks into the next window. The wrapper's own
      ``step`` does the rest (gradient clipping, the GPU ``GradScaler``,
      ``CenterXAmpOptimWrapper``'s non-finite check), so this works with
      every ``OptimWrapper`` subclass, mixed precision included;
    - holds the iteration-based LR/momentum schedulers of a skipped update
      (``ParamSchedulerHook.after_train_iter`` is wrapped): a skipped
      window of ``k`` iterations is not counted, the schedulers of that
      wrapper skip their next ``k`` steps (the current one and the
      ``k - 1`` non-update iterations that follow, where the LR is unused),
      so the next update gets the LR it would have had without the skipped
      window. Epoch-based schedulers are not held.

    Logged: ``<log_prefix>_skipped`` and one ``<log_prefix>_<name>`` per
    :attr:`counters`: counts over the logging window (the iterations since
    the previous log line of ``LoggerHook``), written to the message hub
    every iteration; keys without ``loss``/``time`` are shown as is by
    ``LogProcessor`` (not averaged), so the log line shows the window's
    count. ``num_skipped_steps`` (state) is the total.

    State (checkpoint key :attr:`ckpt_key`; restored on ``--resume`` only):
    :meth:`state_dict` of the subclass, which includes
    ``num_skipped_steps`` and the scheduler steps still to hold.
    """

    priority = 'NORMAL'
    #: checkpoint key of the hook's state
    ckpt_key = ''
    #: prefix of the per-window counters in the log
    log_prefix = ''
    #: per-window counters besides ``skipped``
    counters: Tuple[str, ...] = ()

    def __init__(self) -> None:
        self.num_skipped_steps = 0
        # scheduler steps still to hold, per wrapper ('' = single wrapper)
        self.scheduler_holds: Dict[str, int] = {}
        self.cur_iter = 0
        self.window_counts = {name: 0 for name in ('skipped', ) + tuple(
            self.counters)}
        self._model = None
        self._wrappers: Dict[str, OptimWrapper] = {}
        self._window: Dict[str, Tuple[bool, int]] = {}
        self._usable: Optional[bool] = None
        self._scheduler_hooks = []
        self._logger_hook = None

    # ------------------------------------------------------------------
    # For subclasses
    # ------------------------------------------------------------------
    def process(self, raw_total: torch.Tensor, log_vars: dict
                ) -> Tuple[Optional[torch.Tensor], dict, bool]:
        """Rewrite one micro-batch's parsed loss.

        Args:
            raw_total (Tensor): the model's ``parse_losses`` total.
            log_vars (dict[str, Tensor]): its log vars.

        Returns:
            tuple: ``(loss, log_vars, anchor)``: the loss to back-propagate,
            or None when the micro-batch has no usable loss; the log vars;
            whether to add the zero-gradient anchor to ``loss`` (a term
            was removed from the graph).
        """
        raise NotImplementedError

    def state_dict(self) -> dict:
        """Plain ints/floats/dicts (``torch.load(weights_only=True)``)."""
        return dict(num_skipped_steps=int(self.num_skipped_steps),
                    scheduler_holds={
                        str(k): int(v)
                        for k, v in self.scheduler_holds.items()
                    })

    def load_state_dict(self, state: dict) -> None:
        """Inverse of :meth:`state_dict`; a malformed state raises naming
        the field."""
        if not isinstance(state, dict):
            raise TypeError(f'checkpoint[{self.ckpt_key!r}] must be a dict, '
                            f'got {type(state).__name__}')
        holds = state.get('scheduler_holds', {})
        if not isinstance(holds, dict):
            raise TypeError(f'checkpoint[{self.ckpt_key!r}]'
                            "['scheduler_holds'] must be a dict, got "
                            f'{type(holds).__name__}')
        self.scheduler_holds = {str(k): int(v) for k, v in holds.items()}
        self.num_skipped_steps = int(state.get('num_skipped_steps', 0))

    # ------------------------------------------------------------------
    # Attaching to the model / optimizer wrapper
    # ------------------------------------------------------------------
    def attach(self, model, optim_wrapper=None) -> None:
        """Replace ``model.parse_losses`` (an unwrapped ``BaseModel``) and,
        if given, wrap ``backward``/``step`` of ``optim_wrapper`` (of each
        wrapper of an ``OptimWrapperDict``)."""
        if 'parse_losses' in vars(model):
            raise RuntimeError(
                f'{type(model).__name__}.parse_losses is already replaced on '
                'this instance (two loss hooks in custom_hooks? '
                'AdaptiveLossHook and LossJumpSkipHook exclude each other).')
        if not callable(getattr(model, 'parse_losses', None)):
            raise TypeError(
                f'{type(self).__name__} needs a model with parse_losses() '
                f'(an mmengine BaseModel); got {type(model).__name__}.')
        original = model.parse_losses

        def parse_losses(losses):
            raw_total, log_vars = original(losses)
            loss, log_vars, anchor = self.process(raw_total, log_vars)
            self._usable = loss is not None
            if loss is None or anchor:
                params = [p for p in model.parameters() if p.requires_grad]
                zero = (torch.stack([p.sum() for p in params]).sum() *
                        0.0 if params else raw_total.new_zeros(()))
                loss = zero if loss is None else loss + zero
            log_vars['loss'] = loss
            return loss, log_vars

        model.parse_losses = parse_losses
        self._model = model
        if isinstance(optim_wrapper, OptimWrapperDict):
            for name, wrapper in optim_wrapper.items():
                self._wrap(str(name), wrapper)
        elif isinstance(optim_wrapper, OptimWrapper):
            self._wrap('', optim_wrapper)
        elif optim_wrapper is not None:
            raise TypeError(f'{type(self).__name__}: runner.optim_wrapper '
                            'must be an OptimWrapper or OptimWrapperDict, '
                            f'got {type(optim_wrapper).__name__}')

    def _wrap(self, key: str, wrapper: OptimWrapper) -> None:
        original_backward, original_step = wrapper.backward, wrapper.step

        def backward(loss, **kwargs):
            original_backward(loss, **kwargs)
            usable, count = self._window.get(key, (False, 0))
            self._window[key] = (usable or self._usable is not False,
                                 count + 1)

        def step(**kwargs):
            usable, count = self._window.pop(key, (True, 0))
            if not usable:
                self._skip(key, count)
                return None
            return original_step(**kwargs)

        wrapper.backward, wrapper.step = backward, step
        self._wrappers[key] = wrapper

    def _skip(self, key: str, count: int) -> None:
        self.num_skipped_steps += 1
        self.window_counts['skipped'] += 1
        self.scheduler_holds[key] = self.scheduler_holds.get(key, 0) + count
        name = f' of optim wrapper {key!r}' if key else ''
        _warn(f'{type(self).__name__}: iter {self.cur_iter}: update{name} '
              f'skipped, none of its {count} micro-batch(es) had a usable '
              f'loss ({self.num_skipped_steps} skipped so far); its LR '
              f'schedulers are held for {count} iteration(s).')

    def _patch_scheduler_hook(self, hook: ParamSchedulerHook) -> None:
        original = hook.after_train_iter

        def after_train_iter(runner, batch_idx, data_batch=None,
                             outputs=None):
            held = [k for k, n in self.scheduler_holds.items() if n > 0]
            for k in held:
                self.scheduler_holds[k] -= 1
                if not self.scheduler_holds[k]:
                    del self.scheduler_holds[k]
            schedulers = runner.param_schedulers
            if not held or schedulers is None:
                return original(runner, batch_idx, data_batch, outputs)
            if isinstance(schedulers, dict) and '' not in held:
                kept = {k: v for k, v in schedulers.items() if k not in held}
            else:  # a single optim wrapper: all its schedulers are held
                kept = []
            runner.param_schedulers = kept
            try:
                original(runner, batch_idx, data_batch, outputs)
            finally:
                runner.param_schedulers = schedulers

        hook.after_train_iter = after_train_iter
        self._scheduler_hooks.append(hook)

    def detach(self) -> None:
        """Undo :meth:`attach` and the scheduler hook patch."""
        if self._model is not None:
            vars(self._model).pop('parse_losses', None)
            self._model = None
        for wrapper in self._wrappers.values():
            vars(wrapper).pop('backward', None)
            vars(wrapper).pop('step', None)
        for hook in self._scheduler_hooks:
            vars(hook).pop('after_train_iter', None)
        self._wrappers, self._scheduler_hooks = {}, []
        self._window, self._usable = {}, None

    # ------------------------------------------------------------------
    # Hook interface
    # ------------------------------------------------------------------
    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        self.attach(model, runner.optim_wrapper)
        for hook in runner.hooks:
            if isinstance(hook, ParamSchedulerHook):
                self._patch_scheduler_hook(hook)
            elif isinstance(hook, LoggerHook):
                self._logger_hook = hook
        if runner.param_schedulers and not self._scheduler_hooks:
            _warn(f'{type(self).__name__}: no ParamSchedulerHook: the LR '
                  'schedulers are not held on skipped updates.')
        if self._logger_hook is not None and get_priority(
                self.priority) >= get_priority(self._logger_hook.priority):
            raise ValueError(
                f'{type(self).__name__}.priority ({self.priority}) must be '
                f'higher than LoggerHook.priority '
                f'({self._logger_hook.priority}): its per-window counts are '
                'written before the logger reads them')

    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch: DATA_BATCH = None) -> None:
        self.cur_iter = runner.iter

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: DATA_BATCH = None,
                         outputs: Optional[dict] = None) -> None:
        for name, count in self.window_counts.items():
            runner.message_hub.update_scalar(
                f'train/{self.log_prefix}_{name}', float(count))
        if self._logger_logs_now(runner, batch_idx):
            self.window_counts = dict.fromkeys(self.window_counts, 0)

    def _logger_logs_now(self, runner, batch_idx: int) -> bool:
        """Whether ``LoggerHook.after_train_iter`` writes a log line at this
        iteration (its own rule, mmengine 0.10); every iteration without a
        LoggerHook."""
        logger = self._logger_hook
        if logger is None:
            return True
        if logger.every_n_inner_iters(batch_idx, logger.interval):
            return True
        return logger.end_of_epoch(runner.train_dataloader, batch_idx) and (
            not logger.ignore_last
            or len(runner.train_dataloader) <= logger.interval)

    def after_train(self, runner) -> None:
        self.detach()

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint[self.ckpt_key] = self.state_dict()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # mmengine calls this hook for `load_from` and for `resume`; only a
        # resumed run continues the previous one (Runner._resume).
        if not getattr(runner, '_resume', False):
            return
        state = checkpoint.get(self.ckpt_key)
        if state is None:
            runner.logger.warning(
                f'{type(self).__name__}: the resumed checkpoint has no '
                f'{self.ckpt_key!r} state; it starts afresh.')
            return
        self.load_state_dict(state)
        runner.logger.info(f'{type(self).__name__}: state restored from '
                           f'the checkpoint: {self.state_dict()}')
