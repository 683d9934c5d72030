"""Skip the update when the loss jumps: a remedy the design notes tried
against mid-run blow-ups and report as not working ("共产主义loss":
"自己加了个skip loss，当本次iter的loss是上次loss的k=1.1倍以上时，
这次loss全部置0，不更新网络，不work"). Here as a comparison row of
docs/experiments_adaptive_loss.md."""
import math
from typing import Optional

from centerx_mm.registry import HOOKS
from .parse_losses_hook import ParseLossesHook, mean_over_ranks


@HOOKS.register_module()
class LossJumpSkipHook(ParseLossesHook):
    """Skip the update of a micro-batch whose loss jumped.

    A micro-batch whose total loss (the model's ``parse_losses`` total) is
    above ``ratio`` times the previous iteration's total, or is NaN/inf,
    back-propagates a zero-gradient anchor instead, and its optimizer update
    is skipped with the LR schedulers held (:class:`ParseLossesHook`; with
    gradient accumulation, when no micro-batch of the window was kept). The
    previous total is that of the previous micro-batch, kept or not (so a
    loss that settles at a higher level is accepted one iteration later, as
    in the notes); a NaN/inf total does not replace it. The first
    micro-batch is always kept unless non-finite. In distributed training
    the totals are averaged over ranks first, so every rank decides alike.

    Logged: ``loss`` (what is back-propagated: 0 on a skipped micro-batch),
    ``loss_raw`` (the model's total, as AdaptiveLossHook logs it), and
    ``jump_skipped``, the skipped updates in the logging window.
    State (``'loss_jump_skip_hook'`` in checkpoints, restored on
    ``--resume``): the previous total and the base class's counters.

    Args:
        ratio (float): jump threshold, > 1; the notes used 1.1.
    """

    ckpt_key = 'loss_jump_skip_hook'
    log_prefix = 'jump'

    def __init__(self, ratio: float = 1.1) -> None:
        super().__init__()
        if isinstance(ratio, bool) or not isinstance(
                ratio, (int, float)) or not 1 < ratio < math.inf:
            raise ValueError('LossJumpSkipHook.ratio must be a finite number '
                             f'> 1, got {ratio!r}')
        self.ratio = float(ratio)
        self.prev_loss: Optional[float] = None

    def process(self, raw_total, log_vars):
        value = float(mean_over_ranks(raw_total.detach().float().reshape(1)))
        prev, finite = self.prev_loss, math.isfinite(value)
        if finite:
            self.prev_loss = value
        log_vars = dict(log_vars, loss_raw=raw_total.detach())
        if not finite or (prev is not None and value > self.ratio * prev):
            return None, log_vars, False
        return raw_total, log_vars, False

    def state_dict(self) -> dict:
        return dict(super().state_dict(), prev_loss=self.prev_loss)

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        prev = state.get('prev_loss')
        self.prev_loss = None if prev is None else float(prev)
