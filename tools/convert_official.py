"""Convert a checkpoint of the authors' reference code (DARTS layout) to relnas_mm.

    python tools/convert_official.py IN.pt OUT.pth [--network cifar|imagenet|auto]
        [--genotype NAME_OR_TEXT_OR_JSON] [--backbone-only]

Output: ``{'meta': {...}, 'state_dict': ...}``. Without ``--backbone-only`` the keys
(``backbone.*``, ``classifier.*``, ``auxiliary_head.*``) load with strict=True into
``RelNASClassifier``; a detector/segmentor/pose backbone takes them with
``init_cfg=dict(type='Pretrained', checkpoint=OUT, prefix='backbone.')``. With
``--backbone-only`` the keys have no prefix and load into ``RelNASNet`` directly:
``init_cfg=dict(type='Pretrained', checkpoint=OUT)``.
Every key is placed or the conversion fails naming it; the result is verified by
loading it (strict) into the relnas_mm model before it is written.
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

import torch

from relnas_mm.models.backbone import RelNASNet
from relnas_mm.models.classifiers import RelNASClassifier
from relnas_mm.models.converters import (ConversionError, NetworkInfo, check_keys,
                                         convert_state_dict, infer_network,
                                         load_official_checkpoint, strip_to_backbone)
from relnas_mm.space.genotype import GenotypeError, format_genotype, get_genotype


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='checkpoint saved by the authors\' code (DARTS keys)')
    parser.add_argument('dst', help='output checkpoint (mmengine style)')
    parser.add_argument('--network', choices=['auto', 'cifar', 'imagenet'], default='auto',
                        help='network type (default: detected from the stem keys)')
    parser.add_argument(
        '--genotype', default='RelativeNAS',
        help='cell the checkpoint was trained with: shipped name, '
        'Genotype(...) text or JSON path (default: RelativeNAS)')
    parser.add_argument('--backbone-only', action='store_true',
                        help='keep only the backbone, without the backbone. prefix')
    return parser.parse_args(argv)


def backbone_cfg(info: NetworkInfo, genotype_text: str) -> dict:
    """The RelNASNet config of the checkpoint's network."""
    cfg = dict(type='relnas_mm.RelNASNet', genotype=genotype_text, base_channels=info.base_channels,
               num_cells=info.num_cells, stem_type=info.network)
    if info.network == 'cifar':
        cfg['stem_multiplier'] = info.stem_multiplier
    return cfg


def build_target(info: NetworkInfo, genotype_text: str, backbone_only: bool) -> dict:
    """The config of the model the converted keys must load into."""
    backbone = backbone_cfg(info, genotype_text)
    if backbone_only:
        return backbone
    return dict(type='relnas_mm.RelNASClassifier', backbone=dict(backbone, out_indices=(3, )),
                num_classes=info.num_classes, auxiliary_weight=0.4 if info.auxiliary else 0.0)


def instantiate(cfg: dict) -> torch.nn.Module:
    """Build the target model directly (no registry scope needed in a script)."""
    cfg = dict(cfg)
    kind = cfg.pop('type')
    if kind.endswith('RelNASNet'):
        return RelNASNet(**cfg)
    backbone = dict(cfg.pop('backbone'))
    backbone.pop('type')
    return RelNASClassifier(RelNASNet(**backbone), **cfg)


def convert(src: str, dst: str, network: str = 'auto', genotype: str = 'RelativeNAS',
            backbone_only: bool = False) -> dict:
    """Convert ``src`` into ``dst``; returns the written meta data."""
    genotype_obj = get_genotype(genotype)
    genotype_text = format_genotype(genotype_obj)
    sd = load_official_checkpoint(src)
    info = infer_network(sd, network)
    converted = convert_state_dict(sd, genotype_obj, info)
    if backbone_only:
        converted = strip_to_backbone(converted)
    model_cfg = build_target(info, genotype_text, backbone_only)
    model = instantiate(model_cfg)
    filled = check_keys(converted, model.state_dict().keys())
    model.load_state_dict(converted, strict=True)  # also checks every shape
    meta = dict(
        source=osp.basename(src), network=info.network, base_channels=info.base_channels,
        num_cells=info.num_cells, num_classes=info.num_classes, auxiliary=info.auxiliary,
        genotype=genotype_text, backbone_only=backbone_only, model=model_cfg,
        filled_num_batches_tracked=len(filled))
    torch.save({'meta': meta, 'state_dict': converted}, dst)
    return meta


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    try:
        meta = convert(args.src, args.dst, args.network, args.genotype, args.backbone_only)
    except (ConversionError, GenotypeError, RuntimeError) as exc:
        print(f'convert_official: {exc}', file=sys.stderr)
        return 1
    print(f'converted {args.src} ({meta["network"]}, C={meta["base_channels"]}, '
          f'{meta["num_cells"]} cells, {meta["num_classes"]} classes, auxiliary head: '
          f'{meta["auxiliary"]}) -> {args.dst}' +
          (' [backbone only]' if args.backbone_only else ''))
    if meta['filled_num_batches_tracked']:
        print(f'note: {meta["filled_num_batches_tracked"]} BatchNorm num_batches_tracked '
              f'counters were absent and set to 0')
    return 0


if __name__ == '__main__':
    sys.exit(main())
