# COCO person keypoints, top-down at 256x192. Layout (data_root = the coco folder):
#   annotations/person_keypoints_{train,val}2017.json, train2017/, val2017/
# Training augmentation of RelativeNAS's authors (EMI-Group/TransferLearning-Tasks,
# Simplebaseline/lib/dataset/JointsDataset.py): flip, box scale clip(N(1, 0.3), 0.7,
# 1.3), rotation clip(N(0, 40), -80, 80) degrees with probability 0.6; no half-body
# crops and no shift. Evaluated as theirs on the ground-truth person boxes of val2017
# (TEST.USE_GT_BBOX: true) by mmpose's CocoMetric (OKS AP); a child config with
# bbox_file set uses detected boxes.
dataset_type = 'CocoDataset'
data_mode = 'topdown'
data_root = 'data/coco/'
codec = dict(type='MSRAHeatmap', input_size=(192, 256), heatmap_size=(48, 64), sigma=2)

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal', prob=0.5),
    dict(
        type='relnas_mm.RandomScaleRotate',
        scale_sigma=0.3,
        scale_range=(0.7, 1.3),
        rotate_sigma=40.0,
        rotate_limit=80.0,
        rotate_prob=0.6),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs')
]
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='PackPoseInputs')
]

train_dataloader = dict(
    batch_size=32,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_mode=data_mode,
        ann_file='annotations/person_keypoints_train2017.json',
        data_prefix=dict(img='train2017/'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=32,
    num_workers=4,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_mode=data_mode,
        ann_file='annotations/person_keypoints_val2017.json',
        # None: mmpose's CocoDataset takes each annotated person's box
        bbox_file=None,
        data_prefix=dict(img='val2017/'),
        test_mode=True,
        pipeline=val_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(
    type='CocoMetric', ann_file=data_root + 'annotations/person_keypoints_val2017.json')
test_evaluator = val_evaluator
