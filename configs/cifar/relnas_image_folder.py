# Retraining a cell searched on an image folder (configs/search/relnas_image_folder.py)
# with the CIFAR-10 network and settings (configs/cifar/relnas_cifar10.py), on
#   data_root/train/<class name>/<image>   and   data_root/val/<class name>/<image>
# Every image is resized to 32x32 as the search saw it, then augmented like CIFAR.
#   python tools/train.py configs/cifar/relnas_image_folder.py --data-root data/my_images \
#       --cfg-options model.backbone.genotype=work_dirs/relnas_image_folder/best_genotype.json
_base_ = ['./relnas_cifar10.py']

dataset_type = 'relnas_mm.ImageFolderDataset'
data_root = 'data/my_images/'
image_size = 32
model = dict(num_classes=None)  # None: the number of class folders under train/
train_pipeline = [
    dict(type='Resize', scale=(image_size, image_size), keep_ratio=False, backend='pillow'),
    dict(type='relnas_mm.RandomCropPad', size=image_size, padding=4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='relnas_mm.Cutout', length=16, fill=(125, 123, 114)),
    dict(type='relnas_mm.PackClsInputs'),
]
test_pipeline = [
    dict(type='Resize', scale=(image_size, image_size), keep_ratio=False, backend='pillow'),
    dict(type='relnas_mm.PackClsInputs'),
]
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='train/'),
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='val/'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
input_hw = (image_size, image_size)
