# The MobileNetV2 baseline of the paper's VOC table in the same framework: SSDLite
# 320x320 with MobileNetV2 (features at stride 16, 96 channels, and stride 32, 1280
# channels) instead of RelNASNet; neck, head, data and schedule unchanged.
# Published: 69.4 mAP. For an ImageNet initialisation add the backbone's init_cfg.
_base_ = './relnas_ssd_voc.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='MobileNetV2',
        out_indices=(4, 7),
        norm_cfg=dict(type='BN', eps=0.001, momentum=0.03),
        init_cfg=dict(type='TruncNormal', layer='Conv2d', std=0.03)),
    neck=dict(in_channels=(96, 1280), out_channels=(96, 1280, 512, 256, 256, 64)),
    bbox_head=dict(in_channels=(96, 1280, 512, 256, 256, 64)))
