"""Tiny COCO, VOC and Cityscapes sets in their on-disk layouts, with known boxes and labels.

``from fixtures_pieces import ...``. Every image codes its pixel positions (red = x,
green = y, blue = the image's number times 40), so a crop shows exactly where it
was cut from. Each image holds one 'cat' box and one 'dog' box; an image's boxes
differ in size and place from image to image.
"""
import json
import os
from typing import List, Tuple

import numpy as np
from PIL import Image

SIZE = 64  # every source image is SIZE x SIZE
NUM_IMAGES = 6
#: COCO categories: 'bird' has no annotation, so it is dropped with a warning
CATEGORIES = [dict(id=1, name='cat'), dict(id=3, name='dog'), dict(id=7, name='bird')]


def coded_image(index: int, size: int = SIZE) -> np.ndarray:
    """uint8 RGB (size, size, 3): red = x, green = y, blue = 40 * index."""
    ys, xs = np.mgrid[0:size, 0:size]
    return np.stack([xs, ys, np.full_like(xs, 40 * index)], -1).astype(np.uint8)


def boxes_of(index: int, scale: int = 1) -> List[Tuple[str, Tuple[int, ...], bool]]:
    """(category, (x, y, w, h), crowd/difficult) of image ``index``: a cat, a dog, a
    box too small for min_size=8 and a crowd (COCO) / difficult (VOC) dog; ``scale``
    multiplies every coordinate."""
    boxes = [('cat', (10 + index, 20, 20, 10), False), ('dog', (30, 8 + index, 12, 24), False),
             ('cat', (2, 2, 5, 5), False), ('dog', (40, 40, 16, 16), True)]
    return [(c, tuple(scale * v for v in box), flag) for c, box, flag in boxes]


def _write_images(folder: str, ext: str, size: int = SIZE) -> List[str]:
    os.makedirs(folder, exist_ok=True)
    names = []
    for i in range(NUM_IMAGES):
        names.append(f'{i:012d}{ext}')
        # PNG keeps the coded pixels exact; the VOC layout needs .jpg names, so those
        # are PNG data under a .jpg name (PIL reads the content, not the name)
        Image.fromarray(coded_image(i, size)).save(os.path.join(folder, names[-1]), format='PNG')
    return names


def make_coco(root: str, split: str = 'train', scale: int = 1) -> str:
    """``root/annotations/instances_<split>.json`` + ``root/<split>/*.jpg``, every
    coordinate times ``scale``; returns ``root``."""
    size = SIZE * scale
    names = _write_images(os.path.join(root, split), '.jpg', size)
    cat_id = {c['name']: c['id'] for c in CATEGORIES}
    images, annotations = [], []
    for i, name in enumerate(names):
        images.append(dict(id=100 + i, file_name=name, height=size, width=size))
        for category, box, crowd in boxes_of(i, scale):
            annotations.append(
                dict(
                    id=len(annotations) + 1, image_id=100 + i, category_id=cat_id[category],
                    bbox=list(box), area=box[2] * box[3], iscrowd=int(crowd), segmentation=[]))
    os.makedirs(os.path.join(root, 'annotations'), exist_ok=True)
    with open(os.path.join(root, 'annotations', f'instances_{split}.json'), 'w') as f:
        json.dump(dict(images=images, annotations=annotations, categories=CATEGORIES), f)
    return root


def make_voc(root: str, years: Tuple[str, ...] = ('2007', '2012')) -> str:
    """``root/VOCdevkit/VOC<year>/{Annotations,JPEGImages,ImageSets/Main/trainval.txt}``,
    the images split over the years; returns the VOCdevkit folder."""
    devkit = os.path.join(root, 'VOCdevkit')
    for y, year in enumerate(years):
        base = os.path.join(devkit, f'VOC{year}')
        names = _write_images(os.path.join(base, 'JPEGImages'), '.jpg')
        os.makedirs(os.path.join(base, 'Annotations'), exist_ok=True)
        os.makedirs(os.path.join(base, 'ImageSets', 'Main'), exist_ok=True)
        mine = [i for i in range(NUM_IMAGES) if i % len(years) == y]
        for i in mine:
            objects = ''.join(f'<object><name>{c}</name><difficult>{int(d)}</difficult><bndbox>'
                              f'<xmin>{x + 1}</xmin><ymin>{y0 + 1}</ymin><xmax>{x + w}</xmax>'
                              f'<ymax>{y0 + h}</ymax></bndbox></object>'
                              for c, (x, y0, w, h), d in boxes_of(i))
            with open(os.path.join(base, 'Annotations', names[i][:-4] + '.xml'), 'w') as f:
                f.write(f'<annotation><filename>{names[i]}</filename><size><width>{SIZE}</width>'
                        f'<height>{SIZE}</height><depth>3</depth></size>{objects}</annotation>')
        with open(os.path.join(base, 'ImageSets', 'Main', 'trainval.txt'), 'w') as f:
            f.write(''.join(names[i][:-4] + '\n' for i in mine))
    return devkit
