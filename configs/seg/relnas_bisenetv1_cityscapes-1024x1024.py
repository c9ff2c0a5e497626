# BiSeNetV1 with the RelativeNAS ImageNet network as context path on Cityscapes:
# 1024x1024 crops, 80k iterations, total batch 16, SGD lr 0.01 poly 0.9, OHEM,
# evaluated by mIoU on the val set. Paper: 78.7 mIoU.
_base_ = [
    '../_base_/models/relnas_bisenetv1.py', '../_base_/datasets/cityscapes_1024x1024.py',
    '../_base_/schedules/seg_poly_80k.py', '../_base_/default_runtime_seg.py'
]

# The cell: a shipped name ('RelativeNAS', 'DARTS_V2', 'PC_DARTS'), DARTS
# "Genotype(...)" text, or the best_genotype.json a search wrote. From the command
# line: --cfg-options model.backbone.backbone_cfg.genotype=PATH/best_genotype.json
genotype = 'RelativeNAS'
# ImageNet weights of the context path: a classifier checkpoint written by
# tools/convert_official.py (authors' weights) or by tools/train.py with
# configs/imagenet/relnas_imagenet_mobile.py; its 'backbone.' keys are loaded.
pretrained = None

crop_size = (1024, 1024)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        backbone_cfg=dict(
            genotype=genotype,
            init_cfg=None if pretrained is None else dict(
                type='Pretrained', checkpoint=pretrained, prefix='backbone.'))))

# network input (height, width) at test time (whole 2048x1024 image), read by
# tools/analysis/get_flops.py
input_hw = (1024, 2048)
