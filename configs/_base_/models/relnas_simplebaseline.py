# SimpleBaseline (top-down heatmaps) on RelNASNet: the stride-32 stage (16C = 736
# channels for C=46) feeds three 4x4 deconvolutions of 256 filters (8x upsampling:
# 256x192 input -> 64x48 heatmaps) and a 1x1 conv to the 17 COCO keypoints.
# The decoder is the codec of the dataset pipeline (_base_/datasets/coco_keypoints_256x192.py).
model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(
        type='PoseDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(
        type='relnas_mm.RelNASNet',
        genotype='RelativeNAS',
        base_channels=46,
        num_cells=14,
        stem_type='imagenet',
        out_indices=(3, )),
    head=dict(
        type='HeatmapHead',
        in_channels=736,
        out_channels=17,
        deconv_out_channels=(256, 256, 256),
        deconv_kernel_sizes=(4, 4, 4),
        loss=dict(type='KeypointMSELoss', use_target_weight=True),
        decoder=dict(type='MSRAHeatmap', input_size=(192, 256), heatmap_size=(48, 64), sigma=2)),
    test_cfg=dict(flip_test=True, flip_mode='heatmap', shift_heatmap=True))

# With the published cell the reduction cells never read their first input, so
# their preprocess0 gets no gradient: DDP must allow unused parameters.
model_wrapper_cfg = dict(type='MMDistributedDataParallel', find_unused_parameters=True)
