"""Parameters, FLOPs and multiply-adds of the network of any config in this repository.

    python tools/analysis/get_flops.py CONFIG [--shape H W] [--cfg-options KEY=VALUE ...]

The network runs once on a random (1, 3, H, W) batch in eval mode, as at test time
(``mode='tensor'``: no data preprocessor, no post-processing, no training-only
heads). H, W default to the config's ``input_hw``. Everything that runs is counted,
also work whose result nothing reads (a cell input the cell never uses: the authors'
networks compute it): mmengine's flop counter traces the network and would drop such
work as dead code, so every module's output is kept alive in the trace.

Two conventions:

* FLOPs: mmengine's flop counter (fvcore's rules): one per multiply-add of a
  convolution, linear layer or matrix product, 2 per element of an eval-mode batch
  norm, 1 per input element of an adaptive average pooling, upsampling by its
  interpolation; element-wise operations and the 3x3 pools count nothing;
* multiply-adds: those of convolutions, linear layers and matrix products only (the
  "MAdds" of the NAS papers' mobile setting, < 600M).

"Parameters (inference)" counts the modules that ran; "Parameters (all)" also
counts training-only modules (auxiliary heads).
"""
import argparse
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.analysis import FlopAnalyzer
from mmengine.config import Config, DictAction
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import MODELS, DefaultScope
from torch import nn

from relnas_mm.apis import bind_top_level, register_scope_modules, set_num_classes


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Count parameters and FLOPs of a model')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                        help="input height and width (default: the config's input_hw)")
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. model.backbone.genotype=PATH')
    return parser.parse_args()


#: mmengine's operator names (``FlopAnalyzer.by_operator``) that are multiply-adds.
MULTADD_OPS = ('conv', 'linear', 'addmm', 'mm', 'matmul', 'bmm', 'einsum')


class TensorMode(nn.Module):
    """Calls an OpenMMLab model the way its test-time network runs: ``mode='tensor'``."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, inputs: torch.Tensor):
        return self.model(inputs, None, mode='tensor')


def _tensors(output: Any) -> List[torch.Tensor]:
    """The tensors in a module's output (a tensor, or tuples, lists and dicts of them)."""
    if isinstance(output, torch.Tensor):
        return [output]
    if isinstance(output, dict):
        output = list(output.values())
    if isinstance(output, (list, tuple)):
        return [t for item in output for t in _tensors(item)]
    return []


class EveryOutput(nn.Module):
    """``model``'s output plus the tensor outputs of all its modules.

    Returning them makes every module's work an output of the jit trace, so none of
    what runs is dropped as dead code and the flop counter counts what runs.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, inputs: torch.Tensor) -> Tuple[Any, Tuple[torch.Tensor, ...]]:
        kept: List[torch.Tensor] = []
        hooks = [
            m.register_forward_hook(lambda _, __, out: kept.extend(_tensors(out)))
            for m in self.model.modules()
        ]
        try:
            output = self.model(inputs)
        finally:
            for hook in hooks:
                hook.remove()
        return output, tuple(kept)


def build_model(cfg: Config) -> nn.Module:
    """The config's model in eval mode, with SyncBN replaced (it needs a process group)."""
    with DefaultScope.overwrite_default_scope(register_scope_modules(cfg)):
        model = MODELS.build(cfg.model)
    return revert_sync_batchnorm(model).eval()


def input_hw(cfg: Config, shape: Sequence[int]) -> Tuple[int, int]:
    """``--shape`` if given, else the config's ``input_hw``; a clear error otherwise."""
    hw = shape or cfg.get('input_hw')
    if hw is None or len(hw) != 2:
        raise ValueError(f"{cfg.filename or 'the config'}: no input size; pass --shape H W "
                         '(or set input_hw = (H, W) in the config)')
    return int(hw[0]), int(hw[1])


def inference_params(model: nn.Module, inputs: torch.Tensor) -> int:
    """Parameters of the modules that take part in a test-time forward pass."""
    ran = set()
    hooks = [m.register_forward_hook(lambda mod, *_: ran.add(mod)) for m in model.modules()]
    try:
        with torch.no_grad():
            model(inputs)
    finally:
        for hook in hooks:
            hook.remove()
    return sum(p.numel() for m in ran for p in m.parameters(recurse=False))


def count(module: nn.Module, inputs: torch.Tensor) -> Tuple[int, int]:
    """FLOPs and multiply-adds of ``module(inputs)``: all of what runs, dead work included."""
    analyzer = FlopAnalyzer(EveryOutput(module), (inputs, ))
    # the modules the trace does not call are training-only heads
    analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    by_operator = analyzer.by_operator()
    return int(analyzer.total()), int(sum(by_operator.get(op, 0) for op in MULTADD_OPS))


def complexity(model: nn.Module, hw: Tuple[int, int]) -> Dict[str, int]:
    """``{'flops', 'multadds', 'params_inference', 'params_all'}`` of ``model`` (an
    OpenMMLab model) on a (1, 3, H, W) input."""
    wrapped = TensorMode(model).eval()
    inputs = torch.randn(1, 3, *hw)
    flops, multadds = count(wrapped, inputs)
    return dict(flops=flops, multadds=multadds, params_inference=inference_params(wrapped, inputs),
                params_all=sum(p.numel() for p in model.parameters()))


def make_config(path: str, cfg_options: Optional[Dict] = None) -> Config:
    """The config with ``--cfg-options`` merged and its top-level ``genotype`` /
    ``pretrained`` bound to the model, as tools/train.py reads it."""
    cfg = Config.fromfile(path)
    if cfg_options is not None:
        cfg.merge_from_dict(cfg_options)
    bind_top_level(cfg, cfg_options)
    set_num_classes(cfg)
    if cfg.model.get('num_classes', 0) is None:
        raise ValueError(f'{path}: model.num_classes=None takes the number of class folders of '
                         'its image-folder datasets, and they are not there: pass '
                         '--cfg-options model.num_classes=N')
    return cfg


def main() -> None:
    args = parse_args()
    cfg = make_config(args.config, args.cfg_options)
    hw = input_hw(cfg, args.shape)
    result = complexity(build_model(cfg), hw)
    print(f'Config: {args.config}')
    print(f'Input shape: (1, 3, {hw[0]}, {hw[1]})')
    print(f"Parameters (inference): {result['params_inference'] / 1e6:.2f} M "
          f"({result['params_inference']:,})")
    print(f"Parameters (all): {result['params_all'] / 1e6:.2f} M ({result['params_all']:,})")
    print(f"FLOPs (mmengine's rule): {result['flops'] / 1e9:.3f} G ({result['flops']:,})")
    print(f"Multiply-adds (conv + linear): {result['multadds'] / 1e9:.3f} G "
          f"({result['multadds']:,})")


if __name__ == '__main__':
    main()
