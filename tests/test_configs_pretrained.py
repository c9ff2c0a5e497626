"""The det/seg/pose configs load ImageNet weights into their backbone.

A converted checkpoint (``{'meta', 'state_dict'}`` with RelNASClassifier keys, as
tools/convert_official.py writes) is made from a small ImageNet classifier; setting
``pretrained`` at the top of a config, in a child config or with ``--cfg-options
pretrained=PATH`` must put exactly its ``backbone.*`` tensors into the downstream
model's backbone, and a checkpoint of another network must be an error. The
MobileNetV2 configs load a checkpoint in the layout of OpenMMLab's ImageNet one.
"""
import os
import re

import pytest
import torch
from fixtures_downstream import SMALL_DET, SMALL_POSE, SMALL_SEG
from fixtures_tools import REPO, tool_config

pytest.importorskip('mmengine')
from mmengine.config import Config
from mmengine.registry import MODELS, DefaultScope

from relnas_mm.apis import register_scope_modules
from relnas_mm.apis.pretrained import PretrainedMismatchError, check_pretrained
from relnas_mm.models.classifiers import imagenet_network

CONFIGS = {
    'det/relnas_ssd_voc.py': ('mmdet', SMALL_DET, 'backbone'),
    'seg/relnas_bisenetv1_cityscapes-1024x1024.py':
    ('mmseg', SMALL_SEG, 'backbone.context_path.backbone'),
    'pose/relnas_simplebaseline_coco-256x192.py': ('mmpose', SMALL_POSE, 'backbone'),
}


@pytest.fixture(scope='module')
def converted(tmp_path_factory):
    """A converted-format ImageNet classifier checkpoint (C=8, 5 cells) and its weights."""
    torch.manual_seed(0)
    classifier = imagenet_network(channels=8, num_cells=5)
    for p in classifier.parameters():  # recognisable values, unlike any fresh init
        p.data.uniform_(-3, 3)
    path = str(tmp_path_factory.mktemp('weights') / 'relnas_imagenet.pth')
    torch.save({'meta': dict(network='imagenet'), 'state_dict': classifier.state_dict()}, path)
    backbone = {
        k[len('backbone.'):]: v
        for k, v in classifier.state_dict().items() if k.startswith('backbone.')
    }
    return path, backbone


def _config_with_pretrained(tmp_path, name: str, checkpoint: str) -> Config:
    """The config as a user edits it: ``pretrained = '...'`` at its top."""
    with open(os.path.join(REPO, 'configs', name)) as f:
        text = f.read()
    text = text.replace("'../_base_/", f"'{REPO}/configs/_base_/")
    text, count = re.subn(r'^pretrained = None', f'pretrained = {checkpoint!r}', text, flags=re.M)
    assert count == 1, f'{name} must set pretrained = None in one place'
    path = tmp_path / os.path.basename(name)
    path.write_text(text)
    return Config.fromfile(str(path))


def _initialised_backbone(cfg: Config, scope: str, options: dict, where: str):
    pytest.importorskip(scope)
    cfg.merge_from_dict(options)
    with DefaultScope.overwrite_default_scope(register_scope_modules(cfg)):
        model = MODELS.build(cfg.model)
        model.init_weights()
    module = model
    for attr in where.split('.'):
        module = getattr(module, attr)
    return module.state_dict()


def _assert_loaded(state: dict, expected: dict) -> None:
    assert state.keys() == expected.keys()
    for key, value in expected.items():
        assert torch.equal(state[key], value), key


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_pretrained_at_the_top_of_the_config(tmp_path, converted, name):
    checkpoint, expected = converted
    scope, options, where = CONFIGS[name]
    cfg = _config_with_pretrained(tmp_path, name, checkpoint)
    _assert_loaded(_initialised_backbone(cfg, scope, options, where), expected)


BACKBONE_KEYS = {
    'det/relnas_ssd_voc.py': 'model.backbone',
    'seg/relnas_bisenetv1_cityscapes-1024x1024.py': 'model.backbone.backbone_cfg',
    'pose/relnas_simplebaseline_coco-256x192.py': 'model.backbone',
}


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_backbone_init_cfg_as_the_upstream_tools_set_it(converted, name):
    """What mmdet's/mmseg's/mmpose's tools/train.py (or mim) do with the backbone-key
    --cfg-options form: a plain merge of ONE key, no relnas_mm tool (the configs always
    write a Pretrained init_cfg, with checkpoint=None by default)."""
    checkpoint, expected = converted
    scope, options, where = CONFIGS[name]
    cfg = Config.fromfile(os.path.join(REPO, 'configs', name))
    options = dict(options, **{f'{BACKBONE_KEYS[name]}.init_cfg.checkpoint': checkpoint})
    _assert_loaded(_initialised_backbone(cfg, scope, options, where), expected)


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_the_default_config_builds_and_loads_nothing(converted, name):
    """pretrained = None: a Pretrained init_cfg without a checkpoint; the model builds,
    init_weights runs (as the upstream tools' Runner calls it) and loads nothing."""
    _, expected = converted
    scope, options, where = CONFIGS[name]
    cfg = Config.fromfile(os.path.join(REPO, 'configs', name))
    node = cfg
    for attr in BACKBONE_KEYS[name].split('.'):
        node = node[attr]
    assert cfg.pretrained is None
    assert node.init_cfg == dict(type='Pretrained', checkpoint=None, prefix='backbone.')
    state = _initialised_backbone(cfg, scope, options, where)
    assert state.keys() == expected.keys()
    assert not torch.equal(state['stem0.0.weight'], expected['stem0.0.weight'])


SCOPES = {'det': 'mmdet', 'seg': 'mmseg', 'pose': 'mmpose'}


def _built(cfg: Config, name: str, options: dict, init: bool = True):
    """The model of ``cfg`` (after tools' make_config), built and (if ``init``)
    initialised; tools/train.py checks the weights between the two."""
    pytest.importorskip(SCOPES[name.split('/')[0]])
    cfg.merge_from_dict(options)
    with DefaultScope.overwrite_default_scope(register_scope_modules(cfg)):
        model = MODELS.build(cfg.model)
        if init:
            model.init_weights()
    return model


def _module(model, where: str):
    for attr in where.split('.'):
        model = getattr(model, attr)
    return model


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_pretrained_on_the_command_line(converted, name):
    """--cfg-options pretrained=PATH, through tools/train.py's make_config."""
    checkpoint, expected = converted
    scope, options, where = CONFIGS[name]
    pytest.importorskip(scope)
    cfg = tool_config('train', f'configs/{name}', '--cfg-options', f'pretrained={checkpoint}')
    model = _built(cfg, name, options)
    _assert_loaded(_module(model, where).state_dict(), expected)
    check_pretrained(model)  # the converted checkpoint fits


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_pretrained_in_a_child_config(tmp_path, converted, name):
    checkpoint, expected = converted
    scope, options, where = CONFIGS[name]
    pytest.importorskip(scope)
    child = tmp_path / 'child.py'
    child.write_text(f"_base_ = '{REPO}/configs/{name}'\npretrained = {checkpoint!r}\n")
    cfg = tool_config('train', str(child))
    _assert_loaded(_module(_built(cfg, name, options), where).state_dict(), expected)


def _classifier_checkpoint(path, **kwargs) -> str:
    torch.manual_seed(1)
    torch.save({'state_dict': imagenet_network(**kwargs).state_dict()}, path)
    return str(path)


@pytest.mark.parametrize('kind, kwargs, message', [
    ('width', dict(channels=16, num_cells=5),
     r"shapes differ \(checkpoint vs model\): stem0\.0\.weight \(8, 3, 3, 3\) vs \(4, 3, 3, 3\)"),
    ('genotype', dict(genotype='DARTS_V2', channels=8,
                      num_cells=5), r'keys of the model are not in it: cells\.0\.'),
])
def test_a_checkpoint_of_another_network_is_an_error(tmp_path, kind, kwargs, message):
    """Another width or cell: an error naming the module, the file and the first keys
    (mmengine's Pretrained init would load what fits and only log the rest)."""
    checkpoint = _classifier_checkpoint(tmp_path / f'{kind}.pth', **kwargs)
    name = 'pose/relnas_simplebaseline_coco-256x192.py'
    cfg = tool_config('train', f'configs/{name}', '--cfg-options', f'pretrained={checkpoint}')
    with pytest.raises(PretrainedMismatchError, match=message) as info:
        check_pretrained(_built(cfg, name, SMALL_POSE, init=False))
    assert str(info.value).startswith(f"backbone: pretrained checkpoint '{checkpoint}' does "
                                      'not fit')


def test_a_backbone_only_checkpoint_needs_prefix_none(tmp_path):
    path = tmp_path / 'backbone_only.pth'
    torch.save({'state_dict': imagenet_network(channels=8, num_cells=5).backbone.state_dict()},
               path)
    name = 'pose/relnas_simplebaseline_coco-256x192.py'
    cfg = tool_config('train', f'configs/{name}', '--cfg-options', f'pretrained={path}')
    with pytest.raises(PretrainedMismatchError, match="no key starting with prefix 'backbone.'"):
        check_pretrained(_built(cfg, name, SMALL_POSE, init=False))


# ------------------------------------------------------------------ MobileNetV2
# config: (module of the backbone, layout of its published ImageNet checkpoint)
MOBILENET = {
    'det/mobilenetv2_ssd_voc.py': ('backbone', 'mmdet'),
    'seg/mobilenetv2_bisenetv1_cityscapes-1024x1024.py':
    ('backbone.context_path.backbone', 'mmcls'),
    'pose/mobilenetv2_simplebaseline_coco-256x192.py': ('backbone', 'mmcls'),
}


def _recognisable(state: dict) -> dict:
    torch.manual_seed(2)
    for value in state.values():
        if value.is_floating_point():
            value.uniform_(0.5, 1.5)  # unlike any fresh init, and a valid BN variance
    return state


@pytest.fixture(scope='module')
def mobilenet_checkpoints(tmp_path_factory):
    """Small stand-ins for the two published ImageNet MobileNetV2 files, in their layouts:
    OpenMMLab's classifier ('mmcls://mobilenet_v2': 'backbone.*' with the last 1x1 conv,
    'head.fc.*'), which fits mmseg's and mmpose's MobileNetV2; and mmdet's own copy
    ('open-mmlab://mmdet/mobilenet_v2': the keys of mmdet's MobileNetV2, no prefix), whose
    blocks name their convolutions. Returns {layout: (path, backbone weights)}."""
    mmpose_models = pytest.importorskip('mmpose.models')
    mmdet_models = pytest.importorskip('mmdet.models')
    folder = tmp_path_factory.mktemp('mbv2')
    cls_backbone = _recognisable(
        mmpose_models.backbones.MobileNetV2(out_indices=(7, )).state_dict())
    cls_state = {f'backbone.{k}': v for k, v in cls_backbone.items()}
    cls_state.update({'head.fc.weight': torch.zeros(1000, 1280), 'head.fc.bias': torch.zeros(1000)})
    det_backbone = _recognisable(mmdet_models.backbones.MobileNetV2(out_indices=(7, )).state_dict())
    torch.save({'meta': {}, 'state_dict': cls_state}, folder / 'mmcls.pth')
    torch.save({'state_dict': det_backbone}, folder / 'mmdet.pth')
    return {
        'mmcls': (str(folder / 'mmcls.pth'), cls_backbone),
        'mmdet': (str(folder / 'mmdet.pth'), det_backbone)
    }


@pytest.mark.parametrize('name', sorted(MOBILENET))
def test_mobilenetv2_configs_load_imagenet_weights(mobilenet_checkpoints, name):
    where, layout = MOBILENET[name]
    checkpoint, weights = mobilenet_checkpoints[layout]
    pytest.importorskip(SCOPES[name.split('/')[0]])
    default = Config.fromfile(os.path.join(REPO, 'configs', name))
    init = default.model.backbone.get('backbone_cfg', default.model.backbone).init_cfg
    assert init.type == 'Pretrained' and init.checkpoint == default.pretrained
    assert default.pretrained.startswith('https://download.openmmlab.com/')
    assert init.prefix == ('backbone.' if layout == 'mmcls' else None)

    cfg = tool_config('train', f'configs/{name}', '--cfg-options', f'pretrained={checkpoint}')
    check_pretrained(_built(cfg, name, {}, init=False))  # fits
    state = _module(_built(cfg, name, {}), where).state_dict()
    assert state and set(state) <= set(weights)
    for key, value in state.items():
        assert torch.equal(value, weights[key]), key


def test_the_other_librarys_mobilenetv2_layout_is_refused(tmp_path, mobilenet_checkpoints):
    """mmdet's MobileNetV2 names its block convolutions: the classifier layout does not
    fit it, and the error says so instead of training from random weights."""
    name = 'det/mobilenetv2_ssd_voc.py'
    _, cls_backbone = mobilenet_checkpoints['mmcls']
    checkpoint = str(tmp_path / 'mmcls_layout_no_prefix.pth')
    torch.save({'state_dict': cls_backbone}, checkpoint)
    cfg = tool_config('train', f'configs/{name}', '--cfg-options', f'pretrained={checkpoint}')
    with pytest.raises(PretrainedMismatchError,
                       match=r'keys of the model are not in it: layer1\.0\.depthwise_conv\.'):
        check_pretrained(_built(cfg, name, {}, init=False))
