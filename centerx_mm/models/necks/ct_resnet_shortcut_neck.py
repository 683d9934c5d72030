from typing import Sequence, Tuple

import torch.nn as nn
from mmcv.cnn import ConvModule
from mmdet.models.necks import CTResNetNeck
from torch import Tensor

from centerx_mm.registry import MODELS


@MODELS.register_module()
class CTResNetShortcutNeck(CTResNetNeck):
    """mmdet's ``CTResNetNeck`` (3x [3x3 conv, 4x4 deconv], stride 32 -> 4)
    plus TTFNet's shortcuts (Liu et al., AAAI 2020, "shortcut connections"):
    after each 2x upsampling, the backbone feature of the same stride is
    added through ``shortcut_convs[i]`` 3x3 conv-BN(-ReLU) layers.

    Without the shortcuts every detail of a small object has to pass the
    stride-32 bottleneck; with them the stride-4 map sees the stride-4/8/16
    backbone features directly, which is why TTFNet converges in 12 COCO
    epochs from ImageNet weights and why a randomly initialised CenterX
    learns much faster here (docs/experiments.md, "Fast training").

    The upsampling path keeps ``CTResNetNeck``'s parameter names and init,
    so an mmdet CenterNet checkpoint loads into it (shortcuts excepted).

    Args:
        in_channels (int): channels of the last backbone stage (C5).
        num_deconv_filters (tuple[int]): channels after each upsampling.
        num_deconv_kernels (tuple[int]): deconv kernel sizes.
        shortcut_in_channels (tuple[int]): channels of the backbone stages
            added after upsampling 1, 2, 3 (C4, C3, C2), e.g. (256, 128, 64)
            for ResNet-18.
        shortcut_convs (tuple[int]): conv layers of each shortcut, TTFNet's
            (1, 2, 3).
        use_dcn (bool): DCNv2 in the upsampling path (not exportable).
    """

    def __init__(self,
                 in_channels: int,
                 num_deconv_filters: Tuple[int, ...],
                 num_deconv_kernels: Tuple[int, ...],
                 shortcut_in_channels: Tuple[int, ...],
                 shortcut_convs: Tuple[int, ...] = (1, 2, 3),
                 use_dcn: bool = False,
                 init_cfg=None) -> None:
        super().__init__(in_channels, num_deconv_filters, num_deconv_kernels,
                         use_dcn, init_cfg)
        if not (len(shortcut_in_channels) == len(shortcut_convs) ==
                len(num_deconv_filters)):
            raise ValueError(
                'CTResNetShortcutNeck: shortcut_in_channels '
                f'{tuple(shortcut_in_channels)}, shortcut_convs '
                f'{tuple(shortcut_convs)} and num_deconv_filters '
                f'{tuple(num_deconv_filters)} need one entry per upsampling')
        self.shortcuts = nn.ModuleList()
        for cin, cout, num in zip(shortcut_in_channels, num_deconv_filters,
                                  shortcut_convs):
            if num < 1:
                raise ValueError(
                    f'CTResNetShortcutNeck.shortcut_convs: {num} < 1')
            layers = [
                ConvModule(
                    cin if i == 0 else cout,
                    cout,
                    3,
                    padding=1,
                    norm_cfg=dict(type='BN'),
                    act_cfg=dict(type='ReLU') if i < num - 1 else None)
                for i in range(num)
            ]
            self.shortcuts.append(nn.Sequential(*layers))

    def forward(self, x: Sequence[Tensor]) -> Tuple[Tensor]:
        """Args: x: backbone stages, coarsest last: (..., C2, C3, C4, C5).

        Returns:
            tuple[Tensor]: the stride-4 map (B, num_deconv_filters[-1],
            H / 4, W / 4).
        """
        if len(x) < len(self.shortcuts) + 1:
            raise ValueError(
                f'CTResNetShortcutNeck needs {len(self.shortcuts) + 1} '
                f'backbone stages, got {len(x)}: set the backbone\'s '
                'out_indices=(0, 1, 2, 3)')
        out = x[-1]
        for i, shortcut in enumerate(self.shortcuts):
            out = self.deconv_layers[2 * i + 1](self.deconv_layers[2 * i](out))
            out = out + shortcut(x[-2 - i])
        return out,
