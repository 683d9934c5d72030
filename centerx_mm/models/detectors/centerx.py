import os.path as osp
from typing import Tuple

from mmdet.models.detectors.single_stage import SingleStageDetector
from mmdet.models.utils import unpack_gt_instances
from mmdet.structures import SampleList
from torch import Tensor

from centerx_mm.registry import MODELS


def _pretrained_files(cfg, path: str):
    """``(field, checkpoint)`` of every ``Pretrained`` ``init_cfg`` (and
    mmdet's deprecated ``pretrained=``) anywhere inside ``cfg``."""
    if isinstance(cfg, (list, tuple)):
        for i, item in enumerate(cfg):
            yield from _pretrained_files(item, f'{path}[{i}]')
        return
    if not isinstance(cfg, dict):
        return
    if isinstance(cfg.get('pretrained'), str):
        yield f'{path}.pretrained', cfg['pretrained']
    if cfg.get('type') == 'Pretrained' and 'checkpoint' in cfg:
        yield f'{path}.checkpoint', str(cfg['checkpoint'])
    for key, value in cfg.items():
        if isinstance(value, (dict, list, tuple)):
            yield from _pretrained_files(value, f'{path}.{key}')


def check_pretrained_files(module_cfgs: dict) -> None:
    """Fail at build time, naming the field, when a ``Pretrained`` init_cfg
    at any level (detector, backbone, neck, head, nested) names a remote
    URL (never downloaded) or a local file that does not exist."""
    for field, ckpt in _pretrained_files(module_cfgs, 'model'):
        if '://' in ckpt:
            raise ValueError(
                f'{field}={ckpt!r}: centerx_mm never downloads weights; give '
                'a local file path, or remove the init_cfg to train from '
                'random init.')
        if not osp.isfile(osp.expanduser(ckpt)):
            raise FileNotFoundError(
                f'{field}: file not found: {ckpt} (ImageNet weights are '
                'optional: remove the init_cfg to train from random init).')


@MODELS.register_module()
class CenterX(SingleStageDetector):
    """CenterNet detector: backbone (mmdet ``ResNet``) -> upsampling neck
    (mmdet ``CTResNetNeck``, stride 4) -> :class:`CenterXHead`.

    ``forward(mode='tensor')`` returns the raw head maps
    ``(heatmap_logits, wh, offset)``, which distillation and export use.
    A ``Pretrained`` ``init_cfg`` at any level must name an existing local
    file (checked when the model is built).
    """

    def __init__(self, backbone: dict, neck: dict, bbox_head: dict,
                 **kwargs) -> None:
        check_pretrained_files(
            dict(backbone=backbone, neck=neck, bbox_head=bbox_head,
                 init_cfg=kwargs.get('init_cfg')))
        super().__init__(
            backbone=backbone, neck=neck, bbox_head=bbox_head, **kwargs)

    def gt_losses(self, head_outs: Tuple[Tensor, Tensor, Tensor],
                  batch_data_samples: SampleList) -> dict:
        """GT losses of already computed head maps ``(heatmap_logits, wh,
        offset)``: the distillers reuse the student's forward for KD."""
        gt_instances, gt_ignore, img_metas = unpack_gt_instances(
            batch_data_samples)
        return self.bbox_head.loss_by_feat(*head_outs, gt_instances,
                                           img_metas, gt_ignore)
