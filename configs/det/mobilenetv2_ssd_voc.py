# The MobileNetV2 baseline of the paper's VOC table in the same framework: SSDLite
# 320x320 with MobileNetV2 (features at stride 16, 96 channels, and stride 32, 1280
# channels) instead of RelNASNet; neck, head, data and schedule unchanged.
# Published: 69.4 mAP (ImageNet-pretrained MobileNetV2).
_base_ = './relnas_ssd_voc.py'

# OpenMMLab's ImageNet MobileNetV2 (mmpretrain's mobilenet-v2_8xb32_in1k, 71.86% top-1;
# mmengine's 'mmcls://mobilenet_v2'), a classifier checkpoint: its 'backbone.' keys
# fit mmdet's MobileNetV2 as they are. mmengine downloads it once into torch's hub
# cache; offline, download it and pass --cfg-options pretrained=PATH.
pretrained = ('https://download.openmmlab.com/mmclassification/v0/mobilenet_v2/'
              'mobilenet_v2_batch256_imagenet_20200708-3b2dc3af.pth')

model = dict(
    backbone=dict(
        _delete_=True,
        type='MobileNetV2',
        out_indices=(4, 7),
        norm_cfg=dict(type='BN', eps=0.001, momentum=0.03),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=(96, 1280), out_channels=(96, 1280, 512, 256, 256, 64)),
    bbox_head=dict(in_channels=(96, 1280, 512, 256, 256, 64)))
