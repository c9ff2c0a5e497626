# SimpleBaseline's schedule as RelativeNAS's authors ran it: 140 epochs, total batch 128,
# Adam lr 1e-3 without weight decay, and a *constant* learning rate. Their experiment
# file asks for x0.1 at epochs 90 and 120, but their training script
# (EMI-Group/TransferLearning-Tasks, Simplebaseline/train.py) calls the scheduler's
# step() once, after the epoch loop, so the lr stays 1e-3 throughout; that produced
# their number. The decaying schedule: configs/pose/*_lr-step.py.
max_epochs = 140
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=10)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-3))
param_scheduler = []

# lr 1e-3 is for a total batch of 128: tools/train.py --auto-scale-lr scales it
# linearly to the actual total batch (GPUs x train_dataloader.batch_size).
auto_scale_lr = dict(enable=False, base_batch_size=128)
