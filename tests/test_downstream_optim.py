"""relnas_mm.LrMultOptimWrapperConstructor with the Cityscapes config's settings: which
parameters get which learning rate and weight decay (BiSeNet's authors' groups)."""
import pytest
from fixtures_downstream import SMALL_SEG
from fixtures_tools import tool_config
from torch import nn

pytest.importorskip('mmengine')
from mmengine.optim import build_optim_wrapper

from relnas_mm.downstream.optim import LrMultOptimWrapperConstructor

SEG = 'configs/seg/relnas_bisenetv1_cityscapes-1024x1024.py'


def _groups(model: nn.Module, optim_wrapper: dict):
    """{parameter name: (lr, weight decay)} of the optimizer the config builds."""
    optimizer = build_optim_wrapper(model, optim_wrapper).optimizer
    names = {id(p): n for n, p in model.named_parameters()}
    return {
        names[id(p)]: (g['lr'], g['weight_decay'])
        for g in optimizer.param_groups
        for p in g['params']
    }


def test_bisenet_config_gives_10x_lr_to_fusion_and_heads_and_no_decay_to_norms_and_biases():
    pytest.importorskip('mmseg')
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import MODELS, DefaultScope

    from relnas_mm.apis import register_scope_modules
    cfg = tool_config('train', SEG)
    cfg.merge_from_dict(SMALL_SEG)
    with DefaultScope.overwrite_default_scope(register_scope_modules(cfg)):
        model = revert_sync_batchnorm(MODELS.build(cfg.model))
        groups = _groups(model, cfg.optim_wrapper)
    norm_params = {
        f'{m}.{n}'
        for m, mod in model.named_modules() if isinstance(mod, nn.modules.batchnorm._BatchNorm)
        for n, _ in mod.named_parameters(recurse=False)
    }
    # every parameter but the backbone's frozen BN affine ones (in no group, as the authors')
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert sorted(groups) == sorted(trainable) and len(trainable) < len(list(model.parameters()))
    counts = {'fast': 0, 'slow': 0, 'no_decay': 0}
    for name, (lr, decay) in groups.items():
        fast = name.startswith(('backbone.ffm.', 'decode_head.', 'auxiliary_head.'))
        assert lr == pytest.approx(0.1 if fast else 0.01), name
        no_decay = name in norm_params or name.endswith('.bias')
        assert decay == (0.0 if no_decay else 0.0005), name
        counts['fast' if fast else 'slow'] += 1
        counts['no_decay'] += no_decay
    # all three kinds occur, and the 10x modules' norm layers have no decay either
    assert min(counts.values()) > 0
    assert groups['backbone.ffm.conv.bn.weight'] == (pytest.approx(0.1), 0.0)
    assert groups['decode_head.conv_seg.bias'] == (pytest.approx(0.1), 0.0)
    assert groups['backbone.ffm.conv.conv.weight'] == (pytest.approx(0.1), 0.0005)


def test_longest_matching_key_wins_and_bad_keys_are_named():
    model = nn.Sequential()
    model.add_module('head', nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2)))
    cfg = dict(constructor='relnas_mm.LrMultOptimWrapperConstructor',
               optimizer=dict(type='SGD', lr=1.0,
                              weight_decay=0.1), paramwise_cfg=dict(lr_mult_keys={
                                  'head': 10.0,
                                  'head.1': 3.0
                              }))
    groups = _groups(model, cfg)
    assert groups['head.0.weight'] == (10.0, 0.1) and groups['head.1.weight'] == (3.0, 0.1)
    with pytest.raises(TypeError, match='lr_mult_keys must map name substrings'):
        LrMultOptimWrapperConstructor(
            dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=1)),
            dict(lr_mult_keys={'head': 'ten'}))
