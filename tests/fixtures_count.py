"""What a built network executes, counted with forward hooks (independent of the cost model).

``from fixtures_count import executed_cost``. Every leaf module that runs adds its work,
from the shapes it really sees, under the two conventions of ``relnas_mm.space.cost``:
``flops`` (mmengine's flop counter's rules: convolution and linear multiply-adds, 2 per
element of an eval-mode affine BatchNorm (1 without affine), 1 per input element of an
adaptive average pooling) and ``multadds`` (convolution and linear only). A module with
parameters of another type fails the count, so nothing is silently left out. Works on
the meta device (shapes only), so real-size networks count without computing.
"""
from typing import Dict, Tuple

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

#: the modules that count, all under mmengine's rules, convolution and linear also as multadds
COUNTED = (nn.Conv2d, nn.Linear, _BatchNorm, nn.AdaptiveAvgPool2d)


def _hook(counts: Dict[str, int]):

    def hook(module: nn.Module, args: Tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        counts['params'] += sum(p.numel() for p in module.parameters())
        if isinstance(module, nn.Conv2d):
            kh, kw = module.kernel_size
            work = out.numel() * (module.in_channels // module.groups) * kh * kw
            counts['flops'] += work
            counts['multadds'] += work
        elif isinstance(module, nn.Linear):
            work = out.numel() * module.in_features
            counts['flops'] += work
            counts['multadds'] += work
        elif isinstance(module, _BatchNorm):
            assert not module.training, 'an eval-mode network: the test-time count'
            counts['flops'] += args[0].numel() * (2 if module.affine else 1)
        else:
            counts['flops'] += args[0].numel()  # adaptive average pooling

    return hook


def executed_cost(network: nn.Module, inputs: torch.Tensor) -> Dict[str, int]:
    """``{'flops', 'multadds', 'params'}`` of a forward pass of the eval-mode ``network``
    on ``inputs``; ``params`` are those of the modules that ran.

    ``inputs`` must hold one image: the counts are per image.
    """
    assert inputs.shape[0] == 1 and not network.training
    counts = {'flops': 0, 'multadds': 0, 'params': 0}
    counted = [m for m in network.modules() if isinstance(m, COUNTED)]
    for name, module in network.named_modules():
        assert isinstance(module, COUNTED) or not list(module.parameters(recurse=False)), \
            f'{name}: no counting rule for {type(module).__name__}, which has parameters'
    hook = _hook(counts)
    handles = [m.register_forward_hook(hook) for m in counted]
    try:
        with torch.inference_mode():
            network(inputs)
    finally:
        for handle in handles:
            handle.remove()
    return counts
