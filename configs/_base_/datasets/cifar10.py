# CIFAR-10 in its official python format: data_root holds cifar-10-batches-py/
# (data_batch_1..5, test_batch, batches.meta), or is that folder itself.
# Augmentation of DARTS / RelativeNAS: 4-pixel zero pad + 32x32 random crop,
# horizontal flip, cutout 16 (the patch holds the mean colour, as DARTS's cutout
# after normalisation). Normalisation is the model's data preprocessor.
dataset_type = 'relnas_mm.CIFAR10Dataset'
data_root = 'data/cifar10/'

train_pipeline = [
    dict(type='relnas_mm.RandomCropPad', size=32, padding=4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='relnas_mm.Cutout', length=16, fill=(125, 123, 114)),
    dict(type='relnas_mm.PackClsInputs'),
]
test_pipeline = [dict(type='relnas_mm.PackClsInputs')]

train_dataloader = dict(
    batch_size=128,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, split='train', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=256,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split='test', pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(type='relnas_mm.Accuracy', topk=(1, ))
test_evaluator = val_evaluator
