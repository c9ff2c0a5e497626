"""Batch-1 latency of a cell's network as a latency budget measures it, and how noisy it is.

    python tools/analysis/measure_latency.py [GENOTYPE ...] [--network NAME|CONFIG]
        [--device cpu|cuda] [--warmup 5] [--runs 20] [--repeats 5]

Each genotype (a shipped name, DARTS text or a genotype JSON file; default: the three
shipped cells) is measured ``--repeats`` times, each measurement being what the search
caches for a candidate (median of ``--runs`` timed passes after ``--warmup``); the
spread of the repeats is the noise a latency budget works with.
"""
import argparse
import statistics

import torch

from relnas_mm.engine.search_budget import build_network, network_spec
from relnas_mm.search.latency import latency_context, measure_latency
from relnas_mm.space.cost import network_cost
from relnas_mm.space.genotype import GENOTYPES, get_genotype


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Measure batch-1 latency of cell networks')
    parser.add_argument('genotypes', nargs='*', default=sorted(GENOTYPES))
    parser.add_argument('--network', default='imagenet_mobile',
                        help='imagenet_mobile, cifar or a downstream config file')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--warmup', type=int, default=5)
    parser.add_argument('--runs', type=int, default=20)
    parser.add_argument('--repeats', type=int, default=5)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    spec = network_spec(args.network, num_classes=10)
    print(f'{spec.describe()} on {latency_context(args.device)}; '
          f'each value: median of {args.runs} runs after {args.warmup} warm-up runs')
    for name in args.genotypes:
        genotype = get_genotype(name)
        net = build_network(genotype, spec)
        times = [
            measure_latency(net, spec.input_hw, args.device, args.warmup, args.runs,
                            spec.in_channels) for _ in range(args.repeats)
        ]
        mean = statistics.mean(times)
        spread = (max(times) - min(times)) / mean
        cv = statistics.pstdev(times) / mean
        print(f'{name[:40]:40s} {network_cost(genotype, spec).flops / 1e6:8.1f}M FLOPs  '
              f'latency {" ".join(f"{t:.2f}" for t in times)} ms  '
              f'spread {100 * spread:.1f}%  cv {100 * cv:.1f}%')


if __name__ == '__main__':
    main()
