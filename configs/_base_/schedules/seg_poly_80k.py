# The Cityscapes BiSeNet schedule of RelativeNAS's authors (EMI-Group/TransferLearning-
# Tasks, BiSeNet/train.py and opt_utils/optimizer.py): 80k iterations, total batch 16
# (2 GPUs x 8 there, 4 x 4 here), SGD lr 0.01 momentum 0.9 weight decay 5e-4; the lr
# rises exponentially from 1e-5 to 0.01 over iterations 0-1000
# (relnas_mm.ExponentialWarmupLR), then decays as 0.01 * (1 - (it - 1000) / 79000)^0.9
# (PolyLR ending after iteration 80000 gives exactly that factor; it never reaches 0
# within the 80k iterations, as theirs).
max_iters = 80000
warmup_iters = 1000
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=8000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0005),
    clip_grad=None)
param_scheduler = [
    dict(
        type='relnas_mm.ExponentialWarmupLR',
        start_factor=1e-3,
        by_epoch=False,
        begin=0,
        end=warmup_iters + 1),
    dict(
        type='PolyLR',
        eta_min=0.0,
        power=0.9,
        by_epoch=False,
        begin=warmup_iters,
        end=max_iters + 1)
]

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=8000, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))

# lr 0.01 is for a total batch of 16: tools/train.py --auto-scale-lr scales it
# linearly to the actual total batch (GPUs x train_dataloader.batch_size).
auto_scale_lr = dict(enable=False, base_batch_size=16)
