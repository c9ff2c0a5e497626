"""The BiSeNetV1 Cityscapes configs: the authors' settings, and end to end on tiny data.

The default config is built and its settings asserted against RelativeNAS's authors'
code (EMI-Group/TransferLearning-Tasks, BiSeNet/): SyncBN and LeakyReLU(0.01) inside
the BiSeNet modules and heads, the SE fusion, the frozen backbone BN affine, the
augmentation, the sliding-window test, the warm-up and poly schedule.

End to end, the config trains and tests on tiny Cityscapes data with both test
protocols (single scale; --tta: multi-scale + flip), with relnas_mm's tools and with
the upstream tools' path (mmengine's Runner on the config, weights through
model.backbone.backbone_cfg.init_cfg). Only --cfg-options shrink it: RelNASNet context
path with C=8 and 5 cells, narrow BiSeNet paths and heads, 64x64 crops of 128x64
images (64x64 windows), 2 iterations. Dataset layout, the OHEM loss, the optimiser
groups, the TTA views and the IoU metric are the config's. The trained checkpoint is
tested with its classifier set to call every pixel "road": the mIoU of both protocols
is then known exactly from the label files.
"""
import glob
import os

import numpy as np
import pytest
import torch
from fixtures_downstream import (LOADER_OPTIONS, SMALL_SEG, cli_options, make_cityscapes,
                                 read_test_metrics)
from fixtures_tools import REPO, check_ok, run_tool, tool_config
from PIL import Image
from torch import nn

pytest.importorskip('mmseg')
from mmengine.config import Config
from mmengine.registry import MODELS, PARAM_SCHEDULERS, DefaultScope

from relnas_mm.apis import register_scope_modules

CONFIG = 'configs/seg/relnas_bisenetv1_cityscapes-1024x1024.py'
MOBILENET = 'configs/seg/mobilenetv2_bisenetv1_cityscapes-1024x1024.py'
SMALL = cli_options(SMALL_SEG) + LOADER_OPTIONS + [
    'model.data_preprocessor.size=(64,64)',
    'model.data_preprocessor.test_cfg.size=(64,64)',
    # mmengine's Runner gives the top-level data_preprocessor to the --tta wrapper
    'data_preprocessor.test_cfg.size=(64,64)',
    'model.test_cfg.crop_size=(64,64)',
    'model.test_cfg.stride=(54,54)',
    'train_dataloader.dataset.pipeline.4.scales=[(96,48),(128,64)]',  # RandomChoiceResize
    'train_dataloader.dataset.pipeline.5.size=(64,64)',  # ResizeToCover
    'train_dataloader.dataset.pipeline.6.crop_size=(64,64)',  # RandomCrop
    'val_dataloader.dataset.pipeline.1.scale=(128,64)',  # Resize
    'test_dataloader.dataset.pipeline.1.scale=(128,64)',
    'train_cfg.max_iters=2',
    'train_cfg.val_interval=2'
]


def _built(name: str = CONFIG, options: dict = SMALL_SEG):
    """The config's model (small widths unless ``options`` says otherwise)."""
    cfg = Config.fromfile(os.path.join(REPO, name))
    cfg.merge_from_dict(options)
    with DefaultScope.overwrite_default_scope(register_scope_modules(cfg)):
        return cfg, MODELS.build(cfg.model)


def _norms_and_acts(module: nn.Module):
    norms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    acts = [m for m in module.modules() if isinstance(m, (nn.ReLU, nn.ReLU6, nn.LeakyReLU))]
    return norms, acts


def test_syncbn_and_leaky_relu_are_inside_every_bisenet_module_and_head():
    """SyncBN can be built on a CPU; only its forward needs a process group."""
    cfg, model = _built()
    assert cfg.model.backbone.type == 'relnas_mm.BiSeNetV1'
    bisenet = model.backbone
    for name, module in [('spatial_path', bisenet.spatial_path), ('ffm', bisenet.ffm),
                         ('arm16', bisenet.context_path.arm16),
                         ('arm32', bisenet.context_path.arm32),
                         ('conv_head16', bisenet.context_path.conv_head16),
                         ('conv_head32', bisenet.context_path.conv_head32),
                         ('gap_conv', bisenet.context_path.gap_conv),
                         ('decode_head', model.decode_head),
                         ('auxiliary_head', model.auxiliary_head)]:
        norms, acts = _norms_and_acts(module)
        assert norms and all(isinstance(m, nn.SyncBatchNorm) for m in norms), name
        assert acts and all(isinstance(m, nn.LeakyReLU) and m.negative_slope == 0.01
                            for m in acts), name
    # the backbone keeps per-GPU BN, as the authors' (no SyncBN conversion there)
    backbone_norms, _ = _norms_and_acts(bisenet.context_path.backbone)
    assert backbone_norms and not any(isinstance(m, nn.SyncBatchNorm) for m in backbone_norms)


def test_fusion_module_is_se_style_and_heads_have_no_dropout():
    cfg, model = _built(options={})  # full width: 128 + 128 -> 256, SE 256 -> 64 -> 256
    ffm = model.backbone.ffm
    assert ffm.conv.conv.in_channels == 256 and ffm.conv.conv.out_channels == 256
    assert (ffm.squeeze.in_channels, ffm.squeeze.out_channels) == (256, 64)
    assert (ffm.excite.in_channels, ffm.excite.out_channels) == (64, 256)
    assert model.backbone.context_path.arm16.conv.conv.in_channels == 368
    assert model.backbone.context_path.arm32.conv.conv.in_channels == 736
    for head in (model.decode_head, *model.auxiliary_head):
        assert head.dropout is None and head.align_corners is True


def test_backbone_bn_affine_is_in_no_optimiser_group():
    """Built through the config's optimiser constructor: the backbone's BN weight and bias
    do not train (the authors' groups leave them out); every other parameter does."""
    from mmengine.model import revert_sync_batchnorm
    from mmengine.optim import build_optim_wrapper
    cfg, model = _built()
    model = revert_sync_batchnorm(model)
    frozen = {
        id(p)
        for m in model.backbone.context_path.backbone.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm) for p in m.parameters()
    }
    assert frozen
    optimizer = build_optim_wrapper(model, cfg.optim_wrapper).optimizer
    trained = {
        id(p)
        for g in optimizer.param_groups if g['lr'] > 0 for p in g['params'] if p.requires_grad
    }
    assert trained.isdisjoint(frozen)
    assert trained == {id(p) for p in model.parameters()} - frozen


def test_training_pipeline_is_the_authors():
    cfg = Config.fromfile(os.path.join(REPO, CONFIG))
    steps = cfg.train_dataloader.dataset.pipeline
    assert [t.type for t in steps] == [
        'LoadImageFromFile', 'LoadAnnotations', 'relnas_mm.ColorJitterBCS', 'RandomFlip',
        'RandomChoiceResize', 'relnas_mm.ResizeToCover', 'RandomCrop', 'PackSegInputs'
    ]
    jitter, flip, resize, cover, crop = steps[2:7]
    assert (jitter.brightness, jitter.contrast, jitter.saturation) == (0.5, 0.5, 0.5)
    assert flip.prob == 0.5
    assert resize.scales == [(1536, 768), (2048, 1024), (2560, 1280), (3072, 1536), (3584, 1792),
                             (4096, 2048)]  # 0.75, 1.0, ..., 2.0
    assert resize.keep_ratio is True
    assert tuple(cover.size) == (1024, 1024) and tuple(crop.crop_size) == (1024, 1024)
    assert crop.get('cat_max_ratio', 1.0) == 1.0


def test_single_scale_test_is_sliding_1024_windows_at_stride_854():
    cfg = tool_config('test', CONFIG, 'c.pth')
    assert cfg.model.test_cfg == dict(mode='slide', crop_size=(1024, 1024), stride=(854, 854))
    assert cfg.model.data_preprocessor.test_cfg == dict(size=(1024, 1024))  # zero padding
    assert [t.type for t in cfg.test_dataloader.dataset.pipeline
            ] == ['LoadImageFromFile', 'Resize', 'LoadAnnotations', 'PackSegInputs']


def test_schedule_is_exponential_warmup_then_poly_to_zero():
    cfg = Config.fromfile(os.path.join(REPO, CONFIG))
    assert cfg.optim_wrapper.optimizer == dict(type='SGD', lr=0.01, momentum=0.9,
                                               weight_decay=0.0005)
    assert cfg.auto_scale_lr.base_batch_size == 16 == 4 * cfg.train_dataloader.batch_size
    register_scope_modules(cfg)
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.01)
    with DefaultScope.overwrite_default_scope('mmseg'):
        schedulers = [
            PARAM_SCHEDULERS.build(dict(s, optimizer=optimizer)) for s in cfg.param_scheduler
        ]
    seen = {}
    for it in range(cfg.train_cfg.max_iters):
        if it in (0, 500, 1000, 1001, 79999):
            seen[it] = optimizer.param_groups[0]['lr']
        optimizer.step()
        for scheduler in schedulers:
            scheduler.step()
    assert seen[0] == pytest.approx(1e-5)
    assert seen[500] == pytest.approx(1e-5 * 1000**0.5)
    assert seen[1000] == pytest.approx(0.01)
    assert seen[1001] == pytest.approx(0.01 * (1 - 1 / 79000)**0.9)
    assert seen[79999] == pytest.approx(0.01 * (1 / 79000)**0.9)


def test_mobilenetv2_context_path_takes_96_and_1280_channel_features():
    pytest.importorskip('mmpose')
    cfg, model = _built(MOBILENET, {})
    context = model.backbone.context_path
    assert context.arm16.conv.conv.in_channels == 96
    assert context.arm32.conv.conv.in_channels == 1280
    assert context.backbone.out_indices == (4, 7)
    context.backbone.eval()
    with torch.no_grad():
        feats = context.backbone(torch.randn(1, 3, 64, 64))
    assert [f.shape[1] for f in feats] == [96, 1280]
    assert [f.shape[2] for f in feats] == [4, 2]  # strides 16 and 32
    norms, _ = _norms_and_acts(context.backbone)
    assert all(not isinstance(m, nn.SyncBatchNorm) and not m.weight.requires_grad for m in norms)


def test_tta_protocol_is_six_scales_flipped_with_sliding_windows():
    cfg = tool_config('test', CONFIG, 'c.pth', '--tta')
    assert cfg.model.type == 'SegTTAModel'
    assert cfg.model.module.type == 'EncoderDecoder'
    assert cfg.model.module.test_cfg == dict(mode='slide', crop_size=(1024, 1024),
                                             stride=(854, 854))
    load, tta = cfg.test_dataloader.dataset.pipeline
    assert load.type == 'LoadImageFromFile' and tta.type == 'TestTimeAug'
    scales, flips, annotations, pack = tta.transforms
    assert [t.scale_factor for t in scales] == [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
    assert [(t.type, t.prob) for t in flips] == [('RandomFlip', 0.), ('RandomFlip', 1.)]


def _all_road(checkpoint: str, out: str) -> str:
    """A copy of the checkpoint whose decode head scores train id 0 (road) highest at
    every pixel, whatever the image."""
    state = torch.load(checkpoint, map_location='cpu', weights_only=False)
    weights = state['state_dict']
    weights['decode_head.conv_seg.weight'].zero_()
    weights['decode_head.conv_seg.bias'].zero_()[0] = 1.0
    torch.save(state, out)
    return out


def _all_road_miou(root: str) -> float:
    """mIoU (percent, 2 decimals, as mmseg logs it) of calling every pixel road: road's
    IoU is its share of the non-ignored pixels; every other class present scores 0."""
    labels = np.stack([
        np.asarray(Image.open(p))
        for p in sorted(glob.glob(os.path.join(root, 'gtFine', 'val', '*', '*_labelTrainIds.png')))
    ])
    valid = labels != 255
    present = np.unique(labels[valid])
    return round(100.0 * (labels == 0).sum() / valid.sum() / len(present), 2)


@pytest.mark.e2e
def test_bisenet_cityscapes_config_trains_and_reports_miou_with_both_protocols(tmp_path):
    root = make_cityscapes(str(tmp_path / 'cityscapes'))
    work = str(tmp_path / 'work')
    out = check_ok(
        run_tool('tools/train.py', CONFIG, '--work-dir', work, '--data-root', root, '--cfg-options',
                 *SMALL))
    assert 'Iter(val) [1/1]' in out and 'mIoU' in out  # validated after the 2 iterations
    assert 'model.backbone.backbone_cfg starts without pretrained weights' in out
    checkpoint = _all_road(os.path.join(work, 'iter_2.pth'), str(tmp_path / 'road.pth'))
    expected = _all_road_miou(root)
    assert 0 < expected < 100 / 3  # road, sky and car in the labels
    for protocol, extra in (('single', []), ('tta', ['--tta'])):
        test_work = str(tmp_path / protocol)
        out = check_ok(
            run_tool('tools/test.py', CONFIG, checkpoint, '--work-dir', test_work, '--data-root',
                     root, *extra, '--cfg-options', *SMALL))
        assert read_test_metrics(test_work)['mIoU'] == pytest.approx(expected, abs=1e-6)
    assert 'SegTTAModel' in out  # the last run's logged config
