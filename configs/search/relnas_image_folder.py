# RelativeNAS search on your own images: one sub-folder per class, as torchvision's
# ImageFolder and mmpretrain's CustomDataset read them:
#   data/my_images/train/<class name>/<image>.jpg   (any format PIL reads, any size)
# Point --data-root at the folder holding the class folders, e.g. the training images
# of the train/ + val/ layout that configs/cifar/relnas_image_folder.py retrains on:
#   python tools/search.py configs/search/relnas_image_folder.py --data-root data/my_images/train
# Every image is decoded once, resized to image_size x image_size (aspect ratio not
# kept) and held on the device as uint8, like CIFAR (a 50k-image folder at 32x32 is
# 150 MB); the log shows the loading progress. Half of the images train each
# candidate, the other half validate it. The number of classes is the number of
# class folders (num_classes=None); a folder with one class or an empty class
# folder is refused before the search starts.
_base_ = ['./relnas_cifar.py']

search = dict(
    data=dict(dataset='image_folder', data_root='data/my_images/train', image_size=32),
    supernet=dict(num_classes=None))
