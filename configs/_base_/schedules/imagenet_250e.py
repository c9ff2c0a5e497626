# The ImageNet (mobile setting) schedule of the paper (as PC-DARTS): 250 epochs,
# total batch 1024 (8 GPUs x 128), SGD lr 0.5 momentum 0.9 weight decay 3e-5,
# 5 warm-up epochs, then linear decay to 0. No gradient clipping: the authors' ImageNet
# config has use_grad_clip = False (DARTS's train_imagenet.py clips at norm 5; set
# optim_wrapper.clip_grad=dict(max_norm=5, norm_type=2) to follow DARTS instead).
max_epochs = 250
warmup_epochs = 5
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.5, momentum=0.9, weight_decay=3e-5),
    clip_grad=None)
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.2,
        end_factor=1.0,
        by_epoch=True,
        begin=0,
        end=warmup_epochs,
        convert_to_iter_based=True),
    dict(
        type='LinearLR',
        start_factor=1.0,
        end_factor=0.0,
        by_epoch=True,
        begin=warmup_epochs,
        end=max_epochs,
        convert_to_iter_based=True),
]

# lr 0.5 is for a total batch of 1024: tools/train.py --auto-scale-lr scales it linearly
# to the actual total batch (GPUs x train_dataloader.batch_size).
auto_scale_lr = dict(enable=False, base_batch_size=1024)
