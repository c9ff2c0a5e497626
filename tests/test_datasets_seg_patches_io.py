"""Patches of label maps: majority vote with a threshold, ignored pixels, layouts, bad input."""
import os

import numpy as np
import pytest
from fixtures_downstream import make_cityscapes
from PIL import Image

from relnas_mm.datasets.crop_io import AnnotationError, cut_pieces
from relnas_mm.datasets.seg_patches_io import (CITYSCAPES_CLASSES, LAYOUTS, PairLayout,
                                               PatchSettings, patch_votes, plan_patches,
                                               read_label_map, scan_pairs)

IGNORE = 255


def _votes(labels: np.ndarray, **kwargs) -> list:
    return patch_votes(labels, PatchSettings(('a', 'b', 'c'), patch_size=4, **kwargs)).tolist()


def test_majority_with_threshold_and_ignored_pixels_never_voting():
    labels = np.full((4, 8), IGNORE)
    # left patch: 9 pixels of class 1, 5 of class 2, 2 ignored -> class 1 (9/16)
    labels[:, :4].flat[:9] = 1
    labels[:, :4].flat[9:14] = 2
    # right patch: 7 pixels of class 2, 9 ignored: the ignored pixels are the most
    # but do not vote; class 2 covers 7/16 < 0.5 of the patch -> skipped
    labels[:, 4:].flat[:7] = 2
    assert _votes(labels) == [[0, 0, 1]]
    assert _votes(labels, min_share=0.4) == [[0, 0, 1], [0, 4, 2]]
    assert _votes(labels, min_share=0.6) == []
    # stride 2: a patch in between (columns 2..5): 4 pixels of class 1, 6 of class 2
    assert _votes(labels, stride=2, min_share=0.3) == [[0, 0, 1], [0, 2, 2], [0, 4, 2]]


def test_cityscapes_layout_patches(tmp_path):
    root = make_cityscapes(str(tmp_path), size=(64, 128), per_split=2)
    images, maps = scan_pairs(root, LAYOUTS['cityscapes'])
    assert [os.path.relpath(p, root) for p in maps] == [
        os.path.join('gtFine', 'train', 'aachen', f'aachen_{i:06d}_000019_gtFine_labelTrainIds.png')
        for i in range(2)
    ]
    with pytest.warns(UserWarning, match=r'16 class\(es\) without any piece .*: sidewalk, '):
        plan = plan_patches(images, maps,
                            PatchSettings(CITYSCAPES_CLASSES, patch_size=32, image_size=16))
    # sky on the top half (2 ignored rows do not stop it), road bottom left, car bottom right
    assert plan.classes == ['road', 'sky', 'car']
    assert plan.labels.tolist() == [1, 1, 1, 1, 0, 0, 2, 2] * 2
    assert plan.groups.tolist() == [0] * 8 + [1] * 8
    assert plan.squares[:8].tolist() == [[x, y, 32] for y in (0, 32) for x in (0, 32, 64, 96)]
    pieces, _, _ = cut_pieces(plan, 16)
    assert pieces.shape == (16, 16, 16, 3)
    source = np.asarray(Image.open(images[0]).convert('RGB'))
    expected = Image.fromarray(source[32:64, 96:128]).resize((16, 16), Image.BILINEAR)
    assert np.array_equal(pieces[7], np.asarray(expected))


def test_reduce_zero_label_of_the_ade_layout(tmp_path):
    layout = LAYOUTS['ade']
    for folder in (layout.img_dir, layout.ann_dir):
        os.makedirs(tmp_path / folder)
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / layout.img_dir / 'a.jpg')
    label_map = np.array([[0, 1, 2, 255]] * 4, np.uint8)
    Image.fromarray(label_map).save(tmp_path / layout.ann_dir / 'a.png')
    (image, ), (label_map, ) = scan_pairs(str(tmp_path), layout)
    labels = read_label_map(label_map, image, True, IGNORE, 2)
    assert labels[0].tolist() == [IGNORE, 0, 1, IGNORE]


def _pairs(tmp_path, label_size=(8, 8), value=1) -> PairLayout:
    layout = PairLayout('img', 'ann', '.png', '_mask.png')
    for folder in ('img', 'ann'):
        os.makedirs(tmp_path / folder, exist_ok=True)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / 'img' / 'x.png')
    Image.fromarray(np.full(label_size, value, np.uint8)).save(tmp_path / 'ann' / 'x_mask.png')
    return layout


def test_label_map_of_the_wrong_size(tmp_path):
    images, maps = scan_pairs(str(tmp_path), _pairs(tmp_path, label_size=(8, 6)))
    with pytest.raises(
            AnnotationError, match=r'label map .*x_mask\.png is 6x8 \(WxH\) but its '
            r'image .*x\.png is 8x8'):
        plan_patches(images, maps, PatchSettings(('a', 'b'), patch_size=4))


def test_label_value_outside_the_classes(tmp_path):
    images, maps = scan_pairs(str(tmp_path), _pairs(tmp_path, value=7))
    with pytest.raises(
            AnnotationError, match=r'x_mask\.png holds the value 7, outside 0\.\.1 '
            r'\(2 classes\) and not ignore_index=255'):
        plan_patches(images, maps, PatchSettings(('a', 'b'), patch_size=4))


def test_image_without_label_map_and_empty_split(tmp_path):
    layout = _pairs(tmp_path)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / 'img' / 'y.png')
    with pytest.raises(
            AnnotationError, match=r'label-map folder .*ann does not match its images: '
            r'.*y_mask\.png does not exist \(the first of 1 missing of 2\)'):
        scan_pairs(str(tmp_path), layout)
    os.makedirs(tmp_path / 'none')
    with pytest.raises(AnnotationError, match=r'the split is empty: no \*\.png image in .*none'):
        scan_pairs(str(tmp_path), PairLayout('none', 'ann', '.png', '_mask.png'))


@pytest.mark.parametrize('kwargs, message', [
    (dict(classes='ab'), 'classes must be a non-empty list'),
    (dict(patch_size=0), 'patch_size must be a positive integer'),
    (dict(stride=0), 'stride must be None or a positive integer'),
    (dict(min_share=0), r'min_share must be a number in \(0, 1\]'),
])
def test_bad_patch_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PatchSettings(**dict(dict(classes=('a', 'b')), **kwargs))
