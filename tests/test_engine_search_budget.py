"""search.budget read from a config: the networks it names, the checks, the cost functions."""
import os

import pytest
import torch

pytest.importorskip('mmengine')

from mmengine.analysis import FlopAnalyzer

from relnas_mm.engine.search_budget import build_budget, build_network, network_spec
from relnas_mm.space.cost import NETWORKS, NetworkSpec, network_cost
from relnas_mm.space.genotype import GENOTYPES

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_named_networks():
    assert network_spec('imagenet_mobile', 100) == NETWORKS['imagenet_mobile']  # 1000 classes
    assert network_spec('cifar', 100) == NetworkSpec('cifar', 36, 20, (32, 32), num_classes=100)
    spec = network_spec(dict(stem_type='cifar', channels=8, num_cells=5, input_hw=[16, 16]), 10)
    assert spec.input_hw == (16, 16) and spec.num_classes == 0
    with pytest.raises(KeyError, match=r"network: unknown key\(s\) \['depth'\]"):
        network_spec(dict(stem_type='cifar', depth=5), 10)


def test_downstream_configs_give_their_backbone_at_their_input_size():
    ssd = network_spec('configs/det/relnas_ssd_voc.py', 10)
    assert ssd == NetworkSpec('imagenet', 46, 14, (320, 320), num_classes=0, out_indices=(2, 3))
    seg = network_spec('configs/seg/relnas_bisenetv1_cityscapes-1024x1024.py', 10)
    assert seg.input_hw == (1024, 2048) and seg.out_indices == (2, 3)  # nested backbone
    cls = network_spec(os.path.join(REPO, 'configs/imagenet/relnas_imagenet_mobile.py'), 10)
    assert cls == NETWORKS['imagenet_mobile']  # a classifier config: the whole classifier
    with pytest.raises(ValueError, match='has no RelNASNet in its model'):
        network_spec('configs/_base_/search_runtime.py', 10)


def test_ssdlite_backbone_cost_is_what_mmengine_counts():
    spec = network_spec('configs/det/relnas_ssd_voc.py', 10)
    net = build_network(GENOTYPES['RelativeNAS'], spec).eval()
    analyzer = FlopAnalyzer(net, (torch.randn(1, 3, 320, 320), ))
    analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    cost = network_cost(GENOTYPES['RelativeNAS'], spec)
    assert cost.flops == pytest.approx(analyzer.total(), rel=5e-3)
    assert cost.params == sum(p.numel() for p in net.parameters())


def test_budget_from_a_config_section():
    assert build_budget({}, 10, torch.device('cpu')) is None
    budget = build_budget(dict(metric='params', network='cifar', max=3e6), 10, torch.device('cpu'))
    assert budget.costs([GENOTYPES['RelativeNAS']]) == [3_928_222]
    assert budget.config()['network']['channels'] == 36
    with pytest.raises(ValueError, match='warmup/runs apply to metric="latency" only'):
        build_budget(dict(metric='flops', network='cifar', max=1, runs=3), 10, 'cpu')
    latency = build_budget(
        dict(
            metric='latency', max=50.0, warmup=0, runs=2,
            network=dict(stem_type='cifar', channels=4, num_cells=3, input_hw=(8, 8),
                         num_classes=10)), 10, torch.device('cpu'))
    first = latency.costs([GENOTYPES['DARTS_V2']])[0]
    assert first > 0 and latency.costs([GENOTYPES['DARTS_V2']])[0] == first  # cached
    assert latency.config()['device'] == 'cpu'
