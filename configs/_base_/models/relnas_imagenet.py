# The ImageNet network of DARTS / RelativeNAS (mobile setting): two stride-2 stems,
# 14 cells with C=46 (reductions at cells 4 and 9), auxiliary head (weight 0.4) on
# cell 9, label smoothing 0.1. 5,050,029 parameters with the RelativeNAS cell
# (auxiliary head excluded). Inputs: RGB 0..255, normalised with ImageNet's mean/std.
model = dict(
    type='relnas_mm.RelNASClassifier',
    backbone=dict(
        type='relnas_mm.RelNASNet',
        genotype='RelativeNAS',
        base_channels=46,
        num_cells=14,
        stem_type='imagenet',
        out_indices=(3, ),
        drop_path_rate=0.0),
    num_classes=1000,
    auxiliary_weight=0.4,
    label_smoothing=0.1,
    data_preprocessor=dict(
        type='ImgDataPreprocessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375]))

# With the published cell the reduction cells never read their first input, so
# their preprocess0 gets no gradient: DDP must allow unused parameters.
model_wrapper_cfg = dict(type='MMDistributedDataParallel', find_unused_parameters=True)
