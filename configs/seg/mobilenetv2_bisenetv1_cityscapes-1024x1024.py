# The MobileNetV2 baseline of the paper's Cityscapes table in the same framework:
# BiSeNetV1 with MobileNetV2 as context path instead of RelNASNet, reading the features
# the authors' MobileNetV2 context path reads: stride 16 (96 channels) and stride 32
# after the last 1x1 conv (1280 channels). mmseg's MobileNetV2 stops before that conv,
# so this is mmpose's ('mmpose.MobileNetV2': mmengine imports mmpose's models when
# the model is built; the same ImageNet layout, conv2 included). Like the authors',
# its BN is per-GPU with affine parameters that are not trained. Everything else
# unchanged. Published: 77.1 mIoU (ImageNet-pretrained MobileNetV2).
_base_ = './relnas_bisenetv1_cityscapes-1024x1024.py'

# ImageNet weights: OpenMMLab's ImageNet MobileNetV2 classifier (mmpretrain's
# mobilenet-v2_8xb32_in1k, 71.86% top-1; mmengine's 'mmcls://mobilenet_v2'): its
# 'backbone.' keys, the last 1x1 conv (conv2.*) included, fit mmpose's MobileNetV2 as
# they are. mmengine downloads the file once into torch's hub cache; offline, download
# it and pass --cfg-options pretrained=PATH.
pretrained = ('https://download.openmmlab.com/mmclassification/v0/mobilenet_v2/'
              'mobilenet_v2_batch256_imagenet_20200708-3b2dc3af.pth')

model = dict(
    backbone=dict(
        context_channels=(128, 96, 1280),
        backbone_cfg=dict(
            _delete_=True,
            type='mmpose.MobileNetV2',
            widen_factor=1.,
            out_indices=(4, 7),
            norm_cfg=dict(type='BN'),
            init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.'))))
