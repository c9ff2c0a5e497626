"""Linear drop-path ramp for the final training of a cell network (as DARTS)."""
from typing import Optional

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from ..registry import HOOKS


@HOOKS.register_module()
class DropPathRampHook(Hook):
    """Before each training epoch set ``backbone.drop_path_prob = rate * epoch / max_epochs``.

    DARTS starts without drop path and reaches ``rate`` only at the end, so strong
    regularisation does not slow early training.

    Args:
        rate: the final probability; None uses the backbone's ``drop_path_rate``.
    """

    priority = 'NORMAL'

    def __init__(self, rate: Optional[float] = None) -> None:
        if rate is not None and not 0.0 <= rate < 1.0:
            raise ValueError(f'DropPathRampHook: rate must be in [0, 1), got {rate}')
        self.rate = rate

    def before_train_epoch(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        backbone = getattr(model, 'backbone', model)
        if not hasattr(backbone, 'drop_path_prob'):
            raise AttributeError(f'DropPathRampHook: {type(backbone).__name__} has no '
                                 f'drop_path_prob attribute to ramp')
        rate = backbone.drop_path_rate if self.rate is None else self.rate
        backbone.drop_path_prob = rate * runner.epoch / runner.max_epochs
