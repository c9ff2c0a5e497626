# The paper's BiSeNet schedule on Cityscapes: 80k iterations, total batch 16
# (4 GPUs x 4), SGD lr 0.01 momentum 0.9 weight decay 5e-4, poly decay (power 0.9)
# after a 1,000-iteration linear warm-up (mmseg's BiSeNetV1 convention).
max_iters = 80000
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=8000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0005),
    clip_grad=None)
param_scheduler = [
    dict(type='LinearLR', by_epoch=False, start_factor=0.1, begin=0, end=1000),
    dict(type='PolyLR', eta_min=1e-4, power=0.9, by_epoch=False, begin=1000, end=max_iters)
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
