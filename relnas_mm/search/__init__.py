"""How the space is searched: slow-fast learning, the weight set, candidate estimation.

Plain PyTorch and numpy, no mmengine; the mmengine hook/loop drive ``RelativeNAS``.
"""
from .algorithm import GenerationRecord, RelativeNAS, drop_prob_at, job_seed, lr_at
from .augment import augment_batch, normalize
from .budget import METRICS, Budget, candidates, pareto_front
from .evaluator import (CandidateEvaluator, CandidateJob, CandidateResult, EagerEvaluator,
                        SearchData, SuperNetEvaluator, split_search_data)
from .fast_evaluator import FastEvaluator
from .fast_parallel import EVALUATORS, ParallelEvaluate, evaluator_class, make_evaluate
from .latency import measure_latency
from .slow_fast import (constrained_first_is_fast, diversity, draw_coefficients, first_is_fast,
                        fitness, initial_population, make_pairs, slow_fast_update, split_fast_slow,
                        violation)
from .weight_set import Contribution, WeightSet

__all__ = [
    'GenerationRecord', 'RelativeNAS', 'drop_prob_at', 'job_seed', 'lr_at', 'augment_batch',
    'normalize', 'CandidateEvaluator', 'CandidateJob', 'CandidateResult', 'EagerEvaluator',
    'FastEvaluator', 'ParallelEvaluate', 'make_evaluate', 'EVALUATORS', 'SuperNetEvaluator',
    'evaluator_class', 'SearchData', 'split_search_data', 'diversity', 'draw_coefficients',
    'first_is_fast', 'fitness', 'initial_population', 'make_pairs', 'slow_fast_update',
    'split_fast_slow', 'Contribution', 'WeightSet', 'METRICS', 'Budget', 'candidates',
    'pareto_front', 'measure_latency', 'constrained_first_is_fast', 'violation'
]
