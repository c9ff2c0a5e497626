# The MobileNetV2 baseline of the paper's Cityscapes table in the same framework:
# BiSeNetV1 with MobileNetV2 as context path (features at strides 4, 8, 16, 32 with
# 24, 32, 96, 320 channels) instead of RelNASNet; everything else unchanged.
# Published: 77.1 mIoU. For an ImageNet initialisation add backbone_cfg's init_cfg.
_base_ = './relnas_bisenetv1_cityscapes-1024x1024.py'

norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    backbone=dict(
        context_channels=(128, 96, 320),
        backbone_cfg=dict(
            _delete_=True,
            type='MobileNetV2',
            widen_factor=1.,
            strides=(1, 2, 2, 2, 1, 2, 1),
            dilations=(1, 1, 1, 1, 1, 1, 1),
            out_indices=(1, 2, 4, 6),
            norm_cfg=norm_cfg)))
