"""The weight set: one SuperNet state that every candidate inherits from and writes back to.

A candidate starts from a snapshot of the set, trains only its own operations, and
after its pair is decided contributes back: per op module, the fast learner's
weights if it used the module, else the slow learner's if it did, else nothing;
everything shared (stem, preprocessing, classifier, their BN statistics) comes from
the fast learner. A candidate with a non-finite loss contributes nothing.

Snapshots are shallow: write-back replaces tensors in the set, it never writes into
them, so a snapshot handed to a job stays valid while later pairs write back.
Evaluators must treat a snapshot as read-only.
"""
from dataclasses import dataclass
from typing import Callable, Collection, Dict, Iterator, Mapping, Optional

import torch

from ..models.supernet import op_module_of
from .numerics import Device

State = Dict[str, torch.Tensor]


@dataclass(frozen=True)
class Contribution:
    """What one pair member offers the set: the op modules it ran and its trained state.

    ``state`` is None when the candidate's loss was non-finite (it offers nothing).
    """

    used: Collection[str]
    state: Optional[Mapping[str, torch.Tensor]]


class WeightSet:
    """The shared state, keyed like ``SuperNet.state_dict()``.

    Args:
        state: initial tensors (copied).
        device: where the set lives; defaults to the device of the first tensor.
        module_of: maps a key to its op-module prefix, or None for shared keys.
    """

    def __init__(self, state: Mapping[str, torch.Tensor], device: Device = None,
                 module_of: Callable[[str], Optional[str]] = op_module_of) -> None:
        if not state:
            raise ValueError('WeightSet needs a non-empty state dict')
        first = next(iter(state.values()))
        self.device = torch.device(device) if device is not None else first.device
        self.module_of = module_of
        self._state: State = {k: v.detach().to(self.device, copy=True) for k, v in state.items()}

    def __len__(self) -> int:
        return len(self._state)

    def __iter__(self) -> Iterator[str]:
        return iter(self._state)

    def __getitem__(self, key: str) -> torch.Tensor:
        return self._state[key]

    def copy(self) -> 'WeightSet':
        """An independent set sharing the tensors (cheap: they are never written in place)."""
        other = WeightSet.__new__(WeightSet)
        other.device, other.module_of, other._state = self.device, self.module_of, dict(self._state)
        return other

    def snapshot(self) -> State:
        """The current state as a new dict sharing the (read-only) tensors."""
        return dict(self._state)

    def write_back(self, fast: Contribution, slow: Contribution) -> None:
        """Apply one decided pair's contributions (see the module docstring).

        A contributed state needs only the keys taken from it (the shared ones and
        the candidate's own op modules); a missing one is an error and nothing changes.
        """
        fast_used, slow_used = set(fast.used), set(slow.used)
        plan = {}
        for key in self._state:
            source = self._source(self.module_of(key), fast, slow, fast_used, slow_used)
            if source is None:
                continue
            if key not in source:
                raise KeyError(f'write-back: the trained state lacks {key!r}')
            plan[key] = source[key]
        for key, value in plan.items():
            self._state[key] = value.detach().to(self.device, copy=True)

    @staticmethod
    def _source(module: Optional[str], fast: Contribution, slow: Contribution, fast_used: set,
                slow_used: set) -> Optional[Mapping[str, torch.Tensor]]:
        if module is None or module in fast_used:
            return fast.state
        if module in slow_used:
            return slow.state
        return None

    def state_dict(self) -> State:
        """A CPU copy, for checkpoints."""
        return {k: v.detach().to('cpu', copy=True) for k, v in self._state.items()}

    def load_state_dict(self, state: Mapping[str, torch.Tensor]) -> None:
        """Replace the set's tensors; keys and shapes must match exactly."""
        missing = [k for k in self._state if k not in state]
        unexpected = [k for k in state if k not in self._state]
        if missing or unexpected:
            raise KeyError(f'weight-set state does not match: missing {missing[:3]}, '
                           f'unexpected {unexpected[:3]}')
        for key, value in state.items():
            if tuple(value.shape) != tuple(self._state[key].shape):
                raise ValueError(f'weight-set key {key!r}: shape {tuple(value.shape)} '
                                 f'differs from expected {tuple(self._state[key].shape)}')
        self._state = {k: state[k].detach().to(self.device, copy=True) for k in self._state}
