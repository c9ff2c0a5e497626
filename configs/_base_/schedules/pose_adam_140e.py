# SimpleBaseline's schedule (the paper's setting): 140 epochs, total batch 128
# (4 GPUs x 32), Adam lr 1e-3, divided by 10 at epochs 90 and 120, after a
# 500-iteration linear warm-up (mmpose's convention).
max_epochs = 140
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=10)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-3))
param_scheduler = [
    dict(type='LinearLR', begin=0, end=500, start_factor=0.001, by_epoch=False),
    dict(
        type='MultiStepLR', begin=0, end=max_epochs, milestones=[90, 120], gamma=0.1, by_epoch=True)
]

# lr 1e-3 is for a total batch of 128: tools/train.py --auto-scale-lr scales it
# linearly to the actual total batch (GPUs x train_dataloader.batch_size).
auto_scale_lr = dict(enable=False, base_batch_size=128)
