"""relnas_mm.models.classifiers: the CIFAR/ImageNet evaluation networks."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.optim import OptimWrapper
from mmengine.structures import BaseDataElement

import relnas_mm  # noqa: F401  (registers the models)
from relnas_mm.models.backbone import RelNASNet
from relnas_mm.models.classifiers import RelNASClassifier, cifar_network, imagenet_network
from relnas_mm.models.heads import AuxiliaryHeadCIFAR, AuxiliaryHeadImageNet
from relnas_mm.registry import MODELS


def n_params(model: RelNASClassifier) -> int:
    return sum(p.numel() for name, p in model.named_parameters()
               if not name.startswith('auxiliary_head.'))


def test_parameter_counts_equal_the_authors():
    """Published cell, auxiliary head excluded: 3,928,222 (CIFAR-10), 5,050,029 (ImageNet)."""
    assert n_params(cifar_network('RelativeNAS')) == 3_928_222
    assert n_params(imagenet_network('RelativeNAS')) == 5_050_029


def tiny_cifar(**kwargs) -> RelNASClassifier:
    torch.manual_seed(0)
    return cifar_network(channels=4, num_cells=5, num_classes=5, **kwargs)


def samples(labels):
    return [BaseDataElement(gt_label=torch.tensor([k])) for k in labels]


def test_built_from_a_config_dict():
    model = MODELS.build(
        dict(
            type='relnas_mm.RelNASClassifier', num_classes=3,
            backbone=dict(type='relnas_mm.RelNASNet', base_channels=4, num_cells=3,
                          stem_type='cifar')))
    assert isinstance(model.auxiliary_head, AuxiliaryHeadCIFAR)
    assert model.auxiliary_cell == 2  # 2 * 3 // 3
    assert model.backbone.out_indices == (3, )
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 3)


def test_heads_follow_the_stem_type():
    assert isinstance(tiny_cifar().auxiliary_head, AuxiliaryHeadCIFAR)
    net = imagenet_network(channels=4, num_cells=5, num_classes=5)
    assert isinstance(net.auxiliary_head, AuxiliaryHeadImageNet)
    # the ImageNet head has no BN after its 768-channel conv
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in net.auxiliary_head.modules()) == 1


def test_loss_has_the_auxiliary_term_only_in_training():
    model = tiny_cifar()
    x, labels = torch.randn(4, 3, 32, 32), [0, 1, 2, 4]
    model.train()
    losses = model(x, samples(labels), mode='loss')
    assert set(losses) == {'loss_cls', 'loss_aux'}
    target = torch.tensor(labels)
    with torch.no_grad():
        stages, tapped = model.backbone.forward_with_cells(x, (model.auxiliary_cell, ))
        logits = model.classifier(stages[-1].mean(dim=(2, 3)))
        aux = model.auxiliary_head(tapped[model.auxiliary_cell])
    assert torch.allclose(losses['loss_cls'], F.cross_entropy(logits, target), atol=1e-6)
    assert torch.allclose(losses['loss_aux'], 0.4 * F.cross_entropy(aux, target), atol=1e-6)
    model.eval()
    assert set(model(x, samples(labels), mode='loss')) == {'loss_cls'}


def test_auxiliary_weight_zero_builds_no_head():
    model = tiny_cifar(auxiliary_weight=0.0).train()
    assert not hasattr(model, 'auxiliary_head') and not model.with_auxiliary
    assert set(model(torch.randn(2, 3, 32, 32), [0, 1], mode='loss')) == {'loss_cls'}


def test_label_smoothing_and_label_formats_agree():
    model = tiny_cifar(label_smoothing=0.1).eval()
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        expected = F.cross_entropy(model(x), torch.tensor([1, 0, 3]), label_smoothing=0.1)
        for labels in (samples([1, 0, 3]), [{
                'gt_label': 1
        }, {
                'gt_label': 0
        }, {
                'gt_label': 3
        }], [1, 0, 3], torch.tensor([1, 0, 3])):
            assert torch.allclose(model(x, labels, mode='loss')['loss_cls'], expected)


@pytest.mark.parametrize('labels,match', [(None, 'gt_label'), ([BaseDataElement()], 'gt_label'),
                                          ([{
                                              'gt_label': 0.5
                                          }], 'one integer')])
def test_bad_labels(labels, match):
    with pytest.raises(ValueError, match=match):
        tiny_cifar()(torch.randn(1, 3, 32, 32), labels, mode='loss')


def test_predict_returns_scored_samples():
    model = tiny_cifar().eval()
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        logits = model(x)
        out = model(x, samples([2, 0, 1]), mode='predict')
    assert len(out) == 3
    for i, sample in enumerate(out):
        assert torch.allclose(sample.pred_score, logits[i].softmax(0))
        assert sample.pred_label.tolist() == [int(logits[i].argmax())]
        assert sample.gt_label.tolist() == [[2, 0, 1][i]]
    assert len(model(x, mode='predict')) == 3
    with pytest.raises(ValueError, match='invalid mode'):
        model(x, mode='logits')


def test_train_step_through_the_data_preprocessor():
    model = tiny_cifar()
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    data = dict(inputs=[torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8) for _ in range(4)],
                data_samples=samples([0, 1, 2, 3]))
    before = model.classifier.weight.clone()
    log = model.train_step(data, optim)
    assert set(log) == {'loss', 'loss_cls', 'loss_aux'}
    assert not torch.equal(before, model.classifier.weight)
    preds = model.val_step(data)
    assert len(preds) == 4 and preds[0].pred_score.shape == (5, )


def test_auxiliary_head_input_size_is_checked():
    model = tiny_cifar().train()
    with pytest.raises(ValueError, match='8x8'):
        model(torch.randn(2, 3, 64, 64), [0, 1], mode='loss')


@pytest.mark.parametrize('kwargs,error,match', [
    (dict(num_classes=0), ValueError, 'num_classes'),
    (dict(auxiliary_weight=-1), ValueError, 'auxiliary_weight'),
    (dict(auxiliary_cell=9), ValueError, 'auxiliary_cell'),
    (dict(backbone=dict(base_channels=4, num_cells=3, out_indices=(1, 2))), ValueError,
     'end with 3'),
    (dict(backbone=torch.nn.Conv2d(3, 3, 1)), TypeError, 'RelNASNet'),
])
def test_bad_arguments(kwargs, error, match):
    args = dict(backbone=dict(base_channels=4, num_cells=3, stem_type='cifar'), num_classes=3)
    with pytest.raises(error, match=match):
        RelNASClassifier(**dict(args, **kwargs))


def test_networks_build_under_another_default_scope():
    """An mmdet/mmengine runner's default scope must not hide RelNASNet from the helpers."""
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmengine'):
        assert isinstance(cifar_network(channels=4, num_cells=3).backbone, RelNASNet)
        net = RelNASClassifier(dict(genotype='RelativeNAS', base_channels=4, num_cells=3), 10)
        assert isinstance(net.backbone, RelNASNet)
