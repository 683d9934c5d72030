# mmdet's CenterNet schedule: 28 epochs x RepeatDataset(5) = 140 epochs,
# SGD lr 0.02 for 8 GPUs x 16 images, steps at 90 and 120 epochs.
max_epochs = 28
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001),
    clip_grad=dict(max_norm=35, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
         end=1000),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_epochs,
        by_epoch=True,
        milestones=[18, 24],
        gamma=0.1)
]
auto_scale_lr = dict(enable=False, base_batch_size=128)
