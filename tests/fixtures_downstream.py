"""Tiny downstream datasets in their real on-disk formats, and a runner for tools/.

``from fixtures_downstream import ...``: PASCAL VOC (VOCdevkit with XML annotations
and ImageSets), Cityscapes (leftImg8bit + gtFine ``*_labelTrainIds.png``) and COCO
person keypoints (``person_keypoints_*.json`` + detected-box file). Images hold a
bright rectangle (or a figure) where the annotation says, so the formats are
consistent end to end. Everything is seeded.
"""
import glob
import importlib.util
import json
import os
import runpy
import subprocess
import sys
from typing import Dict, List, Sequence, Tuple

import numpy as np
from PIL import Image

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VOC_CLASSES = ('aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair',
               'cow', 'diningtable', 'dog', 'horse', 'motorbike', 'person', 'pottedplant', 'sheep',
               'sofa', 'train', 'tvmonitor')
COCO_KEYPOINTS = ('nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear', 'left_shoulder',
                  'right_shoulder', 'left_elbow', 'right_elbow', 'left_wrist', 'right_wrist',
                  'left_hip', 'right_hip', 'left_knee', 'right_knee', 'left_ankle', 'right_ankle')
Box = Tuple[int, int, int, int]  # x1, y1, x2, y2


def _noise_image(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    return rng.integers(0, 90, (height, width, 3), dtype=np.uint8)


# ----------------------------------------------------------------------------- VOC
def _voc_xml(name: str, width: int, height: int, objects: Sequence[Tuple[str, Box]]) -> str:
    objs = ''.join(f'<object><name>{cls}</name><pose>Unspecified</pose><truncated>0</truncated>'
                   f'<difficult>0</difficult><bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin>'
                   f'<xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox></object>'
                   for cls, (x1, y1, x2, y2) in objects)
    return (f'<annotation><folder>VOC</folder><filename>{name}.jpg</filename>'
            f'<size><width>{width}</width><height>{height}</height><depth>3</depth></size>'
            f'<segmented>0</segmented>{objs}</annotation>')


def _write_voc_year(devkit: str, year: str, splits: Dict[str, int], rng: np.random.Generator,
                    size: int) -> None:
    base = os.path.join(devkit, f'VOC{year}')
    for sub in ('Annotations', 'JPEGImages', 'ImageSets/Main'):
        os.makedirs(os.path.join(base, sub), exist_ok=True)
    index = 0
    for split, count in splits.items():
        names = []
        for _ in range(count):
            name = f'{year}_{index:06d}'
            index += 1
            img = _noise_image(rng, size, size)
            x1, y1 = (int(v) for v in rng.integers(2, size // 3, 2))
            x2, y2 = x1 + size // 2, y1 + size // 2
            cls = VOC_CLASSES[index % 3]
            img[y1:y2, x1:x2] = (60 + 80 * (index % 3), 200, 240 - 60 * (index % 3))
            Image.fromarray(img).save(os.path.join(base, 'JPEGImages', f'{name}.jpg'))
            with open(os.path.join(base, 'Annotations', f'{name}.xml'), 'w') as f:
                f.write(_voc_xml(name, size, size, [(cls, (x1, y1, x2, y2))]))
            names.append(name)
        with open(os.path.join(base, 'ImageSets', 'Main', f'{split}.txt'), 'w') as f:
            f.write('\n'.join(names) + '\n')


def make_voc(root: str, size: int = 96, seed: int = 0) -> str:
    """``root/VOCdevkit/VOC2007`` (trainval 4, test 2) and ``VOC2012`` (trainval 2);
    returns the VOCdevkit folder (the configs' data_root)."""
    rng = np.random.default_rng(seed)
    devkit = os.path.join(root, 'VOCdevkit')
    _write_voc_year(devkit, '2007', {'trainval': 4, 'test': 2}, rng, size)
    _write_voc_year(devkit, '2012', {'trainval': 2}, rng, size)
    return devkit


# ----------------------------------------------------------------------- Cityscapes
def make_cityscapes(root: str, size: Tuple[int, int] = (64, 128), per_split: int = 2,
                    seed: int = 0) -> str:
    """``leftImg8bit/{train,val}/<city>/*_leftImg8bit.png`` and the matching
    ``gtFine/.../*_gtFine_labelTrainIds.png`` (train ids 0..18, 255 = ignore);
    ``size`` is (height, width). Returns the cityscapes folder (the data_root)."""
    rng = np.random.default_rng(seed)
    height, width = size
    for split, city in (('train', 'aachen'), ('val', 'frankfurt')):
        img_dir = os.path.join(root, 'leftImg8bit', split, city)
        gt_dir = os.path.join(root, 'gtFine', split, city)
        os.makedirs(img_dir, exist_ok=True)
        os.makedirs(gt_dir, exist_ok=True)
        for i in range(per_split):
            stem = f'{city}_{i:06d}_000019'
            labels = np.zeros((height, width), np.uint8)  # road
            labels[:height // 2] = 10  # sky
            labels[height // 2:, width // 2:] = 13  # car
            labels[:2] = 255  # ignored border
            palette = rng.integers(0, 256, (256, 3), dtype=np.uint8)
            img = palette[labels] // 2 + _noise_image(rng, height, width)
            Image.fromarray(img).save(os.path.join(img_dir, f'{stem}_leftImg8bit.png'))
            Image.fromarray(labels).save(os.path.join(gt_dir, f'{stem}_gtFine_labelTrainIds.png'))
    return root


# ---------------------------------------------------------------- COCO keypoints
def _person(rng: np.random.Generator, box: Box) -> List[float]:
    """17 visible keypoints spread over a person box, COCO's flat (x, y, v) list."""
    x1, y1, x2, y2 = box
    xs = rng.uniform(x1 + 2, x2 - 2, len(COCO_KEYPOINTS))
    ys = np.linspace(y1 + 2, y2 - 2, len(COCO_KEYPOINTS))
    return [float(round(v, 1)) for xy in zip(xs, ys) for v in (*xy, 2)]


def _coco_split(root: str, split: str, count: int, first_id: int, rng: np.random.Generator,
                size: Tuple[int, int]) -> dict:
    height, width = size
    img_dir = os.path.join(root, f'{split}2017')
    os.makedirs(img_dir, exist_ok=True)
    images, annotations = [], []
    for i in range(count):
        image_id = first_id + i
        name = f'{image_id:012d}.jpg'
        box = (8, 6, 8 + width // 2, 6 + height - 12)
        img = _noise_image(rng, height, width)
        img[box[1]:box[3], box[0]:box[2]] = (200, 160, 120)
        Image.fromarray(img).save(os.path.join(img_dir, name))
        images.append(dict(id=image_id, file_name=name, height=height, width=width))
        w, h = box[2] - box[0], box[3] - box[1]
        annotations.append(
            dict(id=100 + image_id, image_id=image_id, category_id=1, iscrowd=0,
                 bbox=[box[0], box[1], w, h], area=float(w * h), segmentation=[],
                 num_keypoints=len(COCO_KEYPOINTS), keypoints=_person(rng, box)))
    skeleton = [[16, 14], [14, 12], [17, 15], [15, 13], [12, 13], [6, 12], [7, 13], [6, 7], [6, 8],
                [7, 9], [8, 10], [9, 11], [2, 3], [1, 2], [1, 3], [2, 4], [3, 5], [4, 6], [5, 7]]
    categories = [
        dict(id=1, name='person', supercategory='person', keypoints=list(COCO_KEYPOINTS),
             skeleton=skeleton)
    ]
    return dict(
        info=dict(description='tiny COCO keypoints'), licenses=[], images=images,
        annotations=annotations, categories=categories)


def make_coco_keypoints(root: str, size: Tuple[int, int] = (96, 64), seed: int = 0) -> str:
    """``annotations/person_keypoints_{train,val}2017.json``, ``{train,val}2017/*.jpg``
    and ``person_detection_results/COCO_val2017_detections_AP_H_56_person.json`` (the
    val boxes with score 1); ``size`` is (height, width). Returns the coco folder."""
    rng = np.random.default_rng(seed)
    os.makedirs(os.path.join(root, 'annotations'), exist_ok=True)
    val = None
    for split, count, first_id in (('train', 4, 1), ('val', 2, 1001)):
        data = _coco_split(root, split, count, first_id, rng, size)
        with open(os.path.join(root, 'annotations', f'person_keypoints_{split}2017.json'),
                  'w') as f:
            json.dump(data, f)
        val = data
    det_dir = os.path.join(root, 'person_detection_results')
    os.makedirs(det_dir, exist_ok=True)
    detections = [
        dict(image_id=a['image_id'], category_id=1, bbox=a['bbox'], score=1.0)
        for a in val['annotations']
    ]
    with open(os.path.join(det_dir, 'COCO_val2017_detections_AP_H_56_person.json'), 'w') as f:
        json.dump(detections, f)
    return root


# ------------------------------------------------------------------------ tools
def load_tool(name: str):
    """``tools/<name>.py`` as a module (its main() and make_config() run in-process)."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(REPO, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tool_config(name: str, *argv: str):
    """The config tools/<name>.py makes from this command line (nothing is built)."""
    tool = load_tool(name)
    saved = sys.argv
    sys.argv = [f'{name}.py', *argv]
    try:
        return tool.make_config(tool.parse_args())
    finally:
        sys.argv = saved


def run_tool_in_process(monkeypatch, script: str, *argv: str) -> None:
    """Run ``script`` (a tools/ file) as ``__main__`` in this process, with one math
    thread as its subprocess runs have, and the command line ``argv``."""
    import torch
    monkeypatch.setattr(sys, 'argv', [script, *argv])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        runpy.run_path(script, run_name='__main__')
    finally:
        torch.set_num_threads(threads)


def run_tool(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run ``python <args>`` from the repository root (as a user would); returns the
    completed process (stdout and stderr merged). The environment is the test
    process's (conftest.py's one math thread included)."""
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get('PYTHONPATH', ''))
    return subprocess.run([sys.executable, *args], cwd=REPO, env=env, timeout=timeout,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


#: What mmdet's, mmseg's and mmpose's own tools/train.py do with a config (and what
#: ``mim train`` runs): parse it, merge --cfg-options, build mmengine's Runner, train.
#: No relnas_mm tool is involved; the config's custom_imports load relnas_mm.
UPSTREAM_TRAIN = """
import argparse
from mmengine.config import Config, DictAction
from mmengine.runner import Runner
parser = argparse.ArgumentParser()
parser.add_argument('config')
parser.add_argument('--work-dir')
parser.add_argument('--cfg-options', nargs='+', action=DictAction)
args = parser.parse_args()
cfg = Config.fromfile(args.config)
cfg.merge_from_dict(args.cfg_options or {})
cfg.work_dir = args.work_dir
Runner.from_cfg(cfg).train()
"""


def run_upstream_train(config: str, work_dir: str, *options: str) -> subprocess.CompletedProcess:
    """Train ``config`` as the upstream tools do (:data:`UPSTREAM_TRAIN`)."""
    return run_tool('-c', UPSTREAM_TRAIN, config, '--work-dir', work_dir, '--cfg-options', *options)


def upstream_pretrained(key: str, checkpoint: str) -> List[str]:
    """The one --cfg-options key that loads a classifier checkpoint's ``backbone.*``
    tensors through the backbone's own ``init_cfg`` at config key ``key`` (the configs
    write ``dict(type='Pretrained', checkpoint=None, prefix='backbone.')`` by default)."""
    return [f'{key}.init_cfg.checkpoint={checkpoint}']


def check_ok(proc: subprocess.CompletedProcess) -> str:
    """The output of a successful run; the output's tail as the failure message otherwise."""
    assert proc.returncode == 0, proc.stdout[-6000:]
    return proc.stdout


def read_test_metrics(work_dir: str) -> dict:
    """The metrics tools/test.py logged (LoggerHook's ``TIMESTAMP/TIMESTAMP.json``)."""
    files = sorted(glob.glob(os.path.join(work_dir, '*', '*.json')))
    assert files, f'no metrics JSON under {work_dir}'
    with open(files[-1]) as f:
        return json.load(f)


#: --cfg-options that make any config's dataloaders cheap (no worker processes).
LOADER_OPTIONS = [
    f'{phase}_dataloader.{key}' for phase in ('train', 'val', 'test')
    for key in ('num_workers=0', 'persistent_workers=False', 'batch_size=2')
]

# Small networks for each config family: RelNASNet with C=8 and 5 cells has stages of
# 8, 32, 64 and 128 channels (strides 4, 8, 16, 32 with the ImageNet stem); the
# necks and heads are narrowed to match. Keys are config keys (as --cfg-options).
SMALL_NET = {'model.backbone.base_channels': 8, 'model.backbone.num_cells': 5}
SMALL_DET = dict(
    SMALL_NET, **{
        'model.neck.in_channels': 128,
        'model.neck.out_channels': (32, 32, 32, 16),
        'model.bbox_head.in_channels': (64, 128, 32, 32, 32, 16)
    })
SMALL_SEG = {
    'model.backbone.backbone_cfg.base_channels': 8,
    'model.backbone.backbone_cfg.num_cells': 5,
    'model.backbone.context_channels': (16, 64, 128),
    'model.backbone.spatial_channels': (8, 8, 8, 16),
    'model.backbone.out_channels': 32,
    'model.decode_head.in_channels': 32,
    'model.decode_head.channels': 32,
    'model.auxiliary_head.0.in_channels': 16,
    'model.auxiliary_head.0.channels': 8,
    'model.auxiliary_head.1.in_channels': 16,
    'model.auxiliary_head.1.channels': 8
}
SMALL_POSE = dict(SMALL_NET, **{
    'model.head.in_channels': 128,
    'model.head.deconv_out_channels': (16, 16, 16)
})


def cli_options(options: Dict[str, object]) -> List[str]:
    """``KEY=VALUE`` strings for --cfg-options (tuples without spaces, as DictAction reads)."""
    return [f"{key}={str(value).replace(' ', '')}" for key, value in options.items()]
