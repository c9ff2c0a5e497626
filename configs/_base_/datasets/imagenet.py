# ImageNet-1k as class folders: data_root/train/<wnid>/*.JPEG and data_root/val/<wnid>/*.JPEG
# (the usual layout after extracting ILSVRC2012 and sorting val into class folders).
# Training (as DARTS and the RelativeNAS authors): Inception-style random resized crop
# to 224, flip, ColorJitter(0.4, 0.4, 0.4, 0.2); test: resize 256, centre crop 224.
dataset_type = 'relnas_mm.ImageFolderDataset'
data_root = 'data/imagenet/'

train_pipeline = [
    dict(type='relnas_mm.RandomResizedCrop', size=224),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='relnas_mm.ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4, hue=0.2),
    dict(type='relnas_mm.PackClsInputs'),
]
test_pipeline = [
    dict(type='relnas_mm.ResizeCenterCrop', resize=256, crop=224),
    dict(type='relnas_mm.PackClsInputs'),
]

train_dataloader = dict(
    batch_size=128,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='train/'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=128,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='val/'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(type='relnas_mm.Accuracy', topk=(1, 5))
test_evaluator = val_evaluator
