"""The search core's log lines in the run log.

The core (``relnas_mm.search``, no mmengine) logs to the standard ``'relnas_mm'``
logger: a failed CUDA graph capture, a worker's message. mmengine's ``MMLogger`` is a
logger of its own with the console and ``work_dir`` file handlers, so without a bridge
those lines reach stderr only and are missing from the run's log file.
"""
import logging

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
