# Runtime of the detection configs (mmdet 3.x conventions).
default_scope = 'mmdet'
# relnas_mm.downstream registers relnas_mm.SSDHeadFixed (ssd_head) and
# relnas_mm.SSDLiteNeck (ssdlite)
custom_imports = dict(
    imports=['relnas_mm', 'relnas_mm.downstream.ssd_head', 'relnas_mm.downstream.ssdlite'],
    allow_failed_imports=False)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='DetVisualizationHook'))

env_cfg = dict(
    cudnn_benchmark=True,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='DetLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=True)
log_level = 'INFO'
load_from = None
resume = False
