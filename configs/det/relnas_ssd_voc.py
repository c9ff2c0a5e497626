# SSDLite 320x320 with the RelativeNAS ImageNet network as backbone on PASCAL VOC:
# train VOC07+12 trainval, test VOC07 test (11-point mAP). 200 epochs, total batch
# 32, SGD 0.01 cosine, weight decay 5e-4. Paper: 73.1 mAP.
_base_ = [
    '../_base_/models/relnas_ssdlite.py', '../_base_/datasets/voc0712_ssd320.py',
    '../_base_/schedules/ssd_sgd_cosine_200e.py', '../_base_/default_runtime_det.py'
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
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    bbox_head=dict(num_classes=20))

custom_hooks = [
    dict(type='NumClassCheckHook'),
    dict(type='CheckInvalidLossHook', interval=50, priority='VERY_LOW')
]

# network input (height, width) at test time, read by tools/analysis/get_flops.py
input_hw = (320, 320)
