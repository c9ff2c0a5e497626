"""relnas_mm.apis.pretrained: the top-level ``pretrained``/``genotype`` of a config
reach the model from the command line and from child configs, contradictions are
errors, and a det/seg/pose backbone without weights is reported.

The configs are made by tools/train.py's make_config; nothing is built here (the
weights themselves are checked in test_configs_pretrained.py).
"""
import os

import pytest
from fixtures_tools import REPO, tool_config

pytest.importorskip('mmengine')
from torch import nn

from relnas_mm.apis.pretrained import backbone_node, from_scratch_warning

POSE = 'configs/pose/relnas_simplebaseline_coco-256x192.py'
MBV2_POSE = 'configs/pose/mobilenetv2_simplebaseline_coco-256x192.py'


def _child(tmp_path, base: str, body: str) -> str:
    path = tmp_path / 'child.py'
    path.write_text(f"_base_ = '{os.path.join(REPO, base)}'\n{body}\n")
    return str(path)


def test_pretrained_on_the_command_line_sets_the_backbone_init():
    cfg = tool_config('train', POSE, '--cfg-options', 'pretrained=w/relnas_imagenet.pth')
    assert cfg.model.backbone.init_cfg == dict(type='Pretrained',
                                               checkpoint='w/relnas_imagenet.pth',
                                               prefix='backbone.')


def test_pretrained_in_a_child_config_sets_the_backbone_init(tmp_path):
    cfg = tool_config('train', _child(tmp_path, POSE, "pretrained = 'w/in1k.pth'"))
    assert cfg.model.backbone.init_cfg.checkpoint == 'w/in1k.pth'


def test_seg_pretrained_reaches_the_context_path():
    pytest.importorskip('mmseg')
    config = 'configs/seg/relnas_bisenetv1_cityscapes-1024x1024.py'
    cfg = tool_config('train', config, '--cfg-options', 'pretrained=w/in1k.pth')
    assert backbone_node(cfg)[0] == 'model.backbone.backbone_cfg'
    assert cfg.model.backbone.backbone_cfg.init_cfg.checkpoint == 'w/in1k.pth'
    assert cfg.model.backbone.get('init_cfg') is None


def test_mobilenet_pretrained_can_be_replaced_or_switched_off(tmp_path):
    cfg = tool_config('train', MBV2_POSE, '--cfg-options', 'pretrained=local/mbv2.pth')
    assert cfg.model.backbone.init_cfg.checkpoint == 'local/mbv2.pth'
    cfg = tool_config('train', MBV2_POSE, '--cfg-options', 'pretrained=None')
    assert cfg.model.backbone.init_cfg is None
    cfg = tool_config('train', _child(tmp_path, MBV2_POSE, 'pretrained = None'))
    assert cfg.model.backbone.init_cfg is None  # the child switched the base's weights off


def test_backbone_init_cfg_on_the_command_line_updates_the_top_level_key():
    cfg = tool_config('train', MBV2_POSE, '--cfg-options',
                      'model.backbone.init_cfg.checkpoint=local/mbv2.pth')
    assert cfg.pretrained == 'local/mbv2.pth'


def test_the_one_backbone_key_sets_the_weights_and_the_top_level_key():
    """The upstream tools' form, given to relnas_mm's tools: the top-level key follows."""
    cfg = tool_config('train', POSE, '--cfg-options',
                      'model.backbone.init_cfg.checkpoint=w/in1k.pth')
    assert cfg.model.backbone.init_cfg == dict(type='Pretrained', checkpoint='w/in1k.pth',
                                               prefix='backbone.')
    assert cfg.pretrained == 'w/in1k.pth'


def test_seg_the_one_nested_backbone_key():
    pytest.importorskip('mmseg')
    config = 'configs/seg/relnas_bisenetv1_cityscapes-1024x1024.py'
    cfg = tool_config('train', config, '--cfg-options',
                      'model.backbone.backbone_cfg.init_cfg.checkpoint=w/in1k.pth')
    assert cfg.model.backbone.backbone_cfg.init_cfg.checkpoint == 'w/in1k.pth'
    assert cfg.pretrained == 'w/in1k.pth'


def test_the_backbone_key_in_a_child_config(tmp_path):
    body = "model = dict(backbone=dict(init_cfg=dict(checkpoint='w/in1k.pth')))"
    cfg = tool_config('train', _child(tmp_path, POSE, body))
    assert cfg.model.backbone.init_cfg.checkpoint == 'w/in1k.pth'
    assert cfg.pretrained == 'w/in1k.pth'


def test_the_default_config_names_no_checkpoint():
    cfg = tool_config('train', POSE)
    assert cfg.pretrained is None
    assert cfg.model.backbone.init_cfg == dict(type='Pretrained', checkpoint=None,
                                               prefix='backbone.')


def test_backbone_only_file_through_the_backbone_key():
    """The documented form for a checkpoint without the 'backbone.' prefix."""
    cfg = tool_config('train', POSE, '--cfg-options',
                      'model.backbone.init_cfg.checkpoint=w/backbone_only.pth',
                      'model.backbone.init_cfg.prefix=None')
    assert cfg.model.backbone.init_cfg == dict(type='Pretrained', checkpoint='w/backbone_only.pth',
                                               prefix=None)
    assert cfg.pretrained == 'w/backbone_only.pth'


def test_both_pretrained_forms_on_one_command_line_are_refused():
    with pytest.raises(ValueError, match='sets both pretrained and model.backbone.init_cfg'):
        tool_config('train', MBV2_POSE, '--cfg-options', 'pretrained=a.pth',
                    'model.backbone.init_cfg.checkpoint=b.pth')


def test_contradicting_pretrained_in_one_file_is_refused(tmp_path):
    body = ("pretrained = 'a.pth'\nmodel = dict(backbone=dict(init_cfg=dict(_delete_=True, "
            "type='Pretrained', checkpoint='b.pth', prefix='backbone.')))")
    with pytest.raises(
            ValueError, match=r"pretrained = 'a.pth' at the top of the config, but "
            r"model.backbone.init_cfg loads 'b.pth'"):
        tool_config('train', _child(tmp_path, POSE, body))


def test_genotype_on_the_command_line_and_in_a_child_config(tmp_path):
    cfg = tool_config('train', POSE, '--cfg-options', 'genotype=DARTS_V2')
    assert cfg.model.backbone.genotype == 'DARTS_V2'
    cfg = tool_config('train', _child(tmp_path, POSE, "genotype = 'PC_DARTS'"))
    assert cfg.model.backbone.genotype == 'PC_DARTS'
    # the model key (the older form) still works, and the top-level key follows it
    cfg = tool_config('train', POSE, '--cfg-options', 'model.backbone.genotype=DARTS_V2')
    assert (cfg.genotype, cfg.model.backbone.genotype) == ('DARTS_V2', 'DARTS_V2')
    cfg = tool_config('train',
                      _child(tmp_path, POSE, "model = dict(backbone=dict(genotype='DARTS_V2'))"))
    assert (cfg.genotype, cfg.model.backbone.genotype) == ('DARTS_V2', 'DARTS_V2')


def test_genotype_contradictions_are_refused(tmp_path):
    with pytest.raises(ValueError, match='sets both genotype and model.backbone.genotype'):
        tool_config('train', POSE, '--cfg-options', 'genotype=DARTS_V2',
                    'model.backbone.genotype=PC_DARTS')
    body = "genotype = 'DARTS_V2'\nmodel = dict(backbone=dict(genotype='PC_DARTS'))"
    with pytest.raises(
            ValueError, match="genotype = 'DARTS_V2' at the top of the config, "
            "but model.backbone.genotype = 'PC_DARTS'"):
        tool_config('train', _child(tmp_path, POSE, body))
    with pytest.raises(KeyError, match="has no 'genotype' key to set"):
        tool_config('train', MBV2_POSE, '--cfg-options', 'genotype=DARTS_V2')


class _Net(nn.Module):

    def __init__(self, backbone_init=None) -> None:
        super().__init__()
        self.backbone = nn.Conv2d(3, 4, 3)
        self.backbone.init_cfg = backbone_init


def test_from_scratch_warning_only_for_downstream_backbones_without_weights():
    cfg = tool_config('train', POSE)
    message = from_scratch_warning(cfg, _Net(), 'mmpose')
    assert message.startswith('model.backbone starts without pretrained weights')
    assert '--cfg-options pretrained=PATH' in message
    loaded = _Net(dict(type='Pretrained', checkpoint='w.pth'))
    assert from_scratch_warning(cfg, loaded, 'mmpose') is None
    # the configs' default: a Pretrained init_cfg that names no checkpoint
    unnamed = _Net(dict(type='Pretrained', checkpoint=None, prefix='backbone.'))
    assert from_scratch_warning(cfg, unnamed, 'mmpose').startswith('model.backbone starts')
    assert from_scratch_warning(cfg, _Net(), 'mmengine') is None  # classification
    cfg.load_from = 'work_dirs/x/epoch_10.pth'  # the whole model comes from a checkpoint
    assert from_scratch_warning(cfg, _Net(), 'mmpose') is None
