"""Test-only hook (imported with ``custom_imports``): pads every checkpoint
with a large tensor so that a save takes a while, and on the
``kill_at_save``-th save sends the process a real SIGKILL a random moment
(0..``kill_within`` s) after the write starts."""
import os
import random
import signal
import threading

import torch
from mmengine.hooks import Hook

from centerx_mm.registry import HOOKS


@HOOKS.register_module()
class KillDuringSaveHook(Hook):

    def __init__(self, megabytes: int = 48, kill_at_save: int = 0,
                 kill_within: float = 0.05, seed: int = 0) -> None:
        self.numel = megabytes * 2**20 // 4
        self.kill_at_save = kill_at_save
        self.kill_within = kill_within
        self.rng = random.Random(seed)
        self.saves = 0

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['padding'] = torch.ones(self.numel)
        self.saves += 1
        if self.saves == self.kill_at_save:
            threading.Timer(
                self.rng.uniform(0, self.kill_within),
                lambda: os.kill(os.getpid(), signal.SIGKILL)).start()
