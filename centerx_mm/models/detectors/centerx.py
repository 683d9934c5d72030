import os.path as osp
from typing import Tuple

from mmdet.models.detectors.single_stage import SingleStageDetector
from mmdet.models.utils import unpack_gt_instances
from mmdet.structures import SampleList
from torch import Tensor

from centerx_mm.registry import MODELS


def check_pretrained_files(module_cfgs: dict) -> None:
    """Fail at build time, naming the field, when a ``Pretrained`` init_cfg
    points at a local file that does not exist (nothing is downloaded)."""
    for name, cfg in module_cfgs.items():
        init_cfg = (cfg or {}).get('init_cfg')
        for item in init_cfg if isinstance(init_cfg, list) else [init_cfg]:
            if not item or item.get('type') != 'Pretrained':
                continue
            ckpt = str(item.get('checkpoint', ''))
            if '://' in ckpt:
                raise ValueError(
                    f'{name}.init_cfg.checkpoint={ckpt!r}: centerx_mm never '
                    'downloads weights; give a local file path, or remove '
                    f'{name}.init_cfg to train from random init.')
            if not osp.isfile(osp.expanduser(ckpt)):
                raise FileNotFoundError(
                    f'{name}.init_cfg.checkpoint: file not found: {ckpt} '
                    '(ImageNet weights are optional: remove init_cfg to '
                    'train from random init).')


@MODELS.register_module()
class CenterX(SingleStageDetector):
    """CenterNet detector: backbone (mmdet ``ResNet``) -> upsampling neck
    (mmdet ``CTResNetNeck``, stride 4) -> :class:`CenterXHead`.

    ``forward(mode='tensor')`` returns the raw head maps
    ``(heatmap_logits, wh, offset)``, which distillation and export use.
    A ``Pretrained`` backbone/neck ``init_cfg`` must name an existing local
    file (checked when the model is built).
    """

    def __init__(self, backbone: dict, neck: dict, bbox_head: dict,
                 **kwargs) -> None:
        check_pretrained_files(dict(backbone=backbone, neck=neck))
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
