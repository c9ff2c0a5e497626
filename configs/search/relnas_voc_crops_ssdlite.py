# RelativeNAS search on the objects of PASCAL VOC for the backbone of the SSDLite
# detector of configs/det/relnas_ssd_voc.py, under that backbone's FLOPs budget:
#   python tools/search.py configs/search/relnas_voc_crops_ssdlite.py --data-root data/VOCdevkit
# The detector's own training images (VOC07+12 trainval) become object crops: a square
# 1.2x each box's longer side, resized to 96x96, labelled by its class; boxes under 16
# pixels and 'difficult' objects are skipped. The crops are cut once
# and cached in the work dir; the halves are split by source image. The proxy network
# takes the ImageNet stem, so 96-pixel crops reach the cells at 12x12. The budget is the
# detector's: its RelNASNet (C=46, 14 cells) at 320x320, at most 800M multiply-adds in
# the backbone, whatever the proxy (search.budget.network is independent of it).
# See docs/en/search_your_data.md.
_base_ = ['./relnas_cifar.py']

search = dict(
    data=dict(
        dataset='voc',
        data_root='data/VOCdevkit',
        ann_file=['VOC2007/ImageSets/Main/trainval.txt', 'VOC2012/ImageSets/Main/trainval.txt'],
        image_size=96,
        context=1.2,
        min_size=16,
        skip_crowd_difficult=True,
        max_per_class=None,
        classes=None),
    supernet=dict(num_classes=None, stem='imagenet'),
    budget=dict(metric='flops', network='configs/det/relnas_ssd_voc.py', max=800e6))
