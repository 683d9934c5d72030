"""CTResNetShortcutNeck: shapes, the shortcuts' effect, CTResNetNeck
compatibility of the upsampling path, errors."""
import pytest
import torch
from mmdet.models.necks import CTResNetNeck

from centerx_mm.models.necks import CTResNetShortcutNeck

STAGES = (8, 16, 32, 64)  # a tiny ResNet's C2..C5 channels


def feats(batch=2, size=64):
    return [
        torch.randn(batch, c, size // 2**(i + 2), size // 2**(i + 2))
        for i, c in enumerate(STAGES)
    ]


def make(**kwargs):
    neck = CTResNetShortcutNeck(
        in_channels=64, num_deconv_filters=(32, 16, 8),
        num_deconv_kernels=(4, 4, 4), shortcut_in_channels=(32, 16, 8),
        **kwargs)
    neck.init_weights()
    return neck.eval()


def test_stride4_output_and_shortcuts_reach_it():
    neck = make()
    x = feats()
    (out, ) = neck(x)
    assert out.shape == (2, 8, 16, 16)
    # the stride-4 backbone feature changes the output through the shortcut
    x2 = [t.clone() for t in x]
    x2[0] += 1.0
    assert not torch.allclose(neck(x2)[0], out)


def test_upsampling_path_loads_a_ctresnetneck_state():
    plain = CTResNetNeck(64, (32, 16, 8), (4, 4, 4), use_dcn=False)
    neck = make()
    missing, unexpected = neck.load_state_dict(plain.state_dict(),
                                               strict=False)
    assert unexpected == []
    assert missing and all(k.startswith('shortcuts.') for k in missing)


def test_errors_name_the_fields():
    with pytest.raises(ValueError, match='one entry per upsampling'):
        make(shortcut_convs=(1, 2))
    with pytest.raises(ValueError, match='shortcut_convs: 0'):
        make(shortcut_convs=(1, 0, 3))
    with pytest.raises(ValueError, match='out_indices'):
        make()(feats()[-2:])
