# RelativeNAS search on CIFAR-10 for a cell that fits the ImageNet mobile setting: the
# ImageNet network of configs/imagenet/relnas_imagenet_mobile.py (C=46, 14 cells,
# 224x224, 1000 classes) with at most 600M FLOPs (mmengine's rule, as
# tools/analysis/get_flops.py counts them; the published cell: 545M) and at most 5.5M
# parameters (the published cell: 5.05M).
#   python tools/search.py configs/search/relnas_cifar_mobile600m.py [--data-root data/cifar10]
# The costs of every candidate are computed from its genotype; the fast learner of a
# pair is the one within the budget (or the one violating it less, relative to each
# bound, summed), then the lower validation loss. Besides the usual results the search
# writes pareto.json and pareto.png.
_base_ = ['./relnas_cifar.py']

search = dict(budget=dict(network='imagenet_mobile', flops=(None, 600e6), params=(None, 5.5e6)))
