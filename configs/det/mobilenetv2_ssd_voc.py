# The MobileNetV2 baseline of the paper's VOC table in the same framework: SSDLite
# 320x320 with MobileNetV2 (features at stride 16, 96 channels, and stride 32 after the
# last 1x1 conv, 1280 channels, as the authors' baseline) instead of RelNASNet; neck,
# head, data and schedule unchanged. Published: 69.4 mAP (ImageNet-pretrained
# MobileNetV2).
_base_ = './relnas_ssd_voc.py'

# ImageNet weights: mmdet's copy of OpenMMLab's ImageNet MobileNetV2
# ('open-mmlab://mmdet/mobilenet_v2', as mmdet's own MobileNetV2 configs load it). mmdet's
# MobileNetV2 names the convolutions of its blocks (expand_conv, depthwise_conv,
# linear_conv), so the classifier file that mmseg/mmpose load does not fit it; this one
# holds the backbone's keys as they are (no prefix). mmengine downloads it once into
# torch's hub cache; offline, download it and pass --cfg-options pretrained=PATH.
pretrained = ('https://download.openmmlab.com/mmdetection/v2.0/third_party/'
              'mobilenet_v2_batch256_imagenet-ff34753d.pth')

model = dict(
    backbone=dict(
        _delete_=True,
        type='MobileNetV2',
        out_indices=(4, 7),
        norm_cfg=dict(type='BN'),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix=None)),
    neck=dict(in_channels=1280),
    bbox_head=dict(in_channels=(96, 1280, 512, 256, 256, 64)))
