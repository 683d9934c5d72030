# Baseline "pseudo labels": each partially labelled part completed with the
# other part's teacher's boxes (score >= 0.3) by tools/pseudo_label.py, then
# trained as fully labelled. First write the two JSONs:
#   for i in 0 1; do python tools/pseudo_label.py \
#       configs/distill/mtkd-nolabel_2xr50-r18_partial_shapes.py \
#       --ann-file data/shapes/annotations/instances_train_part$i.json \
#       --img-dir data/shapes/train \
#       --out work_dirs/mt_pseudo_labels/instances_train_part${i}_pseudo.json \
#       --score-thr 0.3; done
#   python tools/train.py configs/centerx/mt_r18_pseudo_label_shapes.py
_base_ = ['./mt_r18_naive_merge_shapes.py']
pseudo_dir = 'work_dirs/mt_pseudo_labels/'
train_dataloader = dict(
    dataset=dict(datasets=[
        dict(ds,
             data_root='',
             ann_file=pseudo_dir + f'instances_train_part{i}_pseudo.json',
             data_prefix=dict(img=_base_.data_root + 'train/'))
        for i, ds in enumerate(_base_.train_dataloader.dataset.datasets)
    ]))
