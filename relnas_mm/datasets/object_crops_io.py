"""Object crops from detection annotations: COCO instances JSON or a VOCdevkit (no mmengine).

A detection data set is boxes, not class folders. Each object box becomes one
search image: a square around the box, ``context`` times its longer side (the
object whole, with some of its surroundings, its aspect ratio kept), resized to
``image_size`` and labelled by the object's category. Small boxes and COCO's
``iscrowd`` / VOC's ``difficult`` objects are skipped; a category subset and a cap
per class keep the set to what the search needs.
"""
import json
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np

from .crop_io import (AnnotationError, PiecePlan, check_max_per_class, finish_plan, is_names,
                      is_number, require_files)
from .image_folder_io import check_image_size

VOC_CLASSES = ('aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair',
               'cow', 'diningtable', 'dog', 'horse', 'motorbike', 'person', 'pottedplant', 'sheep',
               'sofa', 'train', 'tvmonitor')


@dataclass(frozen=True)
class CropSettings:
    """How objects become search images (every field is a ``search.data`` key).

    Args:
        image_size: side of the search images.
        context: side of the square crop over the box's longer side (1.2: a 20% margin).
        min_size: boxes whose shorter side is below this many source pixels are skipped.
        skip_crowd_difficult: skip COCO ``iscrowd`` and VOC ``difficult`` objects.
        max_per_class: keep at most this many crops per class (None: all).
        classes: the categories to search on, in label order (None: all of the set's).
    """

    image_size: int = 32
    context: float = 1.2
    min_size: float = 8
    skip_crowd_difficult: bool = True
    max_per_class: Optional[int] = None
    classes: Optional[Tuple[str, ...]] = None

    def __post_init__(self) -> None:
        check_image_size(self.image_size)
        check_max_per_class(self.max_per_class)
        if not is_number(self.context) or self.context < 1:
            raise ValueError(f'context must be a number >= 1 (1: the box alone), '
                             f'got {self.context!r}')
        if not is_number(self.min_size) or self.min_size < 1:
            raise ValueError(f'min_size must be a number of pixels >= 1, got {self.min_size!r}')
        if not isinstance(self.skip_crowd_difficult, bool):
            raise ValueError(f'skip_crowd_difficult must be True or False, '
                             f'got {self.skip_crowd_difficult!r}')
        if self.classes is not None:
            if not is_names(self.classes):
                raise ValueError(f'classes must be a list of category names or None, '
                                 f'got {self.classes!r}')
            object.__setattr__(self, 'classes', tuple(self.classes))


@dataclass
class Objects:
    """Boxes read from annotation files: per object its image (index into ``images``),
    box ``(x1, y1, x2, y2)`` in pixels, category (index into ``categories``) and flag
    (COCO ``iscrowd`` / VOC ``difficult``). ``source`` names the annotation file(s)."""

    images: List[str]
    groups: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray
    flagged: np.ndarray
    categories: List[str]
    source: str


def _objects(images: List[str], rows: List[Tuple[int, float, float, float, float, int, bool]],
             categories: List[str], source: str) -> Objects:
    """``rows``: (image, x1, y1, x2, y2, category, flag) per object."""
    table = np.asarray([r[:5] for r in rows], np.float64).reshape(-1, 5)
    labels = np.asarray([r[5] for r in rows], np.int64)
    flagged = np.asarray([r[6] for r in rows], bool)
    return Objects(images, table[:, 0].astype(np.int64), table[:, 1:], labels, flagged, categories,
                   source)


# ----------------------------------------------------------------------------- COCO
def _coco_list(data: dict, key: str, ann_file: str) -> list:
    value = data.get(key) if isinstance(data, dict) else None
    if not isinstance(value, list):
        raise AnnotationError(f'{ann_file} is not a COCO instances file: expected a list under '
                              f'"{key}", got {type(value).__name__}')
    return value


def coco_annotation_files(ann_file: str) -> List[str]:
    """``[ann_file]`` once it is known to exist (what a COCO crop set is made from)."""
    if not os.path.isfile(ann_file):
        raise AnnotationError(f'COCO annotation file {ann_file} does not exist; expected an '
                              f'instances JSON (search.data.ann_file, relative to data_root)')
    return [ann_file]


def read_coco(ann_file: str, img_dir: str) -> Objects:
    """The boxes of a COCO instances JSON whose ``file_name``\\ s lie in ``img_dir``."""
    coco_annotation_files(ann_file)
    try:
        with open(ann_file) as f:
            data = json.load(f)
    except (ValueError, UnicodeDecodeError) as exc:
        raise AnnotationError(f'{ann_file} is not valid JSON: {exc}') from None
    images, categories, annotations = (
        _coco_list(data, key, ann_file) for key in ('images', 'categories', 'annotations'))
    if not images:
        raise AnnotationError(f'{ann_file}: the split is empty ("images" lists no image)')
    try:
        index = {img['id']: i for i, img in enumerate(images)}
        paths = [os.path.join(img_dir, img['file_name']) for img in images]
        cats = sorted(categories, key=lambda c: c['id'])
        cat_index = {c['id']: k for k, c in enumerate(cats)}
        names = [str(c['name']) for c in cats]
    except (KeyError, TypeError) as exc:
        raise AnnotationError(f'{ann_file}: an image or category lacks {exc} (images need "id" '
                              f'and "file_name", categories "id" and "name")') from None
    rows = []
    for ann in annotations:
        try:
            x, y, w, h = (float(v) for v in ann['bbox'])
            image, category = index.get(ann['image_id']), cat_index.get(ann['category_id'])
        except (KeyError, TypeError, ValueError):
            raise AnnotationError(f'{ann_file}: annotation {ann.get("id", "?")} needs "image_id", '
                                  f'"category_id" and "bbox" [x, y, w, h], got {ann!r:.200}') \
                from None
        if image is None or category is None:
            what = 'image_id' if image is None else 'category_id'
            raise AnnotationError(f'{ann_file}: annotation {ann.get("id", "?")} has {what} '
                                  f'{ann[what]!r}, which is not in its "{what[:-3]}s" list')
        rows.append((image, x, y, x + w, y + h, category, bool(ann.get('iscrowd', 0))))
    return _objects(paths, rows, names, ann_file)


# ----------------------------------------------------------------------------- VOC
def voc_annotation_files(devkit: str, split_files: Union[str, Sequence[str]]) -> List[str]:
    """The split files and the XML files they name (what a VOC crop set is made from).

    ``split_files``: one or more ``VOC<year>/ImageSets/Main/<split>.txt``, relative to
    the VOCdevkit folder ``devkit``; each year's images and XMLs are beside it.
    """
    files = []
    for split_file in [split_files] if isinstance(split_files, str) else list(split_files):
        path = os.path.join(devkit, split_file)
        if not os.path.isfile(path):
            raise AnnotationError(f'VOC split file {path} does not exist; expected '
                                  f'{devkit}/VOC<year>/ImageSets/Main/<split>.txt')
        with open(path) as f:
            names = [line.split()[0] for line in f if line.strip()]
        if not names:
            raise AnnotationError(f'VOC split file {path}: the split is empty (no image names)')
        year = os.path.dirname(os.path.dirname(os.path.dirname(path)))
        xmls = [os.path.join(year, 'Annotations', f'{name}.xml') for name in names]
        require_files(xmls, path, f'expected one XML per line in {year}/Annotations')
        files += [path] + xmls
    if not files:
        raise AnnotationError('search.data.ann_file: no VOC split file given')
    return files


def _voc_box(obj: ET.Element, xml: str) -> Tuple[str, float, float, float, float, bool]:
    try:
        name = obj.find('name').text.strip()
        box = [float(obj.find(f'bndbox/{k}').text) for k in ('xmin', 'ymin', 'xmax', 'ymax')]
    except (AttributeError, ValueError):
        raise AnnotationError(f'{xml}: an <object> lacks <name> or a numeric '
                              f'<bndbox> xmin/ymin/xmax/ymax') from None
    difficult = obj.find('difficult')
    # VOC's pixels are 1-based and inclusive, as mmdet reads them
    return (name, box[0] - 1, box[1] - 1, box[2], box[3], difficult is not None
            and difficult.text is not None and difficult.text.strip() == '1')


def read_voc(devkit: str, split_files: Union[str, Sequence[str]]) -> Objects:
    """The boxes of the images listed in the split files (``<year>/JPEGImages/<name>.jpg``).

    The categories are the names found, VOC's 20 classes first in their usual order.
    """
    files = voc_annotation_files(devkit, split_files)
    images, found = [], []
    for xml in files:
        if not xml.endswith('.xml'):
            continue
        year = os.path.dirname(os.path.dirname(xml))
        name = os.path.basename(xml)[:-len('.xml')]
        images.append(os.path.join(year, 'JPEGImages', f'{name}.jpg'))
        try:
            root = ET.parse(xml).getroot()
        except ET.ParseError as exc:
            raise AnnotationError(f'{xml} is not valid XML: {exc}') from None
        found += [(len(images) - 1, ) + _voc_box(obj, xml) for obj in root.findall('object')]
    names = {f[1] for f in found}
    categories = [c for c in VOC_CLASSES if c in names] + sorted(names - set(VOC_CLASSES))
    rows = [(g, x1, y1, x2, y2, categories.index(name), flag)
            for g, name, x1, y1, x2, y2, flag in found]
    source = ', '.join(f for f in files if not f.endswith('.xml'))
    return _objects(images, rows, categories, source)


# ----------------------------------------------------------------------------- plan
def plan_object_crops(objects: Objects, settings: CropSettings) -> PiecePlan:
    """Which boxes become crops and the square each is cut from (see the module docstring).

    The source images of the crops must exist: the first missing one is named.
    """
    categories = objects.categories
    if settings.classes is not None:
        unknown = [c for c in settings.classes if c not in categories]
        if unknown:
            raise AnnotationError(f'search.data.classes: {unknown} not among the categories of '
                                  f'{objects.source}: {categories}')
        wanted = [categories.index(c) for c in settings.classes]
        classes = list(settings.classes)
    else:
        wanted, classes = list(range(len(categories))), list(categories)
    to_label = np.full(len(categories), -1, np.int64)
    to_label[wanted] = np.arange(len(wanted))
    x1, y1, x2, y2 = objects.boxes.T
    longer = np.maximum(x2 - x1, y2 - y1)
    keep = (to_label[objects.labels] >= 0) & (np.minimum(x2 - x1, y2 - y1) >= settings.min_size)
    if settings.skip_crowd_difficult:
        keep &= ~objects.flagged
    side = np.maximum(1, np.floor(settings.context * longer + 0.5))
    left = np.floor((x1 + x2) / 2 - side / 2 + 0.5)
    top = np.floor((y1 + y2) / 2 - side / 2 + 0.5)
    squares = np.stack([left, top, side], 1).astype(np.int64)
    filters = (f'min_size={settings.min_size}, skip_crowd_difficult='
               f'{settings.skip_crowd_difficult}, max_per_class={settings.max_per_class}, '
               f'classes={settings.classes}')
    plan = finish_plan(objects.images, squares[keep], to_label[objects.labels[keep]],
                       objects.groups[keep], classes, settings.max_per_class, objects.source,
                       filters)
    require_files(plan.images, objects.source,
                  'check data_root and img_dir (COCO) or the JPEGImages folders (VOC)')
    return plan


__all__ = [
    'VOC_CLASSES', 'CropSettings', 'Objects', 'coco_annotation_files', 'read_coco',
    'voc_annotation_files', 'read_voc', 'plan_object_crops'
]
