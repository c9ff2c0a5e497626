"""The analytic cost model against tools/analysis/get_flops.py on the networks it builds."""
import dataclasses

import numpy as np
import pytest

from relnas_mm.space.cost import NETWORKS, NetworkSpec, network_cost
from relnas_mm.space.encoding import decode_population, random_population
from relnas_mm.space.genotype import GENOTYPES


def _get_flops():
    from fixtures_tools import load_tool
    return load_tool('analysis/get_flops')


def _counted(genotype, spec: NetworkSpec):
    """What get_flops.py reports for the classifier (or backbone) of ``spec``."""
    import torch
    from mmengine.analysis import FlopAnalyzer

    from relnas_mm.models.backbone import RelNASNet
    from relnas_mm.models.classifiers import RelNASClassifier
    backbone = dict(type='RelNASNet', genotype=genotype, base_channels=spec.channels,
                    num_cells=spec.num_cells, stem_type=spec.stem_type,
                    stem_multiplier=spec.stem_multiplier, out_indices=spec.out_indices)
    if spec.num_classes:
        result = _get_flops().complexity(
            RelNASClassifier(backbone, spec.num_classes).eval(), spec.input_hw)
        return result['flops'], result['params_inference']
    # a backbone alone (a detector's): mmengine's counter directly, as get_flops counts
    net = RelNASNet(**{k: v for k, v in backbone.items() if k != 'type'}).eval()
    analyzer = FlopAnalyzer(net, (torch.randn(1, 3, *spec.input_hw), ))
    analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    return int(analyzer.total()), sum(p.numel() for p in net.parameters())


@pytest.mark.e2e
def test_100_random_genotypes_agree_with_get_flops():
    pytest.importorskip('mmengine')
    genotypes = decode_population(random_population(100, np.random.default_rng(0)))
    # small networks (odd input sizes: every stride-2 layer rounds up), both stems,
    # classifiers and backbones whose other stages feed a neck
    specs = [
        NetworkSpec('imagenet', 4, 4, (23, 19), num_classes=7),
        NetworkSpec('cifar', 4, 3, (9, 11), num_classes=3, stem_multiplier=2),
        NetworkSpec('imagenet', 6, 5, (33, 33), out_indices=(2, 3)),
        NetworkSpec('cifar', 4, 4, (8, 8), out_indices=(0, 1))
    ]
    for i, genotype in enumerate(genotypes):
        spec = specs[i % len(specs)]
        flops, params = _counted(genotype, spec)
        cost = network_cost(genotype, spec)
        assert cost.flops == pytest.approx(flops, rel=5e-3), (i, spec)
        assert cost.params == params, (i, spec)


@pytest.mark.parametrize('name', ['RelativeNAS', 'DARTS_V2'])
def test_paper_networks_agree_with_get_flops(name):
    pytest.importorskip('mmengine')
    for spec in NETWORKS.values():
        flops, params = _counted(GENOTYPES[name], spec)
        cost = network_cost(GENOTYPES[name], spec)
        assert cost.flops == pytest.approx(flops, rel=5e-3)
        assert cost.params == params


def test_published_cell_numbers():
    # the paper's parameter counts (auxiliary head excluded) and get_flops' multiply-adds
    assert network_cost(GENOTYPES['RelativeNAS'],
                        NETWORKS['imagenet_mobile']) == (545_464_688, 5_050_029)
    assert network_cost(GENOTYPES['RelativeNAS'], NETWORKS['cifar']).params == 3_928_222


def test_cost_grows_with_the_input_and_the_operations():
    spec = NETWORKS['imagenet_mobile']
    genotype = GENOTYPES['DARTS_V2']
    big = NetworkSpec('imagenet', 46, 14, (320, 320), num_classes=1000)
    assert network_cost(genotype, big).flops > 1.9 * network_cost(genotype, spec).flops
    assert network_cost(genotype, big).params == network_cost(genotype, spec).params
    pools = GENOTYPES['DARTS_V2']._replace(normal=[('max_pool_3x3', i)
                                                   for _, i in GENOTYPES['DARTS_V2'].normal])
    assert network_cost(pools, spec).flops < network_cost(genotype, spec).flops


def test_random_cells_cost_more_on_larger_inputs_with_the_same_parameters():
    genotypes = decode_population(random_population(50, np.random.default_rng(1)))
    spec = NETWORKS['imagenet_mobile']
    big = dataclasses.replace(spec, input_hw=(256, 256))
    for genotype in genotypes:
        small_cost, big_cost = network_cost(genotype, spec), network_cost(genotype, big)
        assert big_cost.params == small_cost.params and big_cost.flops > small_cost.flops


@pytest.mark.parametrize('kwargs, message', [
    (dict(stem_type='resnet'), 'stem_type must be one of'),
    (dict(channels=5), 'channels must be even'),
    (dict(num_cells=2), 'num_cells must be >= 3'),
    (dict(input_hw=(32, )), 'input_hw must be two positive integers'),
    (dict(num_classes=-1), 'num_classes must be an integer >= 0'),
])
def test_bad_network_is_refused(kwargs, message):
    base = dict(stem_type='cifar', channels=4, num_cells=3, input_hw=(8, 8))
    with pytest.raises(ValueError, match=message):
        NetworkSpec(**{**base, **kwargs})
