# BiSeNetV1 with RelNASNet as the context path. mmseg's ContextPath reads four
# backbone features (strides 4, 8, 16, 32: 46, 184, 368, 736 channels for C=46) and
# refines the stride-16 and stride-32 ones with attention modules of
# context_channels[0] = 128 channels. relnas_mm.BiSeNetV1AnyContext is mmseg's
# BiSeNetV1 whose feature fusion module takes spatial_channels[-1] +
# context_channels[0] (128 + 128) channels, as in the BiSeNet paper; mmseg's own
# class ties it to context_channels[1], the backbone's stride-16 width.
# Online hard example mining on the main and auxiliary heads, as BiSeNet's authors
# train: per image the pixels with ground-truth probability below 0.7, at least 1/16
# of the labelled pixels, and the loss is averaged over the pixels kept
# (relnas_mm.OHEMCrossEntropyLoss; mmseg's OHEMPixelSampler divides by all pixels).
norm_cfg = dict(type='SyncBN', requires_grad=True)
ohem_loss = dict(
    type='relnas_mm.OHEMCrossEntropyLoss', thresh=0.7, min_kept_ratio=1 / 16, loss_weight=1.0)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='relnas_mm.BiSeNetV1AnyContext',
        in_channels=3,
        context_channels=(128, 368, 736),
        spatial_channels=(64, 64, 64, 128),
        out_indices=(0, 1, 2),
        out_channels=256,
        backbone_cfg=dict(
            type='relnas_mm.RelNASNet',
            genotype='RelativeNAS',
            base_channels=46,
            num_cells=14,
            stem_type='imagenet',
            out_indices=(0, 1, 2, 3),
            norm_cfg=norm_cfg),
        norm_cfg=norm_cfg,
        align_corners=False,
        init_cfg=None),
    decode_head=dict(
        type='FCNHead',
        in_channels=256,
        in_index=0,
        channels=256,
        num_convs=1,
        concat_input=False,
        dropout_ratio=0.1,
        num_classes=19,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=ohem_loss),
    auxiliary_head=[
        dict(
            type='FCNHead',
            in_channels=128,
            channels=64,
            num_convs=1,
            num_classes=19,
            in_index=1,
            norm_cfg=norm_cfg,
            concat_input=False,
            align_corners=False,
            loss_decode=ohem_loss),
        dict(
            type='FCNHead',
            in_channels=128,
            channels=64,
            num_convs=1,
            num_classes=19,
            in_index=2,
            norm_cfg=norm_cfg,
            concat_input=False,
            align_corners=False,
            loss_decode=ohem_loss),
    ],
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

# With the published cell the reduction cells never read their first input, so
# their preprocess0 gets no gradient: DDP must allow unused parameters.
model_wrapper_cfg = dict(type='MMDistributedDataParallel', find_unused_parameters=True)
