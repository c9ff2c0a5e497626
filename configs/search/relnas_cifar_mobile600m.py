# RelativeNAS search on CIFAR-10 for a cell that fits the ImageNet mobile setting: the
# ImageNet network of configs/imagenet/relnas_imagenet_mobile.py (C=46, 14 cells,
# 224x224, 1000 classes) with at most 600M multiply-adds, counted as
# tools/analysis/get_flops.py counts them (the published cell: 545M).
#   python tools/search.py configs/search/relnas_cifar_mobile600m.py [--data-root data/cifar10]
# The cost of every candidate is computed from its genotype; the fast learner of a pair
# is the one that fits the budget (or exceeds it less), then the lower validation loss.
# Besides the usual results the search writes pareto.json and pareto.png.
_base_ = ['./relnas_cifar.py']

search = dict(budget=dict(metric='flops', network='imagenet_mobile', max=600e6))
