"""tools/analysis/get_flops.py: parameters and FLOPs of every config's network."""
import os

import pytest
from fixtures_downstream import SMALL_DET, SMALL_NET, SMALL_POSE, SMALL_SEG, cli_options
from fixtures_tools import REPO, check_ok, load_tool, run_tool

pytest.importorskip('mmengine')
import torch
from mmengine.config import Config


def _tool():
    return load_tool('analysis/get_flops')


def _model(config: str, options: dict = None):
    cfg = Config.fromfile(os.path.join(REPO, 'configs', config))
    cfg.merge_from_dict(options or {})
    return cfg, _tool().build_model(cfg)


@pytest.mark.e2e
def test_cli_prints_parameters_and_flops():
    out = check_ok(
        run_tool('tools/analysis/get_flops.py', 'configs/cifar/relnas_cifar10.py', '--shape', '16',
                 '24', '--cfg-options', *cli_options(SMALL_NET)))
    assert 'Input shape: (1, 3, 16, 24)' in out
    for line in ('Parameters (inference): ', 'Parameters (all): ', 'FLOPs (multiply-adds): '):
        assert line in out


def test_top_level_genotype_on_the_command_line_reaches_the_model():
    from relnas_mm.space.genotype import get_genotype
    tool = _tool()
    cfg = tool.make_config(
        os.path.join(REPO, 'configs', 'cifar', 'relnas_cifar10.py'), dict(genotype='DARTS_V2'))
    assert tool.build_model(cfg).backbone.genotype == get_genotype('DARTS_V2')


@pytest.mark.parametrize(
    'config, expected',
    [
        ('cifar/relnas_cifar10.py', 3_928_222),  # the paper's 3.93M
        ('imagenet/relnas_imagenet_mobile.py', 5_050_029),  # the paper's 5.05M
    ])
def test_paper_parameter_counts_leave_out_the_auxiliary_head(config, expected):
    tool = _tool()
    cfg, model = _model(config)
    wrapped = tool.TensorMode(model).eval()
    inputs = torch.randn(1, 3, *tool.input_hw(cfg, None))
    assert tool.inference_params(wrapped, inputs) == expected
    aux = sum(p.numel() for p in model.auxiliary_head.parameters())
    assert aux > 0 and sum(p.numel() for p in model.parameters()) == expected + aux


def test_flops_scale_with_the_input_area():
    tool = _tool()
    _, model = _model('cifar/relnas_cifar10.py', SMALL_NET)
    small, large = tool.complexity(model, (16, 16)), tool.complexity(model, (32, 32))
    # every layer but the classifier works per pixel
    assert large['flops'] == pytest.approx(4 * small['flops'], rel=0.01)
    assert large['params_inference'] == small['params_inference'] < large['params_all']


def test_missing_input_size_is_a_clear_error():
    with pytest.raises(ValueError, match='pass --shape H W'):
        _tool().input_hw(Config(dict(model=dict(type='X'))), None)


@pytest.mark.parametrize('config, options', [
    ('det/relnas_ssd_voc.py', SMALL_DET),
    ('det/mobilenetv2_ssd_voc.py', {}),
    ('seg/relnas_bisenetv1_cityscapes-1024x1024.py', SMALL_SEG),
    ('seg/mobilenetv2_bisenetv1_cityscapes-1024x1024.py', {}),
    ('pose/relnas_simplebaseline_coco-256x192.py', SMALL_POSE),
    ('pose/mobilenetv2_simplebaseline_coco-256x192.py', {}),
])
def test_downstream_configs_are_counted(config, options):
    pytest.importorskip({'det': 'mmdet', 'seg': 'mmseg', 'pose': 'mmpose'}[config.split('/')[0]])
    tool = _tool()
    _, model = _model(config, options)
    result = tool.complexity(model, (64, 64))
    assert 0 < result['params_inference'] <= result['params_all']
    assert result['flops'] > 0
    if config.startswith('seg/'):  # the two FCN auxiliary heads only train
        aux = sum(p.numel() for p in model.auxiliary_head.parameters())
        assert result['params_all'] - result['params_inference'] == aux
