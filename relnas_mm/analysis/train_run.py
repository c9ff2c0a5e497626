"""One run of a comparison, in its own process: train a config, test it, write result.json.

    python -m relnas_mm.analysis.train_run RUN_DIR [--metric accuracy/top1]

``RUN_DIR/config.py`` is the complete config (cell, seed, budget and work dir set by
tools/analysis/compare_cells.py). It goes through the same checks and Runner as
tools/train.py, then the trained model is tested once. A run killed half-way resumes
from its latest checkpoint in RUN_DIR. A fresh process per run: mmengine keeps
loggers, message hubs and visualizers as process-wide instances.
"""
import argparse
import os
import time
from typing import Any, Dict

from mmengine.config import Config

from relnas_mm.analysis.runs import RESULT_FILE, write_json
from relnas_mm.apis import build_runner, preflight

CONFIG_FILE = 'config.py'


def train_and_test(cfg: Config) -> Dict[str, float]:
    """Train ``cfg`` (resuming from the latest checkpoint in its work dir, if any) and
    return the test metrics of the trained model."""
    # mmengine's auto-resume reads ``last_checkpoint``; without one, nothing is loaded
    cfg.resume = os.path.isfile(os.path.join(cfg.work_dir, 'last_checkpoint'))
    cfg.load_from = None
    phases = ('train', 'val', 'test') if cfg.get('val_cfg') is not None else ('train', 'test')
    preflight(cfg, phases)
    runner = build_runner(cfg)  # registers the config's scope, as in tools/train.py
    runner.train()
    return runner.test()


def run(directory: str, metric: str) -> Dict[str, Any]:
    """Train and test ``directory/config.py``; write and return ``result.json``."""
    cfg = Config.fromfile(os.path.join(directory, CONFIG_FILE))
    cfg.work_dir = directory
    start = time.monotonic()
    metrics = train_and_test(cfg)
    if metric not in metrics:
        raise KeyError(f'{directory}: the test metrics have no {metric!r} (they have '
                       f'{sorted(metrics)}); pass --metric with one of these')
    result = dict(
        top1=float(metrics[metric]), seconds=round(time.monotonic() - start, 1), metrics={
            k: float(v)
            for k, v in metrics.items() if isinstance(v, (int, float))
        })
    write_json(os.path.join(directory, RESULT_FILE), result)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description='Train and test one run of a comparison')
    parser.add_argument('run_dir', help='a run directory holding config.py')
    parser.add_argument('--metric', default='accuracy/top1', help='the test metric to record')
    args = parser.parse_args()
    run(args.run_dir, args.metric)


if __name__ == '__main__':
    main()
