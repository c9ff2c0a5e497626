"""tools/analysis/get_flops.py: parameters and FLOPs of every config's network."""
import os

import numpy as np
import pytest
from fixtures_downstream import SMALL_DET, SMALL_NET, SMALL_POSE, SMALL_SEG, cli_options
from fixtures_tools import REPO, check_ok, load_tool, run_tool

pytest.importorskip('mmengine')
import torch
from mmengine.config import Config

from relnas_mm.space.genotype import GENOTYPES, format_genotype


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
    for line in ('Parameters (inference): ', 'Parameters (all): ', "FLOPs (mmengine's rule): ",
                 'Multiply-adds (conv + linear): '):
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


@pytest.mark.parametrize('config, stem', [('cifar/relnas_cifar10.py', 'cifar'),
                                          ('imagenet/relnas_imagenet_mobile.py', 'imagenet')])
def test_counts_what_runs_as_the_cost_model_and_the_hooks_do(config, stem):
    """Also the work whose output nothing reads (the published reduction cell ignores its
    first input; the authors' network computes its preprocessing all the same), which
    mmengine's trace alone drops; with prune_unused that work is gone from all three."""
    from dataclasses import replace

    from fixtures_count import executed_cost

    from relnas_mm.space.cost import NetworkSpec, network_cost
    from relnas_mm.space.encoding import decode_population, random_population
    tool = _tool()
    genotypes = [GENOTYPES['RelativeNAS']] + decode_population(
        random_population(1, np.random.default_rng(0)))
    spec = NetworkSpec(stem, 8, 5, (24, 24), num_classes=10 if stem == 'cifar' else 1000)
    for genotype in genotypes:
        for prune in (False, True):
            _, model = _model(
                config, {
                    **SMALL_NET, 'model.backbone.genotype': format_genotype(genotype),
                    'model.backbone.prune_unused': prune
                })
            result = tool.complexity(model, spec.input_hw)
            cost = network_cost(genotype, replace(spec, prune_unused=prune))
            ran = executed_cost(tool.TensorMode(model).eval(), torch.randn(1, 3, *spec.input_hw))
            assert result['flops'] == cost.flops == ran['flops']
            assert result['multadds'] == cost.multadds == ran['multadds']
            assert result['params_inference'] == cost.params == ran['params']


@pytest.mark.parametrize('config, options',
                         [('det/relnas_ssd_voc.py', SMALL_DET),
                          ('seg/relnas_bisenetv1_cityscapes-1024x1024.py', SMALL_SEG),
                          ('pose/relnas_simplebaseline_coco-256x192.py', SMALL_POSE)])
def test_downstream_backbones_are_counted_as_what_runs(config, options):
    """The RelNASNet inside each downstream model: get_flops' count is the cost model's."""
    pytest.importorskip({'det': 'mmdet', 'seg': 'mmseg', 'pose': 'mmpose'}[config.split('/')[0]])
    from relnas_mm.models.backbone import RelNASNet
    from relnas_mm.space.cost import NetworkSpec, network_cost
    _, model = _model(config, options)
    net = next(m for m in model.modules() if isinstance(m, RelNASNet)).eval()
    spec = NetworkSpec('imagenet', 8, 5, (40, 56), out_indices=net.out_indices)
    cost = network_cost(net.genotype, spec)
    assert _tool().count(net, torch.randn(1, 3, *spec.input_hw)) == (cost.flops, cost.multadds)


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
