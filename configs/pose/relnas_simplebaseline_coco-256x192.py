# SimpleBaseline top-down pose estimation with the RelativeNAS ImageNet network as
# backbone on COCO keypoints at 256x192, with the settings of RelativeNAS's authors
# (docs/en/downstream.md lists what differs): three 256-filter deconvolutions, Adam
# 1e-3 constant for 140 epochs, their scale/rotation augmentation, evaluated by OKS AP
# on val2017 with ground-truth person boxes, flip test and heatmap shift.
# Paper: 68.5 AP. Variants: _det-bbox (detected boxes), _lr-step (lr x0.1 at 90, 120).
_base_ = [
    '../_base_/models/relnas_simplebaseline.py', '../_base_/datasets/coco_keypoints_256x192.py',
    '../_base_/schedules/pose_adam_140e.py', '../_base_/default_runtime_pose.py'
]

# The cell: a shipped name ('RelativeNAS', 'DARTS_V2', 'PC_DARTS'), DARTS
# "Genotype(...)" text, or the best_genotype.json a search wrote. From the command
# line: --cfg-options genotype=PATH/best_genotype.json (a child config sets it too)
genotype = 'RelativeNAS'
# ImageNet weights of the backbone: a classifier checkpoint written by
# tools/convert_official.py (authors' weights) or by tools/train.py with
# configs/imagenet/relnas_imagenet_mobile.py; its 'backbone.' keys are loaded.
# Set it here, in a child config or with --cfg-options pretrained=PATH (a shortcut of
# relnas_mm's tools/train.py and tools/test.py). The upstream tools (mmdet's, mmseg's,
# mmpose's own tools/train.py, mim train) take the one key
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH
# checkpoint=None loads nothing: the RelNASNet keeps its own initialisation, and
# tools/train.py warns that the backbone is trained from scratch.
pretrained = None

model = dict(
    backbone=dict(
        genotype=genotype,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')))

default_hooks = dict(checkpoint=dict(save_best='coco/AP', rule='greater'))

# network input (height, width), read by tools/analysis/get_flops.py
input_hw = (256, 192)
