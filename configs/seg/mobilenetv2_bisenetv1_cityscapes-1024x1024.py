# The MobileNetV2 baseline of the paper's Cityscapes table in the same framework:
# BiSeNetV1 with MobileNetV2 as context path (features at strides 4, 8, 16, 32 with
# 24, 32, 96, 320 channels) instead of RelNASNet; everything else unchanged.
# Published: 77.1 mIoU (ImageNet-pretrained MobileNetV2).
_base_ = './relnas_bisenetv1_cityscapes-1024x1024.py'

# ImageNet weights: OpenMMLab's ImageNet MobileNetV2 classifier (mmpretrain's
# mobilenet-v2_8xb32_in1k, 71.86% top-1; mmengine's 'mmcls://mobilenet_v2'): its
# 'backbone.' keys fit mmseg's MobileNetV2 as they are. mmseg's MobileNetV2 stops
# before the classifier's last 1x1 conv: the checkpoint's conv2.* keys are not loaded
# (mmengine lists them as unexpected). mmengine downloads the file once into torch's
# hub cache; offline, download it and pass --cfg-options pretrained=PATH.
pretrained = ('https://download.openmmlab.com/mmclassification/v0/mobilenet_v2/'
              'mobilenet_v2_batch256_imagenet_20200708-3b2dc3af.pth')

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
            norm_cfg=norm_cfg,
            init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.'))))
