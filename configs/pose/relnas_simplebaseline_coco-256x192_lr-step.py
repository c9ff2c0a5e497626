# The same model with SimpleBaseline's intended schedule instead of the constant
# learning rate RelativeNAS's authors' script ran: Adam 1e-3, x0.1 at epochs 90 and
# 120 (their experiment file's LR_STEP), after a 500-iteration linear warm-up
# (mmpose's convention).
_base_ = './relnas_simplebaseline_coco-256x192.py'

param_scheduler = [
    dict(type='LinearLR', begin=0, end=500, start_factor=0.001, by_epoch=False),
    dict(type='MultiStepLR', begin=0, end=140, milestones=[90, 120], gamma=0.1, by_epoch=True)
]
