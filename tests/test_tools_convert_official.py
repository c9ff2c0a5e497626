"""tools/convert_official.py on checkpoints made here in the authors' (DARTS) layout.

``DartsNet`` below is an independent, minimal re-statement of DARTS's
NetworkCIFAR / NetworkImageNet module layout (positional ``nn.Sequential`` s,
``_ops`` lists): converting its state dict and loading it into relnas_mm must give
the same outputs.
"""
import argparse

import pytest
import torch
import torch.nn.functional as F
from fixtures_tools import load_tool
from torch import nn

from relnas_mm.models.backbone import RelNASNet
from relnas_mm.models.classifiers import RelNASClassifier
from relnas_mm.models.converters import ConversionError, load_official_checkpoint
from relnas_mm.space import GENOTYPES, format_genotype

convert_official = load_tool('convert_official')


def relu_conv_bn(c_in, c_out):
    return nn.Sequential(nn.ReLU(), nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out))


class FactRed(nn.Module):

    def __init__(self, c_in, c_out):
        super().__init__()
        self.relu = nn.ReLU()
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x):
        x = self.relu(x)
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(x[:, :, 1:, 1:])], 1))


class Wrapped(nn.Module):
    """A DARTS op: everything inside ``self.op`` (so keys read ``op.<index>``)."""

    def __init__(self, *layers):
        super().__init__()
        self.op = nn.Sequential(*layers)

    def forward(self, x):
        return self.op(x)


def dil(c, k, stride, pad, dilation):
    return [
        nn.ReLU(),
        nn.Conv2d(c, c, k, stride, pad, dilation=dilation, groups=c, bias=False),
        nn.Conv2d(c, c, 1, bias=False),
        nn.BatchNorm2d(c)
    ]


def darts_op(name, c, stride):
    k = 3 if name.endswith('3x3') else 5
    if name.startswith('sep_conv'):
        return Wrapped(*dil(c, k, stride, k // 2, 1), *dil(c, k, 1, k // 2, 1))
    if name.startswith('dil_conv'):
        return Wrapped(*dil(c, k, stride, k - 1, 2))
    if name == 'max_pool_3x3':
        return nn.MaxPool2d(3, stride, 1)
    if name == 'avg_pool_3x3':
        return nn.AvgPool2d(3, stride, 1, count_include_pad=False)
    return nn.Identity() if stride == 1 else FactRed(c, c)


class DartsCell(nn.Module):

    def __init__(self, genotype, c_pp, c_p, c, reduction, reduction_prev):
        super().__init__()
        self.preprocess0 = FactRed(c_pp, c) if reduction_prev else Wrapped(*relu_conv_bn(c_pp, c))
        self.preprocess1 = Wrapped(*relu_conv_bn(c_p, c))
        pairs = genotype.reduce if reduction else genotype.normal
        self._indices = [i for _, i in pairs]
        self._ops = nn.ModuleList(
            darts_op(name, c, 2 if reduction and i < 2 else 1) for name, i in pairs)

    def forward(self, s0, s1):
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for j in range(4):
            states.append(sum(self._ops[k](states[self._indices[k]]) for k in (2 * j, 2 * j + 1)))
        return torch.cat(states[2:], 1)


def aux_head(c, num_classes, imagenet):
    layers = [
        nn.ReLU(),
        nn.AvgPool2d(5, 2 if imagenet else 3, 0, count_include_pad=False),
        nn.Conv2d(c, 128, 1, bias=False),
        nn.BatchNorm2d(128),
        nn.ReLU(),
        nn.Conv2d(128, 768, 2, bias=False)
    ]
    layers += [nn.ReLU()] if imagenet else [nn.BatchNorm2d(768), nn.ReLU()]
    head = nn.Module()
    head.features = nn.Sequential(*layers)
    head.classifier = nn.Linear(768, num_classes)
    return head


class DartsNet(nn.Module):
    """NetworkCIFAR (imagenet=False) or NetworkImageNet (imagenet=True), DARTS keys."""

    def __init__(self, genotype, c, layers, num_classes, imagenet):
        super().__init__()
        self.imagenet = imagenet
        if imagenet:
            self.stem0 = nn.Sequential(
                nn.Conv2d(3, c // 2, 3, 2, 1, bias=False), nn.BatchNorm2d(c // 2), nn.ReLU(),
                nn.Conv2d(c // 2, c, 3, 2, 1, bias=False), nn.BatchNorm2d(c))
            self.stem1 = nn.Sequential(nn.ReLU(), nn.Conv2d(c, c, 3, 2, 1, bias=False),
                                       nn.BatchNorm2d(c))
            c_pp, c_p, red_prev = c, c, True
        else:
            self.stem = nn.Sequential(
                nn.Conv2d(3, 3 * c, 3, padding=1, bias=False), nn.BatchNorm2d(3 * c))
            c_pp, c_p, red_prev = 3 * c, 3 * c, False
        self.cells = nn.ModuleList()
        self.aux_at = 2 * layers // 3
        c_curr = c
        for i in range(layers):
            red = i in (layers // 3, 2 * layers // 3)
            c_curr *= 2 if red else 1
            self.cells.append(DartsCell(genotype, c_pp, c_p, c_curr, red, red_prev))
            red_prev = red
            c_pp, c_p = c_p, 4 * c_curr
            if i == self.aux_at:
                c_aux = c_p
        self.auxiliary_head = aux_head(c_aux, num_classes, imagenet)
        self.classifier = nn.Linear(c_p, num_classes)

    def forward(self, x):
        if self.imagenet:
            s0 = self.stem0(x)
            s1 = self.stem1(s0)
        else:
            s0 = s1 = self.stem(x)
        aux = None
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1)
            if i == self.aux_at:
                aux = self.auxiliary_head.classifier(self.auxiliary_head.features(s1).flatten(1))
        return self.classifier(F.adaptive_avg_pool2d(s1, 1).flatten(1)), aux


def randomize_bn(net):
    """Non-trivial BN statistics/affines, so that a misplaced BN key changes outputs."""
    gen = torch.Generator().manual_seed(0)
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            for t in (m.weight, m.bias, m.running_mean):
                t.data.copy_(torch.randn(t.shape, generator=gen) * 0.2 + (t is m.weight))
            m.running_var.data.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)


def save_authors(net, path, wrap=True):
    sd = {'module.' + k: v for k, v in net.state_dict().items()}
    torch.save({'state_dict': sd, 'epoch': 3} if wrap else sd, path)


@pytest.fixture(params=['cifar', 'imagenet'])
def darts_ckpt(request, tmp_path):
    imagenet = request.param == 'imagenet'
    torch.manual_seed(0)
    net = DartsNet(GENOTYPES['RelativeNAS'], 8, 5, 7, imagenet).eval()
    randomize_bn(net)
    path = tmp_path / 'authors.pt'
    save_authors(net, path)
    size = 224 if imagenet else 32
    return request.param, net, path, torch.randn(2, 3, size, size)


def test_converted_classifier_gives_the_authors_outputs(darts_ckpt, tmp_path):
    network, net, path, x = darts_ckpt
    out = tmp_path / 'ours.pth'
    assert convert_official.main([str(path), str(out)]) == 0
    ckpt = torch.load(out, weights_only=True)
    assert ckpt['meta']['network'] == network and ckpt['meta']['num_cells'] == 5
    model = convert_official.instantiate(ckpt['meta']['model'])
    assert isinstance(model, RelNASClassifier)
    model.load_state_dict(ckpt['state_dict'], strict=True)
    model.eval()
    with torch.no_grad():
        expected, _ = net(x)
        assert torch.allclose(model(x), expected, atol=1e-5)
    # Training mode: batch statistics, and the auxiliary head is used.
    net.train()
    model.train()
    labels = torch.tensor([1, 4])
    with torch.no_grad():
        logits, aux = net(x)
        losses = model(x, labels, mode='loss')
    assert torch.allclose(losses['loss_cls'], F.cross_entropy(logits, labels), atol=1e-5)
    assert torch.allclose(losses['loss_aux'], 0.4 * F.cross_entropy(aux, labels), atol=1e-5)


def test_backbone_only_loads_into_relnasnet(darts_ckpt, tmp_path):
    network, net, path, x = darts_ckpt
    out = tmp_path / 'backbone.pth'
    assert convert_official.main([str(path),
                                  str(out), '--backbone-only', '--network', network]) == 0
    sd = torch.load(out, weights_only=True)['state_dict']
    assert not any(k.startswith(('backbone.', 'classifier.', 'auxiliary_head.')) for k in sd)
    backbone = RelNASNet(base_channels=8, num_cells=5, stem_type=network, out_indices=(3, )).eval()
    backbone.load_state_dict(sd, strict=True)
    with torch.no_grad():
        feature = backbone(x)[0]
        logits = net.classifier(F.adaptive_avg_pool2d(feature, 1).flatten(1))
        assert torch.allclose(logits, net.eval()(x)[0], atol=1e-5)


def test_pretrained_init_cfg_with_prefix_loads_the_full_checkpoint(darts_ckpt, tmp_path):
    network, net, path, x = darts_ckpt
    out = tmp_path / 'full.pth'
    assert convert_official.main([str(path), str(out)]) == 0
    backbone = RelNASNet(base_channels=8, num_cells=5, stem_type=network, out_indices=(3, ),
                         init_cfg=dict(type='Pretrained', checkpoint=str(out), prefix='backbone.'))
    backbone.init_weights()
    name = 'cells.4.preprocess1.bn.running_var'
    assert torch.equal(backbone.state_dict()[name],
                       net.state_dict()['cells.4.preprocess1.op.2.running_var'])


def test_unknown_key_is_an_error_naming_it(tmp_path, capsys):
    net = DartsNet(GENOTYPES['RelativeNAS'], 8, 5, 7, False)
    sd = net.state_dict()
    sd['cells.1.extra_layer.weight'] = torch.zeros(3)
    torch.save(sd, tmp_path / 'a.pt')
    assert convert_official.main([str(tmp_path / 'a.pt'), str(tmp_path / 'b.pth')]) == 1
    assert 'cells.1.extra_layer.weight' in capsys.readouterr().err
    assert not (tmp_path / 'b.pth').exists()


def test_key_of_a_parameterless_op_is_an_error(tmp_path, capsys):
    # cell 0, op 6 of the published normal cell is an identity (skip_connect at stride 1):
    # a checkpoint with weights there was trained with another genotype.
    sd = DartsNet(GENOTYPES['RelativeNAS'], 8, 5, 7, False).state_dict()
    sd['cells.0._ops.6.op.1.weight'] = torch.zeros(8, 1, 3, 3)
    torch.save(sd, tmp_path / 'a.pt')
    assert convert_official.main([str(tmp_path / 'a.pt'), str(tmp_path / 'b.pth')]) == 1
    err = capsys.readouterr().err
    assert 'cells.0._ops.6.op.1.weight' in err and 'skip_connect' in err


def test_wrong_genotype_is_detected(tmp_path, capsys):
    sd = DartsNet(GENOTYPES['DARTS_V2'], 8, 5, 7, False).state_dict()
    torch.save(sd, tmp_path / 'a.pt')
    assert convert_official.main([str(tmp_path / 'a.pt'), str(tmp_path / 'b.pth')]) == 1
    assert 'cannot place key' in capsys.readouterr().err
    assert convert_official.main([
        str(tmp_path / 'a.pt'),
        str(tmp_path / 'b.pth'), '--genotype',
        format_genotype(GENOTYPES['DARTS_V2'])
    ]) == 0


def test_missing_key_is_an_error_naming_it(tmp_path, capsys):
    sd = DartsNet(GENOTYPES['RelativeNAS'], 8, 5, 7, False).state_dict()
    del sd['cells.2._ops.0.op.6.weight']
    torch.save(sd, tmp_path / 'a.pt')
    assert convert_official.main([str(tmp_path / 'a.pt'), str(tmp_path / 'b.pth')]) == 1
    assert 'backbone.cells.2.ops.0.1.pw.weight' in capsys.readouterr().err


def test_old_checkpoint_without_num_batches_tracked_is_accepted(tmp_path):
    sd = {
        k: v
        for k, v in DartsNet(GENOTYPES['RelativeNAS'], 8, 5, 7, False).state_dict().items()
        if not k.endswith('num_batches_tracked')
    }
    torch.save(sd, tmp_path / 'a.pt')
    meta = convert_official.convert(str(tmp_path / 'a.pt'), str(tmp_path / 'b.pth'))
    assert meta['filled_num_batches_tracked'] > 0


def test_wrong_network_and_unreadable_files(tmp_path, capsys):
    sd = DartsNet(GENOTYPES['RelativeNAS'], 8, 5, 7, False).state_dict()
    torch.save(sd, tmp_path / 'a.pt')
    assert convert_official.main(
        [str(tmp_path / 'a.pt'),
         str(tmp_path / 'b.pth'), '--network', 'imagenet']) == 1
    assert 'cifar' in capsys.readouterr().err
    torch.save({'state_dict': sd, 'args': argparse.Namespace(lr=0.1)}, tmp_path / 'pickled.pt')
    with pytest.raises(ConversionError, match='weights_only=True'):
        load_official_checkpoint(str(tmp_path / 'pickled.pt'))
    torch.save({'epoch': 1, 'optimizer': {}}, tmp_path / 'nosd.pt')
    with pytest.raises(ConversionError, match='expected a state dict'):
        load_official_checkpoint(str(tmp_path / 'nosd.pt'))
    with pytest.raises(ConversionError, match='does not exist'):
        load_official_checkpoint(str(tmp_path / 'missing.pt'))
