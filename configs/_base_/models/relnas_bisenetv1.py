# BiSeNetV1 with RelNASNet as the context path, built as RelativeNAS's authors build it
# (EMI-Group/TransferLearning-Tasks, BiSeNet/BiSeNet.py): relnas_mm.BiSeNetV1 reads the
# backbone's stride-16 and stride-32 stages (368 and 736 channels for C=46) and refines
# them with attention modules of context_channels[0] = 128 channels; a spatial path
# (64, 64, 64, 128 channels, stride 8) and an SE-style feature fusion module
# (128 + 128 -> 256) complete it. Every conv-norm block, there and in the heads, uses
# synchronised BN and LeakyReLU(0.01) (the authors' InPlaceABNSync); mmseg's own
# BiSeNetV1 ignores norm_cfg in these modules. The backbone keeps per-GPU BN whose
# affine parameters are never trained (relnas_mm.BiSeNetV1's backbone_norm_trainable).
# The heads are the authors' BiSeNetOutput: a 3x3 conv-norm-act and a 1x1 classifier,
# no dropout, logits upsampled with align_corners=True.
# Online hard example mining on the main and auxiliary heads, as BiSeNet's authors
# train: per image the pixels with ground-truth probability below 0.7, at least 1/16
# of the labelled pixels, and the loss is averaged over the pixels kept
# (relnas_mm.OHEMCrossEntropyLoss; mmseg's OHEMPixelSampler divides by all pixels).
norm_cfg = dict(type='SyncBN', requires_grad=True)
act_cfg = dict(type='LeakyReLU', negative_slope=0.01)
ohem_loss = dict(
    type='relnas_mm.OHEMCrossEntropyLoss', thresh=0.7, min_kept_ratio=1 / 16, loss_weight=1.0)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    # test images smaller than a window are zero-padded (after normalisation) to it,
    # as the authors' sliding-window test pads them
    test_cfg=dict(size=(1024, 1024)))
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='relnas_mm.BiSeNetV1',
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
            out_indices=(2, 3)),
        norm_cfg=norm_cfg,
        act_cfg=act_cfg,
        backbone_norm_trainable=False,
        init_cfg=None),
    decode_head=dict(
        type='FCNHead',
        in_channels=256,
        in_index=0,
        channels=256,
        num_convs=1,
        concat_input=False,
        dropout_ratio=0.0,
        num_classes=19,
        norm_cfg=norm_cfg,
        act_cfg=act_cfg,
        align_corners=True,
        loss_decode=ohem_loss),
    auxiliary_head=[
        dict(
            type='FCNHead',
            in_channels=128,
            channels=64,
            num_convs=1,
            num_classes=19,
            in_index=i,
            dropout_ratio=0.0,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg,
            concat_input=False,
            align_corners=True,
            loss_decode=ohem_loss) for i in (1, 2)
    ],
    train_cfg=dict(),
    # the authors' single-scale test: 1024x1024 windows, stride ceil(1024 * 5 / 6) = 854
    test_cfg=dict(mode='slide', crop_size=(1024, 1024), stride=(854, 854)))

# With the published cell the reduction cells never read their first input, so
# their preprocess0 gets no gradient: DDP must allow unused parameters.
model_wrapper_cfg = dict(type='MMDistributedDataParallel', find_unused_parameters=True)
