# The MobileNetV2 baseline of the paper's COCO keypoint table in the same framework:
# SimpleBaseline with MobileNetV2 (its last 1280-channel features, stride 32) instead
# of RelNASNet; head, data and schedule unchanged. Published: 64.9 AP
# (ImageNet-pretrained MobileNetV2).
_base_ = './relnas_simplebaseline_coco-256x192.py'

# OpenMMLab's ImageNet MobileNetV2 (as in configs/det/mobilenetv2_ssd_voc.py; mmpose's
# own MobileNetV2 configs load it as 'mmcls://mobilenet_v2').
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
