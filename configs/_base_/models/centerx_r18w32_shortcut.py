_base_ = './centerx_r18w32.py'
# Half-width CenterX R18 whose neck adds TTFNet's shortcuts from the
# stride-16/8/4 backbone stages (CTResNetShortcutNeck).
model = dict(
    backbone=dict(out_indices=(0, 1, 2, 3)),
    neck=dict(
        type='CTResNetShortcutNeck',
        shortcut_in_channels=(128, 64, 32),
        shortcut_convs=(1, 2, 3)))
