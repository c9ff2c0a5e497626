# The CIFAR-10 evaluation network of DARTS / RelativeNAS: stride-1 stem of 3C
# channels, 20 cells with C=36, reductions at cells 6 and 13, auxiliary head on
# cell 13 (weight 0.4). 3,928,222 parameters with the RelativeNAS cell (auxiliary
# head excluded). Inputs: RGB 0..255, normalised with CIFAR-10's mean/std here.
model = dict(
    type='relnas_mm.RelNASClassifier',
    backbone=dict(
        type='relnas_mm.RelNASNet',
        genotype='RelativeNAS',
        base_channels=36,
        num_cells=20,
        stem_type='cifar',
        out_indices=(3, ),
        drop_path_rate=0.3),
    num_classes=10,
    auxiliary_weight=0.4,
    data_preprocessor=dict(
        type='ImgDataPreprocessor', mean=[125.307, 122.95, 113.865], std=[62.993, 62.089, 66.705]))

# With the published cell the reduction cells never read their first input, so
# their preprocess0 gets no gradient: DDP must allow unused parameters.
model_wrapper_cfg = dict(type='MMDistributedDataParallel', find_unused_parameters=True)
