"""The det/seg/pose configs load converted ImageNet weights into their backbone.

A converted checkpoint (``{'meta', 'state_dict'}`` with RelNASClassifier keys, as
tools/convert_official.py writes) is made from a small ImageNet classifier; setting
``pretrained`` at the top of a config (or the documented --cfg-options form) must put
exactly its ``backbone.*`` tensors into the downstream model's backbone.
"""
import os
import re

import pytest
import torch
from fixtures_downstream import REPO, SMALL_DET, SMALL_POSE, SMALL_SEG

pytest.importorskip('mmengine')
from mmengine.config import Config  # noqa: E402
from mmengine.registry import MODELS, DefaultScope  # noqa: E402

from relnas_mm.downstream.launch import register_scope_modules  # noqa: E402
from relnas_mm.models.classifiers import imagenet_network  # noqa: E402

CONFIGS = {
    'det/relnas_ssd_voc.py': ('mmdet', SMALL_DET, 'backbone'),
    'seg/relnas_bisenetv1_cityscapes-1024x1024.py': ('mmseg', SMALL_SEG,
                                                     'backbone.context_path.backbone'),
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
    backbone = {k[len('backbone.'):]: v for k, v in classifier.state_dict().items()
                if k.startswith('backbone.')}
    return path, backbone


def _config_with_pretrained(tmp_path, name: str, checkpoint: str) -> Config:
    """The config as a user edits it: ``pretrained = '...'`` at its top."""
    with open(os.path.join(REPO, 'configs', name)) as f:
        text = f.read()
    text = text.replace("'../_base_/", f"'{REPO}/configs/_base_/")
    text, count = re.subn(r'^pretrained = None', f'pretrained = {checkpoint!r}', text,
                          flags=re.M)
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


def test_pretrained_from_the_command_line(converted):
    """The --cfg-options form the README gives (init_cfg is None in the config)."""
    checkpoint, expected = converted
    cfg = Config.fromfile(os.path.join(REPO, 'configs', 'det', 'relnas_ssd_voc.py'))
    options = dict(SMALL_DET, **{
        'model.backbone.init_cfg._delete_': True, 'model.backbone.init_cfg.type': 'Pretrained',
        'model.backbone.init_cfg.checkpoint': checkpoint,
        'model.backbone.init_cfg.prefix': 'backbone.'})
    _assert_loaded(_initialised_backbone(cfg, 'mmdet', options, 'backbone'), expected)


def test_without_pretrained_the_backbone_is_not_loaded(converted):
    _, expected = converted
    cfg = Config.fromfile(os.path.join(REPO, 'configs', 'det', 'relnas_ssd_voc.py'))
    state = _initialised_backbone(cfg, 'mmdet', SMALL_DET, 'backbone')
    assert not torch.equal(state['stem0.0.weight'], expected['stem0.0.weight'])
