# Baseline "pseudo labels" on the fast-training recipe: each partially
# labelled half completed with the other half's teacher's boxes (score >= 0.3)
# by tools/pseudo_label.py, then trained as fully labelled (no
# `annotated_labels`). First write the two JSONs:
#   for i in 0 1; do python tools/pseudo_label.py \
#       configs/distill/mtkd-nolabel_2xr18w32-r18w32_ttf_1k_partial_shapes800.py \
#       --ann-file data/shapes_800/annotations/instances_train_part$i.json \
#       --img-dir data/shapes_800/train \
#       --out work_dirs/mt_pseudo_labels_ttf/instances_train_part${i}_pseudo.json \
#       --score-thr 0.3; done
#   python tools/train.py configs/centerx_ttf/centerx-ttf_r18w32_1k_partial-pseudo_shapes800.py --amp
_base_ = ['./centerx-ttf_r18w32_1k_partial-ignore_shapes800.py']
pseudo_dir = 'work_dirs/mt_pseudo_labels_ttf/'
train_dataloader = dict(
    dataset=dict(datasets=[
        # shapes.py's pipeline: PackDetInputs with mmdet's default meta_keys
        dict(ds,
             data_root='',
             ann_file=pseudo_dir + f'instances_train_part{i}_pseudo.json',
             data_prefix=dict(img=_base_.data_root + 'train/'),
             pipeline=_base_.train_pipeline)
        for i, ds in enumerate(_base_.train_dataloader.dataset.datasets)
    ]))
