# RelativeNAS search on CIFAR-10 for the backbone of the SSDLite detector of
# configs/det/relnas_ssd_voc.py: its RelNASNet (C=46, 14 cells) at the detector's
# 320x320 input, at most 800M FLOPs in the backbone (the published cell: 1.11G; the
# neck and the head add a fixed cost that does not depend on the cell).
#   python tools/search.py configs/search/relnas_cifar_ssdlite800m.py [--data-root data/cifar10]
# Any downstream config with a RelNASNet and input_hw can be named here; the budget
# then bounds its backbone, with the stages its neck reads.
_base_ = ['./relnas_cifar.py']

search = dict(budget=dict(network='configs/det/relnas_ssd_voc.py', flops=(None, 800e6)))
