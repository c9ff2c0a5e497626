# SSDLite (320x320) on RelNASNet, built as RelativeNAS's authors build it
# (EMI-Group/TransferLearning-Tasks, SSDLite/vision/ssd/ssd_mobile.py and
# config/ssdlite_config.py): the stride-16 (8C = 368 channels) and stride-32 (16C = 736
# channels) stages feed the heads, and relnas_mm.SSDLiteNeck appends four stride-2
# inverted residuals (512, 256, 256, 64 channels; expansion 0.2, 0.25, 0.5, 0.25;
# linear projection). Depthwise-separable heads with ReLU6 and PyTorch-default BN;
# input (x - 127) / 128; the authors' anchors (sizes 60/105 ... 285/330, centres on
# their 20, 10, 5, 3, 2, 1 grids) and test rule (score > 0.01, the best 200 boxes per
# class, NMS 0.45, no cap per image). relnas_mm.SSDHeadFixed is mmdet's SSDHead with
# the attribute mmdet 3.3.0's prediction path reads and that per-class cap
# (relnas_mm/downstream/ssd_head.py).
norm_cfg = dict(type='BN')
feat_channels = (368, 736, 512, 256, 256, 64)
num_classes = 20
data_preprocessor = dict(
    type='DetDataPreprocessor',
    mean=[127.0, 127.0, 127.0],
    std=[128.0, 128.0, 128.0],
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
        type='relnas_mm.SSDLiteNeck',
        in_channels=feat_channels[1],
        out_channels=feat_channels[2:],
        expand_ratios=(0.2, 0.25, 0.5, 0.25),
        norm_cfg=norm_cfg,
        act_cfg=dict(type='ReLU6')),
    bbox_head=dict(
        type='relnas_mm.SSDHeadFixed',
        in_channels=feat_channels,
        num_classes=num_classes,
        use_depthwise=True,
        norm_cfg=norm_cfg,
        act_cfg=dict(type='ReLU6'),
        # the authors' priors: 320 / 16, 32, 64, 100, 150, 300 puts the centres of the
        # 20, 10, 5, 3, 2, 1 grids where theirs are (3x3: 50, 150, 250 pixels); per
        # cell the min-size square, the sqrt(min * max) square and ratios 2 and 3; none
        # wider or taller than the 320-pixel input (their clamp)
        anchor_generator=dict(
            type='relnas_mm.ClampedSSDAnchorGenerator',
            clamp_size=320,
            scale_major=False,
            strides=[16, 32, 64, 100, 150, 300],
            ratios=[[2, 3], [2, 3], [2, 3], [2, 3], [2, 3], [2, 3]],
            min_sizes=[60, 105, 150, 195, 240, 285],
            max_sizes=[105, 150, 195, 240, 285, 330]),
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
    # no cap before the per-class one: nms_pre covers every (anchor, class) pair of the
    # largest level (20 x 20 x 6 anchors x 20 classes), max_per_img every kept box
    test_cfg=dict(
        score_thr=0.01,
        candidates_per_class=200,
        nms=dict(type='nms', iou_threshold=0.45),
        nms_pre=20 * 20 * 6 * num_classes,
        max_per_img=200 * num_classes,
        min_bbox_size=-1))

# With the published cell the reduction cells never read their first input, so
# their preprocess0 gets no gradient: DDP must allow unused parameters.
model_wrapper_cfg = dict(type='MMDistributedDataParallel', find_unused_parameters=True)
