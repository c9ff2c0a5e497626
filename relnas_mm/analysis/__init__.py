"""Evidence about searched cells: trained against random cells of the same space.

``compare`` (cells, random sampling, size matching, statistics, the report) and
``runs`` (run directories, spreading runs over processes) are plain Python/numpy;
``train_run`` is the mmengine worker that trains and tests one run.
"""
from .compare import (SIZE_TOLERANCE, Cell, bootstrap_difference, draw_random_cells, format_report,
                      named_cells, percentile_among, sampling_rng, summarize, within_size)
from .runs import Job, Progress, Slot, cpu_slots, gpu_slots, read_result, run_dir, run_jobs

__all__ = [
    'SIZE_TOLERANCE', 'Cell', 'bootstrap_difference', 'draw_random_cells', 'format_report',
    'named_cells', 'percentile_among', 'sampling_rng', 'summarize', 'within_size', 'Job',
    'Progress', 'Slot', 'cpu_slots', 'gpu_slots', 'read_result', 'run_dir', 'run_jobs'
]
