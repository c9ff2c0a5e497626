# The MobileNetV2 baseline of the paper's COCO keypoint table in the same framework:
# SimpleBaseline with MobileNetV2 (its last 1280-channel features, stride 32) instead
# of RelNASNet; head, data and schedule unchanged. Published: 64.9 AP
# (ImageNet-pretrained MobileNetV2).
_base_ = './relnas_simplebaseline_coco-256x192.py'

# ImageNet weights: OpenMMLab's ImageNet MobileNetV2 classifier (mmpretrain's
# mobilenet-v2_8xb32_in1k, 71.86% top-1; mmpose's own MobileNetV2 configs load it as
# 'mmcls://mobilenet_v2'): its 'backbone.' keys fit mmpose's MobileNetV2 as they are.
# mmengine downloads it once into torch's hub cache; offline, download it and pass
# --cfg-options pretrained=PATH.
pretrained = ('https://download.openmmlab.com/mmclassification/v0/mobilenet_v2/'
              'mobilenet_v2_batch256_imagenet_20200708-3b2dc3af.pth')

model = dict(
    backbone=dict(
        _delete_=True,
        type='MobileNetV2',
        widen_factor=1.,
        out_indices=(7, ),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    head=dict(in_channels=1280))
