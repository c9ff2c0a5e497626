# The demo search under a budget, in minutes on a CPU, nothing to download:
#   python tools/search.py configs/search/relnas_demo_budget.py
# The demo digits (configs/search/relnas_demo.py) with a cell for the ImageNet mobile
# network of at most 400M FLOPs (tighter than the median random cell, 443M; the published
# one has 572M). A larger population and more generations than the demo, so that pareto.png
# shows a front: 8 members, 6 generations.
_base_ = ['./relnas_demo.py']

search = dict(
    algorithm=dict(pop_size=8, generations=6),
    budget=dict(network='imagenet_mobile', flops=(None, 400e6)))
