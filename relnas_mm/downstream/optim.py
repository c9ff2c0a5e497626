"""``relnas_mm.LrMultOptimWrapperConstructor``: learning-rate multipliers that keep
mmengine's norm/bias weight-decay rules.

Why: mmengine's ``paramwise_cfg.custom_keys`` replace every other paramwise rule for
the parameters they match. BiSeNet's authors train the feature fusion module and the
heads with 10x the learning rate *and* without weight decay on normalisation layers
and biases everywhere; with ``custom_keys`` those modules' norm layers and biases
would get weight decay again. Here ``paramwise_cfg.lr_mult_keys`` maps name
substrings to a factor applied on top of what the other rules give.
"""
from typing import List, Optional

from mmengine.optim import DefaultOptimWrapperConstructor
from torch import nn

from relnas_mm.registry import OPTIM_WRAPPER_CONSTRUCTORS


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class LrMultOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """mmengine's constructor (same ``paramwise_cfg`` keys) plus ``lr_mult_keys``:
    ``{name substring: factor}``; a parameter whose full name contains a key gets its
    lr multiplied by that factor (the longest matching key wins, as for custom_keys)."""

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: Optional[dict] = None) -> None:
        super().__init__(optim_wrapper_cfg, paramwise_cfg)
        keys = self.paramwise_cfg.get('lr_mult_keys', {})
        if not isinstance(keys, dict) or not all(
                isinstance(k, str) and isinstance(v, (int, float)) and v >= 0
                for k, v in keys.items()):
            raise TypeError('paramwise_cfg.lr_mult_keys must map name substrings to '
                            f'non-negative numbers, got {keys!r}')
        self.lr_mult_keys = sorted(keys.items(), key=lambda kv: (-len(kv[0]), kv[0]))

    def _lr_mult(self, name: str) -> float:
        return next((mult for key, mult in self.lr_mult_keys if key in name), 1.0)

    def add_params(self, params: List[dict], module: nn.Module, prefix: str = '',
                   is_dcn_module=None) -> None:
        """mmengine's groups; the top-level call then scales each group's lr."""
        first = len(params)
        super().add_params(params, module, prefix, is_dcn_module)
        if prefix or not self.lr_mult_keys:
            return
        names = {id(p): n for n, p in module.named_parameters()}
        for group in params[first:]:
            mult = self._lr_mult(names[id(group['params'][0])])
            if mult != 1.0:
                group['lr'] = group.get('lr', self.base_lr) * mult
