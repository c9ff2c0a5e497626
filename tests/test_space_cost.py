"""The cost model equals what the built networks run, counted independently with forward hooks.

Every network a genotype is built into is covered: the search network (SuperNet), and
RelNASNet as the cifar, imagenet, det, seg and pose configs build it, with and without
``prune_unused``. The real-size networks are built on the meta device (shapes only,
nothing computed).
"""
import contextlib
import os
from dataclasses import replace
from typing import Any, Mapping, Optional

import numpy as np
import pytest
import torch
from fixtures_count import executed_cost
from fixtures_tools import REPO

from relnas_mm.models.supernet import SuperNet
from relnas_mm.space.cost import NETWORKS, NetworkSpec, network_cost
from relnas_mm.space.encoding import decode_population, random_population
from relnas_mm.space.genotype import GENOTYPES

CONFIGS = {
    'cifar': 'configs/cifar/relnas_cifar10.py',
    'imagenet': 'configs/imagenet/relnas_imagenet_mobile.py',
    'det': 'configs/det/relnas_ssd_voc.py',
    'seg': 'configs/seg/relnas_bisenetv1_cityscapes-1024x1024.py',
    'pose': 'configs/pose/relnas_simplebaseline_coco-256x192.py',
}
#: small networks of every kind: both stems, odd input sizes (every stride-2 layer rounds
#: up), classifiers and backbones read at various stages, as the downstream necks read them
SMALL = [
    NetworkSpec('imagenet', 4, 4, (23, 19), num_classes=7),
    NetworkSpec('cifar', 2, 3, (9, 11), num_classes=3, stem_multiplier=2),
    NetworkSpec('imagenet', 6, 5, (33, 33), out_indices=(2, 3)),
    NetworkSpec('cifar', 2, 4, (8, 8), out_indices=(0, 1)),
    NetworkSpec('imagenet', 2, 6, (40, 24), out_indices=(0, 1, 2, 3)),
    NetworkSpec('imagenet', 2, 7, (17, 16), out_indices=(1, )),
]
SEARCH_PROXY = dict(channels=16, num_cells=8, num_classes=10)  # configs/search/relnas_cifar.py


def _genotypes(n: int, seed: int) -> list:
    return decode_population(random_population(n, np.random.default_rng(seed)))


def build_relnasnet(genotype, spec: NetworkSpec, device: str = 'cpu',
                    **backbone: Any) -> torch.nn.Module:
    """RelNASNet (with a classifier when ``spec`` has one) on ``device``."""
    from relnas_mm.models.backbone import RelNASNet
    from relnas_mm.models.classifiers import RelNASClassifier
    cfg = dict(base_channels=spec.channels, num_cells=spec.num_cells, stem_type=spec.stem_type,
               stem_multiplier=spec.stem_multiplier, in_channels=spec.in_channels,
               out_indices=spec.out_indices)
    cfg.update(backbone, genotype=genotype, prune_unused=spec.prune_unused)
    # (a device context slows every torch call: only the meta device needs one)
    with torch.device('meta') if device == 'meta' else contextlib.nullcontext():
        net = RelNASNet(**cfg)
        net = RelNASClassifier(net, spec.num_classes, auxiliary_weight=0.0) \
            if spec.num_classes else net
    return net.eval()


def check_relnasnet(genotype, spec: NetworkSpec, device: str = 'cpu', **backbone: Any) -> None:
    """network_cost(genotype, spec) equals what RelNASNet runs, and its parameters."""
    net = build_relnasnet(genotype, spec, device, **backbone)
    ran = executed_cost(net, torch.zeros(1, spec.in_channels, *spec.input_hw, device=device))
    cost = network_cost(genotype, spec)
    assert (cost.flops, cost.multadds) == (ran['flops'], ran['multadds']), spec
    assert cost.params == sum(p.numel() for p in net.parameters()) == ran['params'], spec


def check_supernet(net: SuperNet, genotype, spec: NetworkSpec) -> None:
    """network_cost equals what the search network runs for ``genotype``; the parameters
    are those of the modules that ran (the candidate's network)."""
    net.set_genotype(genotype)
    device = next(net.parameters()).device
    ran = executed_cost(net, torch.zeros(1, 3, *spec.input_hw, device=device))
    cost = network_cost(genotype, spec)
    assert cost == (ran['flops'], ran['multadds'], ran['params']), spec


def _find_backbone(node: Any) -> Optional[Mapping]:
    if isinstance(node, Mapping):
        if str(node.get('type', '')).endswith('RelNASNet'):
            return node
        node = list(node.values())
    if isinstance(node, (list, tuple)):
        return next((b for b in map(_find_backbone, node) if b is not None), None)
    return None


def config_network(name: str):
    """(the RelNASNet arguments of a shipped config, its NetworkSpec)."""
    pytest.importorskip('mmengine')
    from mmengine.config import Config

    from relnas_mm.engine.search_budget import spec_from_config
    path = os.path.join(REPO, CONFIGS[name])
    backbone = dict(_find_backbone(Config.fromfile(path, import_custom_modules=False).model))
    backbone.pop('type')
    backbone.pop('genotype', None)
    return backbone, spec_from_config(path)


# ----------------------------------------------------------------------------- equality
def test_1000_random_genotypes_cost_what_runs():
    """1,000 random genotypes over the small networks of every kind and the search network,
    each network with and without prune_unused (one pairing per genotype, in turn)."""
    pytest.importorskip('mmengine')
    proxy_spec = NetworkSpec('cifar', 2, 3, (8, 8), num_classes=3)
    supernets = {p: SuperNet(2, 3, num_classes=3, prune_unused=p).eval() for p in (False, True)}
    pairings = [(spec, prune) for spec in SMALL + [None] for prune in (False, True)]
    pruned_less = 0
    for i, genotype in enumerate(_genotypes(1000, 0)):
        spec, prune = pairings[i % len(pairings)]
        kind = replace(spec or proxy_spec, prune_unused=prune)
        if spec is None:
            check_supernet(supernets[prune], genotype, kind)
        else:
            check_relnasnet(genotype, kind)
        full, pruned = (
            network_cost(genotype, replace(kind, prune_unused=p)) for p in (False, True))
        assert all(a >= b for a, b in zip(full, pruned))
        pruned_less += full != pruned
    assert pruned_less > 300  # random cells often leave an input or a cell unread


@pytest.mark.parametrize('name', sorted(CONFIGS))
@pytest.mark.parametrize('prune', [False, True])
def test_shipped_networks_cost_what_runs(name, prune):
    """The networks of the shipped configs at their real structure: the published cell
    at the config's input size (on the meta device), the other published cells and a
    random one at a smaller input."""
    backbone, spec = config_network(name)
    spec = replace(spec, prune_unused=prune)
    check_relnasnet(GENOTYPES['RelativeNAS'], spec, 'meta', **backbone)
    for genotype in [GENOTYPES['DARTS_V2'], GENOTYPES['PC_DARTS']] + _genotypes(1, 1):
        check_relnasnet(genotype, replace(spec, input_hw=(40, 48)), **backbone)


@pytest.mark.parametrize('prune', [False, True])
def test_search_network_costs_what_runs(prune):
    spec = NetworkSpec('cifar', 16, 8, (32, 32), num_classes=10, prune_unused=prune)
    with torch.device('meta'):
        net = SuperNet(**SEARCH_PROXY, prune_unused=prune).eval()
    for genotype in list(GENOTYPES.values()) + _genotypes(5, 2):
        check_supernet(net, genotype, spec)


def test_hook_rules_are_mmengines():
    """The hook counter's rules against mmengine's flop counter, on networks with no
    dead work (pruned), where its trace drops nothing."""
    pytest.importorskip('mmengine')
    from mmengine.analysis import FlopAnalyzer
    for i, genotype in enumerate(_genotypes(4, 3) + [GENOTYPES['RelativeNAS']]):
        spec = replace(SMALL[i % 3], prune_unused=True)
        net = build_relnasnet(genotype, spec).eval()
        inputs = torch.randn(1, 3, *spec.input_hw)
        analyzer = FlopAnalyzer(net, (inputs, ))
        analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        assert executed_cost(net, inputs)['flops'] == analyzer.total() > 0


# ----------------------------------------------------------------------------- numbers
def test_published_cell_numbers():
    """The paper's parameters (auxiliary head excluded) and the mobile-setting count."""
    imagenet = network_cost(GENOTYPES['RelativeNAS'], NETWORKS['imagenet_mobile'])
    assert imagenet.params == 5_050_029
    assert imagenet.multadds == 562_973_760  # 563.0M < 600M: the mobile setting
    assert network_cost(GENOTYPES['RelativeNAS'], NETWORKS['cifar']).params == 3_928_222
    # its reduction cell never reads input 0: pruning drops that preprocessing
    pruned = network_cost(GENOTYPES['RelativeNAS'],
                          replace(NETWORKS['imagenet_mobile'], prune_unused=True))
    assert pruned.multadds < imagenet.multadds and pruned.params < imagenet.params


def test_cost_grows_with_the_input_and_the_operations():
    spec = NETWORKS['imagenet_mobile']
    genotype = GENOTYPES['DARTS_V2']
    big = replace(spec, input_hw=(320, 320))
    assert network_cost(genotype, big).flops > 1.9 * network_cost(genotype, spec).flops
    assert network_cost(genotype, big).params == network_cost(genotype, spec).params
    pools = genotype._replace(normal=[('max_pool_3x3', i) for _, i in genotype.normal])
    assert network_cost(pools, spec).multadds < network_cost(genotype, spec).multadds


@pytest.mark.parametrize('kwargs, message', [
    (dict(stem_type='resnet'), 'stem_type must be one of'),
    (dict(channels=5), 'channels must be even'),
    (dict(num_cells=2), 'num_cells must be >= 3'),
    (dict(input_hw=(32, )), 'input_hw must be two positive integers'),
    (dict(num_classes=-1), 'num_classes must be an integer >= 0'),
    (dict(prune_unused='yes'), 'prune_unused must be True or False'),
])
def test_bad_network_is_refused(kwargs, message):
    base = dict(stem_type='cifar', channels=4, num_cells=3, input_hw=(8, 8))
    with pytest.raises(ValueError, match=message):
        NetworkSpec(**{**base, **kwargs})
