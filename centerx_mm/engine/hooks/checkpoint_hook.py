import os
import os.path as osp
from collections import deque

from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook
from mmengine.model import is_model_wrapper

from centerx_mm.checkpoint import (CheckpointMismatchError,
                                   checkpoint_classes, checkpoint_state_dict,
                                   resumable_problem, stale_tmp_files,
                                   state_dict_mismatch, write_atomically,
                                   write_text_atomically)
from centerx_mm.registry import HOOKS


# Registered under mmengine's name as well: in the centerx_mm scope every
# `default_hooks.checkpoint=dict(type='CheckpointHook', ...)` (ours, a
# user's, an mmdet habit) gets durable saves without knowing a new name.
@HOOKS.register_module(name=['DurableCheckpointHook', 'CheckpointHook'])
class DurableCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook``, durable against kills, strict on load.

    Saving (local ``out_dir``):

    - the checkpoint and ``last_checkpoint`` are written to a hidden tmp
      file, fsynced and renamed into place (``os.replace``): a kill leaves
      the previous file or the complete new one, never a partial one;
    - with ``max_keep_ckpts``, old checkpoints are deleted only after the
      new one is durable (mmengine deletes first). The new checkpoint lists
      the old ones still to delete, so a run killed before the deletion
      finishes it when resumed.

    Loading (``load_from``, ``resume``; mmengine calls
    :meth:`after_load_checkpoint` before the weights are copied):

    - the checkpoint's keys and shapes must equal the model's, and its
      class names the config's; the error lists the first few keys;
    - ``resume`` needs a training-run checkpoint (iteration, message hub);
      a weights-only one is named as such, with ``load_from`` suggested.

    Args:
        partial_load (bool): let ``load_from`` (never ``resume``) load a
            checkpoint that misses keys, has other shapes or other classes,
            on purpose (fine-tuning on other classes): matching weights are
            loaded, the rest keep their initialisation, and what did not
            fit is logged. Defaults to False.
        **kwargs: mmengine ``CheckpointHook`` arguments.
    """

    def __init__(self, *args, partial_load: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.partial_load = partial_load

    # -- saving ----------------------------------------------------------
    def _local(self) -> bool:
        return isinstance(self.file_backend, LocalBackend)

    def before_train(self, runner) -> None:
        # mmengine: restores keep_ckpt_ids and deletes those beyond
        # max_keep_ckpts (finishing deletions a kill interrupted).
        super().before_train(runner)
        if self._local() and is_main_process():
            # out_dir is usually work_dir: each file once
            stale = dict.fromkeys(
                osp.realpath(f) for f in stale_tmp_files(self.out_dir) +
                stale_tmp_files(runner.work_dir))
            for tmp in stale:
                try:
                    os.remove(tmp)
                except FileNotFoundError:  # gone meanwhile
                    continue
                runner.logger.info(
                    f'removed {tmp}: a save cut short by a kill')

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        if not self._local():  # remote out_dir: mmengine's behaviour
            return super()._save_checkpoint_with_step(runner, step, meta)
        to_delete = []
        if self.max_keep_ckpts > 0 and not (
                self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            ids = list(self.keep_ckpt_ids) + [step]
            to_delete = ids[:-self.max_keep_ckpts]
            # Recorded in the checkpoint with the ids still to delete: a
            # resume from it deletes them if a kill came first.
            runner.message_hub.update_info('keep_ckpt_ids', ids)
            self.keep_ckpt_ids = deque(ids[-self.max_keep_ckpts:],
                                       self.max_keep_ckpts)

        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir,
                                                     ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)

        def write(tmp):
            runner.save_checkpoint(
                osp.dirname(tmp),
                osp.basename(tmp),
                self.file_client_args,
                save_optimizer=self.save_optimizer,
                save_param_scheduler=self.save_param_scheduler,
                meta=meta,
                by_epoch=self.by_epoch,
                backend_args=self.backend_args,
                **self.args)

        if is_main_process():
            write_atomically(self.last_ckpt, write)
            write_text_atomically(
                osp.join(runner.work_dir, 'last_checkpoint'), self.last_ckpt)
            for old in to_delete:
                path = self.file_backend.join_path(
                    self.out_dir, self.filename_tmpl.format(old))
                if osp.isfile(path):
                    os.remove(path)
        if to_delete:
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))

    # -- loading ---------------------------------------------------------
    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        from centerx_mm.models.utils import config_classes
        resuming = bool(getattr(runner, '_resume', False))
        source = getattr(runner, '_load_from', None) or \
            'the latest checkpoint (last_checkpoint)'
        what = '--resume' if resuming else 'load_from'
        if resuming:
            problem = resumable_problem(checkpoint)
            if problem:
                raise CheckpointMismatchError(
                    f'{what} {source}: {problem}. --resume continues a '
                    'training run from a checkpoint that run wrote; to '
                    'start a new run from these weights use load_from '
                    f'(--cfg-options load_from={source}).')
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        problems = []
        mismatch = state_dict_mismatch(
            model.state_dict(), checkpoint_state_dict(checkpoint, source))
        if mismatch:
            problems.append(mismatch)
        ckpt_cls, cfg_cls = checkpoint_classes(checkpoint), config_classes(
            runner.cfg)
        if ckpt_cls and cfg_cls and ckpt_cls != cfg_cls:
            problems.append(f'it was trained on classes {list(ckpt_cls)}, '
                            f'the config names {list(cfg_cls)}')
        if not problems:
            return
        if self.partial_load and not resuming:
            runner.logger.warning(
                f'partial load of {source} (default_hooks.checkpoint.'
                'partial_load=True); what does not fit keeps its '
                'initialisation: ' + '; '.join(problems))
            return
        hint = ('' if resuming else
                ' To fine-tune from it on purpose (other classes or head), '
                'set default_hooks.checkpoint.partial_load=True.')
        raise CheckpointMismatchError(
            f'{what} {source} does not fit the model of the config: ' +
            '; '.join(problems) + '.' + hint)
