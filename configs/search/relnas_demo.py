# A first search that runs in minutes on a CPU, nothing to download:
#   python tools/search.py configs/search/relnas_demo.py
# scikit-learn's handwritten digits, upscaled to 32x32 and written in CIFAR-10's format
# under data/demo_digits on first use; 500 of them for the search (250 to train each
# candidate, 250 to validate it), a small population, 3 generations and a narrow,
# shallow proxy network. Batch 16 gives each candidate 16 SGD steps, enough for the
# validation loss to fall visibly within the 3 generations. Same pipeline and outputs
# as relnas_cifar.py.
_base_ = ['./relnas_cifar.py']

search = dict(
    data=dict(dataset='demo_digits', data_root='data/demo_digits', num_images=500),
    supernet=dict(channels=8, num_cells=5),
    evaluator=dict(batch_size=16),
    algorithm=dict(pop_size=4, generations=3))
