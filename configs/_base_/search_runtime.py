# Runtime of a RelativeNAS search (tools/search.py). The search needs no optimizer,
# dataloader or iterations of its own: the runner's model is a parameter-free
# placeholder, the generations are run by relnas_mm.SearchLoop and the search itself
# by relnas_mm.RelativeNASSearchHook, which reads the `search` section of the config.
default_scope = None
custom_imports = dict(imports=['relnas_mm'], allow_failed_imports=False)

model = dict(type='relnas_mm.SearchRunnerModel')
# Ranks evaluate different candidates, so there are no gradients to synchronise:
# this wrapper wraps only submodules with parameters, and the placeholder has none.
model_wrapper_cfg = dict(type='MMSeparateDistributedDataParallel')

search_loop = dict(type='relnas_mm.SearchLoop')
custom_hooks = [dict(type='relnas_mm.RelativeNASSearchHook', keep_checkpoints=3, plot=True)]
# The default training hooks work per iteration of a dataloader; a search has none.
default_hooks = dict(
    runtime_info=None,
    timer=None,
    sampler_seed=None,
    logger=None,
    param_scheduler=None,
    checkpoint=None)

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # use backend='gloo' for a CPU-only multi-process run
    dist_cfg=dict(backend='nccl'))
randomness = dict(seed=0, deterministic=False)

# Scalars of every generation go to the visualizer's backends. For TensorBoard add
# dict(type='TensorboardVisBackend') (needs the tensorboard package).
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='Visualizer', vis_backends=vis_backends)
log_level = 'INFO'

# tools/search.py --resume [PATH] sets these: resume from PATH, or from the latest
# search state in work_dir when load_from is None.
resume = False
load_from = None
