# BiSeNetV1 with the RelativeNAS ImageNet network as context path on Cityscapes, with
# the settings of RelativeNAS's authors (docs/en/downstream.md lists what differs):
# 1024x1024 crops, 80k iterations, total batch 16, SGD lr 0.01 with an exponential
# warm-up and poly 0.9 (10x on the feature fusion module and the heads, no weight decay
# on norm layers and biases, the backbone's BN affine parameters not trained), OHEM
# loss averaged over the kept pixels; mIoU on the val set. Paper: 78.7 mIoU.
# Two test protocols, both with 1024x1024 sliding windows at a stride of 854:
#   tools/test.py CONFIG CKPT         single scale (the 2048x1024 image)
#   tools/test.py CONFIG CKPT --tta   scales 0.5-1.75, each also flipped
_base_ = [
    '../_base_/models/relnas_bisenetv1.py', '../_base_/datasets/cityscapes_1024x1024.py',
    '../_base_/schedules/seg_poly_80k.py', '../_base_/default_runtime_seg.py'
]

# The cell: a shipped name ('RelativeNAS', 'DARTS_V2', 'PC_DARTS'), DARTS
# "Genotype(...)" text, or the best_genotype.json a search wrote. From the command
# line: --cfg-options genotype=PATH/best_genotype.json (a child config sets it too)
genotype = 'RelativeNAS'
# ImageNet weights of the context path: a classifier checkpoint written by
# tools/convert_official.py (authors' weights) or by tools/train.py with
# configs/imagenet/relnas_imagenet_mobile.py; its 'backbone.' keys are loaded.
# Set it here, in a child config or with --cfg-options pretrained=PATH (a shortcut of
# relnas_mm's tools/train.py and tools/test.py). The upstream tools (mmdet's, mmseg's,
# mmpose's own tools/train.py, mim train) take the one key
#   --cfg-options model.backbone.backbone_cfg.init_cfg.checkpoint=PATH
# checkpoint=None loads nothing: the RelNASNet keeps its own initialisation, and
# tools/train.py warns that the backbone is trained from scratch.
pretrained = None

crop_size = (1024, 1024)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        backbone_cfg=dict(
            genotype=genotype,
            init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.'))))

# The authors' optimiser groups: 10x lr for the feature fusion module and the (main and
# auxiliary) heads, and no weight decay on any normalisation layer or bias, including
# those of the 10x modules (mmengine's custom_keys would give them weight decay).
optim_wrapper = dict(
    constructor='relnas_mm.LrMultOptimWrapperConstructor',
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        lr_mult_keys={
            'backbone.ffm': 10.0,
            'decode_head': 10.0,
            'auxiliary_head': 10.0
        }))

# tools/test.py --tta (mmseg's test-time augmentation): the model is wrapped in
# SegTTAModel (softmax averaged over the 12 views of tta_pipeline); each view is
# inferred by the model's sliding windows (test_cfg), smaller views zero-padded to a
# window by the data preprocessor.
tta_model = dict(type='SegTTAModel')

# network input (height, width) of get_flops's count (the whole 2048x1024 image in one
# pass), read by tools/analysis/get_flops.py
input_hw = (1024, 2048)
