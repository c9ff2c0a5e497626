# RelativeNAS search on CIFAR-10 with the paper's settings (Tan et al., TNNLS 2021):
#   python tools/search.py configs/search/relnas_cifar.py [--data-root data/cifar10]
# Reads data/cifar10/cifar-10-batches-py (the official python format, not downloaded).
_base_ = ['../_base_/search_runtime.py']

search = dict(
    # CIFAR-10's 50k training images split 25k/25k by a seeded permutation
    # (num_images=N keeps a seeded subset of N images, for quick trials).
    data=dict(
        dataset='cifar10',
        data_root='data/cifar10',
        train_portion=0.5,
        split_seed=0,
        num_images=None),
    # The proxy network: 8 cells, 16 initial channels, 3C stem, no auxiliary head.
    supernet=dict(channels=16, num_cells=8, num_classes=10, stem_multiplier=3),
    # Low-fidelity estimation: one epoch from the weight set with a fresh SGD, then
    # the validation loss (the validation half is not augmented unless augment_valid).
    # FastEvaluator computes what the readable reference type='EagerEvaluator' does,
    # faster: CUDA graphs and streams on a GPU, channels-last kernels and
    # workers='auto' (one single-threaded process per math thread) on the CPU.
    # deterministic=True: IEEE fp32 and deterministic kernels, for bit-equal GPU
    # resumes (without it GPU runs use TF32 and agree only statistically).
    # streams (not set: FastEvaluator's default) is 2 on CUDA, the pair that
    # writeback='pair' hands over per call, and 1 on the CPU; more streams pay only
    # with writeback='generation', by as much as tools/benchmark_search.py measures
    # (docs/en/fast_evaluation.md, "Streams"). precision='bf16' would train under bf16
    # autocast (fp32 weights and validation; rankings agree with fp32 on 26 of 27
    # decided pairs of the ranking test); left at the default 'fp32': not yet measured
    # faster on a GPU, and no faster on a 2-core CPU.
    evaluator=dict(
        type='FastEvaluator',
        batch_size=256,
        momentum=0.9,
        weight_decay=3e-4,
        grad_clip=5.0,
        augment_valid=False,
        workers='auto',
        deterministic=False),
    # Slow-fast learning: lr cosine 0.1 -> 0.001 over the generations, drop-path
    # ramped to 0.3; writeback='pair' is the authors' order, 'generation' lets all
    # candidates of a generation run at once (see docs/en/search.md).
    algorithm=dict(
        pop_size=20,
        generations=50,
        lr_max=0.1,
        lr_min=0.001,
        drop_path_max=0.3,
        writeback='pair',
        seed=0))
