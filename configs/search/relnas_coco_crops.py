# RelativeNAS search on the objects of a COCO-format detection set (an instances JSON
# and its image folder: COCO itself, or any set exported in that format):
#   python tools/search.py configs/search/relnas_coco_crops.py --data-root data/coco
# Each object box becomes one search image: a square 1.2x the box's longer side around
# it (context=1.2), resized to 64x64 and labelled by its category; boxes under 16
# pixels and iscrowd objects are skipped, at most 600 crops per category are kept
# (at most 80 x 600 = 48k crops for COCO, about CIFAR-10's size). The crops are cut once and
# cached in the work dir (search_data_cache/); half of the source images train each
# candidate, the other half validate it (split by image, never by crop). Categories
# left without crops are dropped with a warning; classes=['person', 'car', ...]
# searches on a subset. The proxy network takes the ImageNet stem (stride 8 before the
# cells), so 64-pixel crops reach the cells at 8x8, downsampled like in a detector's
# backbone. See docs/en/search_your_data.md.
_base_ = ['./relnas_cifar.py']

search = dict(
    data=dict(
        dataset='coco',
        data_root='data/coco',
        ann_file='annotations/instances_train2017.json',
        img_dir='train2017',
        image_size=64,
        context=1.2,
        min_size=16,
        skip_crowd_difficult=True,
        max_per_class=600,
        classes=None),
    supernet=dict(num_classes=None, stem='imagenet'))
