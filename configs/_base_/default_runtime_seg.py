# Runtime of the segmentation configs (mmsegmentation 1.x conventions).
default_scope = 'mmseg'
# relnas_mm.downstream registers relnas_mm.BiSeNetV1 (bisenetv1), the authors'
# augmentations (transforms) and their exponential warm-up (schedulers)
custom_imports = dict(
    imports=[
        'relnas_mm', 'relnas_mm.downstream.bisenetv1', 'relnas_mm.downstream.transforms',
        'relnas_mm.downstream.schedulers'
    ],
    allow_failed_imports=False)

env_cfg = dict(
    cudnn_benchmark=True,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='SegLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
