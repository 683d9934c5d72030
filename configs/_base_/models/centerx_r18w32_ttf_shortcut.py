_base_ = './centerx_r18w32_ttf.py'
# Half-width CenterX R18, TTF head (CenterXTTFHead) and TTFNet's neck
# shortcuts (CTResNetShortcutNeck).
model = dict(
    backbone=dict(out_indices=(0, 1, 2, 3)),
    neck=dict(
        type='CTResNetShortcutNeck',
        shortcut_in_channels=(128, 64, 32),
        shortcut_convs=(1, 2, 3)))
