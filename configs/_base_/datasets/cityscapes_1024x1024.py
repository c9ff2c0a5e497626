# Cityscapes (19 classes), fine annotations. Layout (data_root = the cityscapes folder):
#   leftImg8bit/{train,val}/<city>/*_leftImg8bit.png
#   gtFine/{train,val}/<city>/*_gtFine_labelTrainIds.png
# The *_labelTrainIds.png files are made from the official polygons by
#   python tools/dataset_converters/cityscapes.py data/cityscapes --nproc 8
# (mmsegmentation's script; needs `pip install cityscapesscripts`).
# Training augmentation of RelativeNAS's authors (EMI-Group/TransferLearning-Tasks,
# BiSeNet/data_utils/cityscapes.py): brightness, contrast and saturation jitter of 0.5,
# horizontal flip, one of the scales 0.75, 1.0, ..., 2.0 of the 2048x1024 image, an image
# smaller than the crop upscaled to cover it, and a 1024x1024 random crop.
# Test: the whole 2048x1024 image (inferred by the model's sliding windows), or with
# tools/test.py --tta the tta_pipeline: scales 0.5-1.75 of the image, each also flipped.
dataset_type = 'CityscapesDataset'
data_root = 'data/cityscapes/'
crop_size = (1024, 1024)
train_scales = [0.75, 1.0, 1.25, 1.5, 1.75, 2.0]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='relnas_mm.ColorJitterBCS', brightness=0.5, contrast=0.5, saturation=0.5),
    dict(type='RandomFlip', prob=0.5),
    dict(
        type='RandomChoiceResize',
        scales=[(int(2048 * r), int(1024 * r)) for r in train_scales],
        keep_ratio=True),
    dict(type='relnas_mm.ResizeToCover', size=crop_size),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 1024), keep_ratio=True),
    # annotations after Resize: the prediction is evaluated at the original size
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
img_ratios = [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='TestTimeAug',
        transforms=[
            [dict(type='Resize', scale_factor=r, keep_ratio=True) for r in img_ratios],
            [
                dict(type='RandomFlip', prob=0., direction='horizontal'),
                dict(type='RandomFlip', prob=1., direction='horizontal')
            ],
            [dict(type='LoadAnnotations')],
            [dict(type='PackSegInputs')],
        ])
]
train_dataloader = dict(
    batch_size=4,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='leftImg8bit/train', seg_map_path='gtFine/train'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
