"""search.budget read from a config: the networks it names, the checks, the cost functions,
the log line and the Pareto files."""
import json
import os
from dataclasses import replace

import pytest
import torch
from fixtures_tools import REPO

pytest.importorskip('mmengine')

from mmengine.analysis import FlopAnalyzer

from relnas_mm.engine.search_budget import (build_budget, build_network, cost_summary, network_spec,
                                            reevaluate_archive, save_pareto)
from relnas_mm.search.algorithm import GenerationRecord
from relnas_mm.search.latency import latency_context
from relnas_mm.space.cost import NETWORKS, NetworkSpec, network_cost
from relnas_mm.space.genotype import GENOTYPES, format_genotype


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


def test_ssdlite_backbone_cost_is_what_runs():
    """The cost of the config's network is what the network built from its spec runs
    (forward hooks); pruned, it has no dead work and mmengine's trace counts the same."""
    from fixtures_count import executed_cost
    spec = network_spec('configs/det/relnas_ssd_voc.py', 10)
    for prune in (False, True):
        spec = replace(spec, prune_unused=prune)
        net = build_network(GENOTYPES['RelativeNAS'], spec).eval()
        inputs = torch.randn(1, 3, 320, 320)
        ran = executed_cost(net, inputs)
        cost = network_cost(GENOTYPES['RelativeNAS'], spec)
        assert cost == (ran['flops'], ran['multadds'], sum(p.numel() for p in net.parameters()))
    analyzer = FlopAnalyzer(net, (inputs, ))
    analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    assert cost.flops == analyzer.total()


def test_budget_from_a_config_section():
    cpu = torch.device('cpu')
    assert build_budget({}, 10, cpu) is None
    single = build_budget(dict(metric='params', network='cifar', max=3e6), 10, cpu)
    assert single.bounds == dict(params=(None, 3e6))
    assert single.costs([GENOTYPES['RelativeNAS']]) == dict(params=[3_928_222])
    assert single.config()['network']['channels'] == 36
    several = build_budget(
        dict(network='imagenet_mobile', flops=(None, 600e6), params=[1e6, 5.5e6]), 10, cpu)
    assert several.bounds == dict(flops=(None, 600e6), params=(1e6, 5.5e6))
    cost = network_cost(GENOTYPES['RelativeNAS'], NETWORKS['imagenet_mobile'])
    assert several.costs([GENOTYPES['RelativeNAS']]) == dict(flops=[cost.flops],
                                                             params=[cost.params])
    assert several.config()['bounds'] == dict(flops=[None, 600e6], params=[1e6, 5.5e6])


@pytest.mark.parametrize('budget, error, message', [
    (dict(network='cifar',
          energy=(None, 1)), ValueError, r"search\.budget: unknown metric\(s\) \['energy'\]"),
    (dict(network='cifar', metric='energy',
          max=1), ValueError, r"search\.budget\.metric: expected one of \("),
    (dict(network='cifar',
          flops=(7e8, 6e8)), ValueError, r'search\.budget\.flops: flops: min 7e\+08 > max 6e\+08'),
    (dict(network='cifar',
          params=(-1, None)), ValueError, r'search\.budget\.params: params: bound -1 is negative'),
    (dict(network='cifar', metric='flops',
          max=-5), ValueError, r'search\.budget\.max: flops: bound -5 is negative'),
    (dict(network='cifar', flops=600e6), ValueError, r'search\.budget\.flops: .*\(min, max\)'),
    (dict(network='resnet', flops=(None, 1)), ValueError,
     r"search\.budget\.network: expected one of \['cifar', 'imagenet_mobile'\]"),
    (dict(network='configs/nowhere.py', flops=(None, 1)), FileNotFoundError,
     r"search\.budget\.network: config file 'configs/nowhere\.py' not found"),
    (dict(flops=(None, 1)), KeyError, r'search\.budget\.network is missing'),
    (dict(network='cifar'), KeyError, r'search\.budget: no metric is bounded'),
    (dict(network='cifar', metric='flops'), KeyError, r"missing \['max'\]"),
    (dict(network='cifar', metric='flops', max=1,
          params=(None, 1)), KeyError, r"no range \(got \['params'\]\)"),
    (dict(network='cifar', flops=(None, 1),
          runs=3), ValueError, 'warmup/runs apply to a latency budget only'),
    (dict(network='cifar', flops=(None, 1),
          reevaluate='yes'), ValueError, r'search\.budget\.reevaluate: expected True or False'),
])
def test_bad_budget_names_the_key(budget, error, message):
    with pytest.raises(error, match=message):
        build_budget(budget, 10, torch.device('cpu'))


def test_latency_uses_the_networks_input_channels_and_a_device_aware_cache():
    network = dict(stem_type='cifar', channels=4, num_cells=3, input_hw=(8, 8), num_classes=10,
                   in_channels=1)  # a 3-channel input would not run
    latency = build_budget(
        dict(latency=(None, 50.0), warmup=0, runs=2, network=network), 10, torch.device('cpu'))
    first = latency.costs([GENOTYPES['DARTS_V2']])['latency'][0]
    assert first > 0 and latency.costs([GENOTYPES['DARTS_V2']])['latency'][0] == first  # cached
    assert 'device' not in latency.config()  # a resume on another device is allowed...
    key, = latency.cache  # ...and measures again: the device is in the cache key
    assert key == f'latency on {latency_context("cpu")}'
    assert f'{torch.get_num_threads()} thread(s), fp32' in key and '(cpu)' in key


def test_cost_summary_gives_the_feasible_share_and_the_repairs():
    budget = build_budget(
        dict(network='cifar', flops=(None, 5e8), params=(None, 4e6)), 10, torch.device('cpu'))
    record = GenerationRecord(generation=1, lr=0.1, drop_prob=0.0, pairs=[[0, 1]],
                              losses=[1.0, 2.0], accs=[0.5, 0.4], train_losses=[1.0, 1.0], fast=[0],
                              slow=[1], best_index=0, best_loss=1.0, best_acc=0.5, mean_loss=1.5,
                              diversity=0.0, best_genotype='', genotypes=['a', 'b'],
                              costs=dict(flops=[4e8, 6e8], params=[3e6,
                                                                   3e6]), violations=[0.0, 0.2],
                              feasible=[True,
                                        False], best_cost=dict(flops=4e8,
                                                               params=3e6), repairs=2, redrawn=0)
    text, scalars = cost_summary(record, budget)
    assert 'best cost 400.00M FLOPs, 3.00M params' in text
    assert 'mean cost 500.00M FLOPs, 3.00M params' in text
    assert text.endswith('feasible 1/2 (50%)  repairs 2')
    assert scalars['feasible_share'] == 0.5 and scalars['repairs'] == 2
    assert cost_summary(record, None) == ('', {})


def test_pareto_files_say_which_front_they_hold(tmp_path):
    budget = build_budget(dict(network='cifar', flops=(None, 5e8)), 10, torch.device('cpu'))

    A, B, C = (format_genotype(GENOTYPES[n]) for n in ('RelativeNAS', 'DARTS_V2', 'PC_DARTS'))

    def record(generation, losses, flops):
        return dict(generation=generation, genotypes=[A, B, C], losses=losses, accs=[0.1, 0.2, 0.3],
                    costs=dict(flops=flops), feasible=[True] * 3)

    history = [
        record(0, [0.1, 0.2, 0.3], [1e8, 2e8, 3e8]),
        record(1, [2.0, 1.0, 3.0], [3e8, 2e8, 1e8])
    ]
    save_pareto(history, budget, str(tmp_path), plot=False)
    with open(tmp_path / 'pareto.json') as f:
        final = json.load(f)
    # generation 0's losses (0.1, 0.2) would dominate: they are not comparable, not used
    assert final['front_of'] == 'final_generation' and final['num_candidates'] == 3
    assert [(e['generation'], e['genotype']) for e in final['front']] == [(1, C), (1, B)]
    assert final['bounds'] == dict(flops=[None, 5e8])

    class Record:  # what reevaluate_archive reads of a GenerationRecord

        def __init__(self, data):
            self.data = data

        def to_dict(self):
            return self.data

    scores = {A: (0.5, 0.7), B: (0.4, 0.8), C: (0.9, 0.1)}
    archive = reevaluate_archive([Record(r) for r in history], lambda g: scores[format_genotype(g)])
    assert [(e['genotype'], e['val_loss'], e['generation']) for e in archive] == [(A, 0.5, 1),
                                                                                  (B, 0.4, 1),
                                                                                  (C, 0.9, 1)]
    assert archive[0]['costs'] == dict(flops=3e8)  # the costs of the cell, from the history
    save_pareto(history, budget, str(tmp_path), plot=True, reevaluated=archive)
    with open(tmp_path / 'pareto.json') as f:
        whole = json.load(f)
    assert whole['front_of'] == 'reevaluated_archive' and whole['num_candidates'] == 3
    assert [e['genotype'] for e in whole['front']] == [C, B]
    assert os.path.getsize(tmp_path / 'pareto.png') > 1000
