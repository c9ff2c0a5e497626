"""The search core's log lines in the run log.

The core (``relnas_mm.search``, no mmengine) logs to the standard ``'relnas_mm'``
logger: a failed CUDA graph capture, a worker's message. mmengine's ``MMLogger`` is a
logger of its own with the console and ``work_dir`` file handlers, so without a bridge
those lines reach stderr only and are missing from the run's log file. ``FallbackLog``
puts the CUDA graph fallbacks of every rank in rank 0's log.
"""
import logging
from typing import Dict, List, Set

from ..search.evaluator import CandidateResult

CORE_LOGGER = 'relnas_mm'


class _ToRunLogger(logging.Handler):

    def __init__(self, target: logging.Logger) -> None:
        super().__init__()
        self.target = target

    def emit(self, record: logging.LogRecord) -> None:
        self.target.log(record.levelno, record.getMessage())


class CoreLogBridge:
    """While attached, the core logger's records go to ``target`` (and nowhere else)."""

    def __init__(self, target: logging.Logger) -> None:
        self.handler = _ToRunLogger(target)
        self._logger = logging.getLogger(CORE_LOGGER)
        self._saved = (self._logger.level, self._logger.propagate)

    def attach(self) -> None:
        self._logger.addHandler(self.handler)
        self._logger.setLevel(logging.INFO)
        self._logger.propagate = False

    def detach(self) -> None:
        self._logger.removeHandler(self.handler)
        self._logger.setLevel(self._saved[0])
        self._logger.propagate = self._saved[1]


class FallbackLog:
    """CUDA graph fallbacks of every rank, in the run log of rank 0.

    mmengine prints only errors on ranks other than 0 and gives them no log file, so a
    rank whose captures failed would run eagerly (several times slower, with every
    rank waiting for it at the gather) without a line anywhere. Each result carries
    its ``capture_failures`` and ``cuda_graphs``; rank 0 sees every rank's results after
    the gather, and ``record`` logs there one line per event: a failed capture, and a
    rank that ran candidates from graphs running one eagerly (graphs turned off).
    ``log_totals`` gives the totals per rank at the end of the search.
    """

    def __init__(self, target: logging.Logger) -> None:
        self.target = target
        #: rank -> [candidates, candidates from CUDA graphs, capture failures]
        self.totals: Dict[int, List[int]] = {}
        self._eager: Set[int] = set()  # ranks logged as gone eager (graphs off)

    def record(self, rank: int, result: CandidateResult) -> None:
        """Count ``result`` of ``rank``; log it if it fell back."""
        totals = self.totals.setdefault(rank, [0, 0, 0])
        had_graphs = totals[1] > 0
        totals[0] += 1
        totals[1] += int(result.cuda_graphs)
        totals[2] += result.capture_failures
        if result.capture_failures:
            self.target.warning(
                f'rank {rank}: CUDA graph capture failed for candidate {result.index} '
                f'({totals[2]} failure(s) on rank {rank} so far); it was rerun eagerly')
        elif had_graphs and not result.cuda_graphs and rank not in self._eager:
            self._eager.add(rank)
            self.target.warning(
                f'rank {rank}: candidate {result.index} ran eagerly, CUDA graphs are off on '
                f'rank {rank} (several times slower; every rank waits for it at the gather)')
        elif result.cuda_graphs:
            self._eager.discard(rank)

    def log_totals(self) -> None:
        """One line: per rank, candidates, those run from CUDA graphs, capture failures."""
        if not self.totals:
            return
        ranks = '; '.join(f'rank {rank}: {n} candidate(s), {graphs} from CUDA graphs, '
                          f'{failures} capture failure(s)'
                          for rank, (n, graphs, failures) in sorted(self.totals.items()))
        fell_back = any(failures or graphs < n for n, graphs, failures in self.totals.values()
                        if graphs or failures)
        self.target.log(logging.WARNING if fell_back else logging.INFO,
                        f'CUDA graphs in this run: {ranks}')
