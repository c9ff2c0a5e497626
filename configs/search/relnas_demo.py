# A first search that runs in minutes on a CPU, nothing to download:
#   python tools/search.py configs/search/relnas_demo.py
# scikit-learn's handwritten digits (1,500 for the search), upscaled to 32x32 and written
# in CIFAR-10's format under data/demo_digits on first use; a small population, few
# generations and a narrow, shallow proxy network. Same pipeline and outputs as
# relnas_cifar.py.
_base_ = ['./relnas_cifar.py']

search = dict(
    data=dict(dataset='demo_digits', data_root='data/demo_digits'),
    supernet=dict(channels=8, num_cells=5),
    evaluator=dict(batch_size=64),
    algorithm=dict(pop_size=4, generations=3))
