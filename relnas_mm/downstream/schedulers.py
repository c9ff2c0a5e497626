"""``relnas_mm.ExponentialWarmupLR``: the exponential warm-up of BiSeNet's authors.

Why: RelativeNAS's Cityscapes recipe (EMI-Group/TransferLearning-Tasks,
``BiSeNet/opt_utils/optimizer.py``) raises the learning rate geometrically from
1e-5 to 1e-2 over 1,000 iterations, then decays it by poly. mmengine's
``ExponentialLR`` starts at the base value and has no start factor, and its
``LinearLR`` is linear. This scheduler is ``ExponentialLR`` starting at
``start_factor`` times the current value and reaching it at the last step of
``[begin, end)``; being chainable, a ``PolyLR`` that begins at that step continues
from the full value.
"""
from mmengine.optim.scheduler import ExponentialLR
from mmengine.registry import PARAM_SCHEDULERS as MMENGINE_PARAM_SCHEDULERS
from mmengine.registry import Registry

PARAM_SCHEDULERS = Registry('parameter scheduler', parent=MMENGINE_PARAM_SCHEDULERS,
                            scope='relnas_mm', locations=['relnas_mm.downstream.schedulers'])


@PARAM_SCHEDULERS.register_module()
class ExponentialWarmupLR(ExponentialLR):
    """lr(step) = value * start_factor ** (1 - (step - begin) / (end - 1 - begin)) for
    steps in ``[begin, end)``, ``value`` being the lr it finds at ``begin``."""

    def __init__(self, optimizer, start_factor: float, begin: int = 0, end: int = 1001,
                 by_epoch: bool = False, **kwargs) -> None:
        if not 0 < start_factor <= 1:
            raise ValueError(f'ExponentialWarmupLR: start_factor must be in (0, 1], got '
                             f'{start_factor}')
        if end - begin < 2:
            raise ValueError(f'ExponentialWarmupLR: needs end - begin >= 2, got [{begin}, {end})')
        self.start_factor = start_factor
        gamma = (1.0 / start_factor)**(1.0 / (end - 1 - begin))
        super().__init__(optimizer, gamma=gamma, begin=begin, end=end, by_epoch=by_epoch, **kwargs)

    def _get_value(self) -> list:
        if self.last_step == 0:
            return [group['lr'] * self.start_factor for group in self.optimizer.param_groups]
        return super()._get_value()
