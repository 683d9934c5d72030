from mmengine.hooks import Hook
from mmengine.model import BaseTTAModel, is_model_wrapper

from centerx_mm.registry import HOOKS


@HOOKS.register_module()
class NumClassesCheckHook(Hook):
    """Before training/validation/testing, check that the detector's
    ``bbox_head.num_classes`` equals the number of dataset classes, and fail
    with a message naming both (mmdet's ``NumClassCheckHook`` would also
    inspect teachers, which may legitimately have other classes).

    ``configs/_base_/default_runtime.py`` registers it in ``default_hooks``
    (key ``num_classes_check``), so a config's own ``custom_hooks`` list does
    not drop it.
    """

    def _check(self, runner, dataloader, phase: str) -> None:
        model = runner.model
        # DDP wrappers and the TTA model (tools/test.py --tta) hold the
        # detector in `.module`
        while is_model_wrapper(model) or isinstance(model, BaseTTAModel):
            model = model.module
        head = getattr(model, 'bbox_head', None)
        dataset = getattr(dataloader, 'dataset', None)
        classes = getattr(dataset, 'metainfo', {}).get('classes')
        if head is None or classes is None:
            return
        if head.num_classes != len(classes):
            raise ValueError(
                f'model.bbox_head.num_classes={head.num_classes} but the '
                f'{phase} dataset ({type(dataset).__name__}, ann_file='
                f'{getattr(dataset, "ann_file", "?")}) has {len(classes)} '
                f'classes {tuple(classes)}: set model.bbox_head.num_classes='
                f'{len(classes)} or fix metainfo.classes.')

    def before_train(self, runner) -> None:
        self._check(runner, runner.train_dataloader, 'train')

    def before_val(self, runner) -> None:
        self._check(runner, runner.val_dataloader, 'val')

    def before_test(self, runner) -> None:
        self._check(runner, runner.test_dataloader, 'test')
