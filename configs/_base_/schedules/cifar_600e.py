# The paper's CIFAR-10 retraining schedule (as DARTS): 600 epochs, batch 128 (one
# GPU), SGD lr 0.025 momentum 0.9 weight decay 3e-4, cosine to 0 (stepped per epoch),
# gradient-norm clip 5, drop-path probability ramped linearly from 0 to the
# backbone's drop_path_rate (0.3) over training.
max_epochs = 600
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.025, momentum=0.9, weight_decay=3e-4),
    clip_grad=dict(max_norm=5, norm_type=2))
param_scheduler = dict(
    type='CosineAnnealingLR', T_max=max_epochs, eta_min=0, by_epoch=True, begin=0, end=max_epochs)

custom_hooks = [dict(type='relnas_mm.DropPathRampHook')]

# lr 0.025 is for a total batch of 128: tools/train.py --auto-scale-lr scales it
# linearly to the actual total batch (GPUs x train_dataloader.batch_size).
auto_scale_lr = dict(enable=False, base_batch_size=128)
