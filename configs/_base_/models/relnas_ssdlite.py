# SSDLite (320x320) on RelNASNet: the stride-16 (8C = 368 channels) and stride-32
# (16C = 736 channels) stages feed the heads, and mmdet's SSDNeck adds four extra
# depthwise (inverted-residual style) layers with 512, 256, 256 and 64 channels.
# Depthwise-separable heads, ReLU6 and BN(eps=1e-3, momentum=0.03) as in mmdet's
# ssdlite_mobilenetv2 config. relnas_mm.SSDHeadFixed is mmdet's SSDHead with the
# attribute that mmdet 3.3.0's prediction path reads (see relnas_mm/downstream).
norm_cfg = dict(type='BN', eps=0.001, momentum=0.03)
feat_channels = (368, 736, 512, 256, 256, 64)
data_preprocessor = dict(
    type='DetDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_size_divisor=1)
model = dict(
    type='SingleStageDetector',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='relnas_mm.RelNASNet',
        genotype='RelativeNAS',
        base_channels=46,
        num_cells=14,
        stem_type='imagenet',
        out_indices=(2, 3)),
    neck=dict(
        type='SSDNeck',
        in_channels=feat_channels[:2],
        out_channels=feat_channels,
        level_strides=(2, 2, 2, 2),
        level_paddings=(1, 1, 1, 1),
        l2_norm_scale=None,
        use_depthwise=True,
        norm_cfg=norm_cfg,
        act_cfg=dict(type='ReLU6'),
        init_cfg=dict(type='TruncNormal', layer='Conv2d', std=0.03)),
    bbox_head=dict(
        type='relnas_mm.SSDHeadFixed',
        in_channels=feat_channels,
        num_classes=20,
        use_depthwise=True,
        norm_cfg=norm_cfg,
        act_cfg=dict(type='ReLU6'),
        init_cfg=dict(type='Normal', layer='Conv2d', std=0.001),
        # SSDLite-320 anchors (feature maps 20, 10, 5, 3, 2, 1)
        anchor_generator=dict(
            type='SSDAnchorGenerator',
            scale_major=False,
            strides=[16, 32, 64, 107, 160, 320],
            ratios=[[2, 3], [2, 3], [2, 3], [2, 3], [2, 3], [2, 3]],
            min_sizes=[48, 100, 150, 202, 253, 304],
            max_sizes=[100, 150, 202, 253, 304, 320]),
        bbox_coder=dict(
            type='DeltaXYWHBBoxCoder',
            target_means=[.0, .0, .0, .0],
            target_stds=[0.1, 0.1, 0.2, 0.2])),
    train_cfg=dict(
        assigner=dict(
            type='MaxIoUAssigner',
            pos_iou_thr=0.5,
            neg_iou_thr=0.5,
            min_pos_iou=0.,
            ignore_iof_thr=-1,
            gt_max_assign_all=False),
        sampler=dict(type='PseudoSampler'),
        smoothl1_beta=1.,
        allowed_border=-1,
        pos_weight=-1,
        neg_pos_ratio=3,
        debug=False),
    test_cfg=dict(
        nms_pre=1000,
        nms=dict(type='nms', iou_threshold=0.45),
        min_bbox_size=0,
        score_thr=0.02,
        max_per_img=200))

# With the published cell the reduction cells never read their first input, so
# their preprocess0 gets no gradient: DDP must allow unused parameters.
model_wrapper_cfg = dict(type='MMDistributedDataParallel', find_unused_parameters=True)
