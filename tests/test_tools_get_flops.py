"""tools/analysis/get_flops.py: parameters and FLOPs of every downstream config."""
import importlib.util
import os

import pytest
from fixtures_downstream import REPO, check_ok, run_tool

pytest.importorskip('mmengine')
from mmengine.config import Config  # noqa: E402


def _tool():
    spec = importlib.util.spec_from_file_location(
        'get_flops', os.path.join(REPO, 'tools', 'analysis', 'get_flops.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _count(config: str, shape, **options) -> dict:
    tool = _tool()
    cfg = Config.fromfile(os.path.join(REPO, 'configs', config))
    cfg.merge_from_dict(options)
    return tool.complexity(tool.build_model(cfg), tool.input_hw(cfg, shape))


def test_cli_prints_the_papers_cifar_parameter_count():
    out = check_ok(run_tool('tools/analysis/get_flops.py', 'configs/cifar/relnas_cifar10.py'))
    # the paper's 3.93M: the auxiliary head (training only) is not counted
    assert 'Parameters (inference): 3.93 M (3,928,222)' in out
    assert 'Input shape: (1, 3, 32, 32)' in out
    assert 'FLOPs (multiply-adds):' in out


def test_imagenet_mobile_setting_counts():
    result = _count('imagenet/relnas_imagenet_mobile.py', None)
    assert result['params_inference'] == 5_050_029  # the paper's 5.05M
    assert result['params_all'] > result['params_inference']  # + auxiliary head
    assert 500e6 < result['flops'] < 700e6  # the paper's "about 600M multiply-adds"


def test_flops_scale_with_the_input_area():
    small = _count('cifar/relnas_cifar10.py', (32, 32), **{'model.backbone.num_cells': 5})
    large = _count('cifar/relnas_cifar10.py', (64, 64), **{'model.backbone.num_cells': 5})
    # convolutions dominate; only the classifier does not grow with the area
    assert large['flops'] == pytest.approx(4 * small['flops'], rel=0.01)
    assert large['params_inference'] == small['params_inference']


def test_missing_input_size_is_a_clear_error():
    tool = _tool()
    cfg = Config(dict(model=dict(type='X')))
    with pytest.raises(ValueError, match='pass --shape H W'):
        tool.input_hw(cfg, None)


@pytest.mark.parametrize('config, shape', [
    ('det/relnas_ssd_voc.py', None),
    ('det/mobilenetv2_ssd_voc.py', None),
    ('seg/relnas_bisenetv1_cityscapes-1024x1024.py', (128, 256)),
    ('seg/mobilenetv2_bisenetv1_cityscapes-1024x1024.py', (128, 256)),
    ('pose/relnas_simplebaseline_coco-256x192.py', None),
    ('pose/mobilenetv2_simplebaseline_coco-256x192.py', None),
])
def test_downstream_configs_are_counted(config, shape):
    scope = config.split('/')[0]
    pytest.importorskip({'det': 'mmdet', 'seg': 'mmseg', 'pose': 'mmpose'}[scope])
    result = _count(config, shape)
    assert 1e6 < result['params_inference'] <= result['params_all'] < 20e6
    assert result['flops'] > 1e8
