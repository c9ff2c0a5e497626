# The paper's SSDLite schedule on VOC: 200 epochs, total batch 32, SGD lr 0.01
# momentum 0.9 weight decay 5e-4, cosine annealing to 0 (after a 500-iteration
# linear warm-up, mmdet's SSDLite convention).
max_epochs = 200
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=10)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=5e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs,
        eta_min=0,
        by_epoch=True,
        begin=0,
        end=max_epochs)
]

# lr 0.01 is for a total batch of 32: tools/train.py --auto-scale-lr scales it
# linearly to the actual total batch (GPUs x train_dataloader.batch_size).
auto_scale_lr = dict(enable=False, base_batch_size=32)
