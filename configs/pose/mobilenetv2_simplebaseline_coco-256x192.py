# The MobileNetV2 baseline of the paper's COCO keypoint table in the same framework:
# SimpleBaseline with MobileNetV2 (its last 1280-channel features, stride 32) instead
# of RelNASNet; head, data and schedule unchanged. Published: 64.9 AP.
# For an ImageNet initialisation add the backbone's init_cfg.
_base_ = './relnas_simplebaseline_coco-256x192.py'

model = dict(
    backbone=dict(_delete_=True, type='MobileNetV2', widen_factor=1., out_indices=(7, )),
    head=dict(in_channels=1280))
