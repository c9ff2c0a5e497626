"""The SimpleBaseline COCO configs: the authors' settings, and end to end on tiny data.

The default config's settings are asserted against RelativeNAS's authors' code
(EMI-Group/TransferLearning-Tasks, Simplebaseline/): their scale/rotation
augmentation without half-body or shift, ground-truth person boxes, flip test with
heatmap shift, Adam 1e-3 held constant (the decaying schedule is the _lr-step variant).

End to end, the config trains from ImageNet weights and tests on tiny COCO keypoints,
with ground-truth person boxes (the default) and with detected boxes (_det-bbox).

Only --cfg-options shrink it (RelNASNet with C=8 and 5 cells, 16-filter
deconvolutions, one epoch, small loaders). Input 256x192, the heatmap codec, the
COCO layout and mmpose's CocoMetric are the config's.

The AP of both protocols is checked exactly on a checkpoint edited to predict every
keypoint at the top-left corner of the network's view of the person box (a constant
heatmap), with the first val person annotated there and the second far away.
"""
import json
import os
import shutil
from typing import Sequence, Tuple

import pytest
import torch
from fixtures_downstream import (COCO_KEYPOINTS, LOADER_OPTIONS, SMALL_POSE, cli_options,
                                 make_coco_keypoints, read_test_metrics)
from fixtures_tools import REPO, check_ok, run_tool, tool_config

pytest.importorskip('mmpose')
from mmengine.config import Config

from relnas_mm.models.classifiers import imagenet_network

CONFIG = 'configs/pose/relnas_simplebaseline_coco-256x192.py'
GT_BOXES = 'configs/pose/relnas_simplebaseline_coco-256x192_gt-bbox.py'
DET_BOXES = 'configs/pose/relnas_simplebaseline_coco-256x192_det-bbox.py'
LR_STEP = 'configs/pose/relnas_simplebaseline_coco-256x192_lr-step.py'


def _config(name: str = CONFIG) -> Config:
    return Config.fromfile(os.path.join(REPO, name))


def test_training_augmentation_is_the_authors():
    steps = _config().train_dataloader.dataset.pipeline
    assert [t.type for t in steps] == [
        'LoadImage', 'GetBBoxCenterScale', 'RandomFlip', 'relnas_mm.RandomScaleRotate',
        'TopdownAffine', 'GenerateTarget', 'PackPoseInputs'
    ]  # no RandomHalfBody, no RandomBBoxTransform (shift)
    flip, scale_rotate = steps[2:4]
    assert flip.prob == 0.5 and flip.direction == 'horizontal'
    assert (scale_rotate.scale_sigma, tuple(scale_rotate.scale_range)) == (0.3, (0.7, 1.3))
    assert (scale_rotate.rotate_sigma, scale_rotate.rotate_limit,
            scale_rotate.rotate_prob) == (40.0, 80.0, 0.6)


def test_evaluation_uses_ground_truth_boxes_flip_and_heatmap_shift():
    cfg = _config()
    assert cfg.val_dataloader.dataset.bbox_file is None
    assert cfg.test_dataloader.dataset.bbox_file is None
    assert cfg.model.test_cfg == dict(flip_test=True, flip_mode='heatmap', shift_heatmap=True)
    assert _config(GT_BOXES).test_dataloader.dataset.bbox_file is None
    detected = _config(DET_BOXES).test_dataloader.dataset.bbox_file
    assert detected.endswith('person_detection_results/'
                             'COCO_val2017_detections_AP_H_56_person.json')


def test_learning_rate_is_constant_by_default_and_steps_in_the_variant():
    cfg = tool_config('train', CONFIG)
    assert cfg.optim_wrapper.optimizer == dict(type='Adam', lr=1e-3)
    assert not cfg.param_scheduler  # 1e-3 for all 140 epochs
    assert cfg.train_cfg.max_epochs == 140
    assert cfg.auto_scale_lr.base_batch_size == 128 == 4 * cfg.train_dataloader.batch_size
    step = tool_config('train', LR_STEP).param_scheduler
    assert [s.type for s in step] == ['LinearLR', 'MultiStepLR']
    assert step[1].milestones == [90, 120] and step[1].gamma == 0.1


SMALL = cli_options(SMALL_POSE) + LOADER_OPTIONS + ['train_cfg.max_epochs=1']
INPUT_WH = (192, 256)  # the codec's input_size
PADDING = 1.25  # GetBBoxCenterScale's default, as the config's pipeline uses it
# COCOeval's AP over 101 recall points of 2 persons where only one is found: 51/101 when
# the found one ranks first, half that when the missed one does (at every OKS threshold).
AP_FOUND_FIRST, AP_MISSED_FIRST = 51 / 101, 25.5 / 101


def _view_corner(xywh: Sequence[float]) -> Tuple[float, float]:
    """Image point of the network input's top-left pixel for a person box: the box
    padded by ``PADDING`` and widened or heightened to the input's aspect ratio."""
    x, y, w, h = xywh
    width, height = w * PADDING, h * PADDING
    aspect = INPUT_WH[0] / INPUT_WH[1]
    if width > height * aspect:
        height = width / aspect
    else:
        width = height * aspect
    return x + w / 2 - width / 2, y + h / 2 - height / 2


def _annotate_one_hit_one_miss(root: str) -> None:
    """Val person 1 gets a small box in the image centre with all keypoints at its view
    corner (where a constant heatmap puts them: OKS 1; inside the image, as mmpose drops
    persons whose keypoints are all <= 0), person 2 keeps its box and gets all keypoints
    at the box's far corner (OKS about 0). The detector boxes are the annotated ones and
    score person 2 higher (0.9 against 0.8)."""
    ann_file = os.path.join(root, 'annotations', 'person_keypoints_val2017.json')
    with open(ann_file) as f:
        data = json.load(f)
    hit, miss = sorted(data['annotations'], key=lambda a: a['image_id'])
    hit['bbox'], hit['area'] = [24, 40, 16, 32], 16 * 32
    hit['keypoints'] = [*_view_corner(hit['bbox']), 2] * len(COCO_KEYPOINTS)
    x, y, w, h = miss['bbox']
    miss['keypoints'] = [x + w, y + h, 2] * len(COCO_KEYPOINTS)
    with open(ann_file, 'w') as f:
        json.dump(data, f)
    det_file = os.path.join(root, 'person_detection_results',
                            'COCO_val2017_detections_AP_H_56_person.json')
    detections = [
        dict(image_id=a['image_id'], category_id=1, bbox=a['bbox'], score=0.8 if a is hit else 0.9)
        for a in (hit, miss)
    ]
    with open(det_file, 'w') as f:
        json.dump(detections, f)


def _constant_heatmaps(checkpoint: str, out: str) -> str:
    """A copy of the checkpoint whose heatmaps are 1 everywhere: every keypoint is
    decoded at heatmap pixel (0, 0) with score 1, with or without the flip test."""
    state = torch.load(checkpoint, map_location='cpu', weights_only=False)
    weights = state['state_dict']
    weights['head.final_layer.weight'].zero_()
    weights['head.final_layer.bias'].fill_(1.0)
    torch.save(state, out)
    return out


@pytest.mark.e2e
def test_simplebaseline_coco_config_trains_and_gives_the_exact_ap_of_both_box_protocols(tmp_path):
    root = make_coco_keypoints(str(tmp_path / 'coco'))
    _annotate_one_hit_one_miss(root)
    work, test_work = str(tmp_path / 'work'), str(tmp_path / 'test')
    # ImageNet weights of another width are refused before training
    wide = str(tmp_path / 'wide.pth')
    torch.save({'state_dict': imagenet_network(channels=16, num_cells=5).state_dict()}, wide)
    proc = run_tool('tools/train.py', CONFIG, '--work-dir', work, '--data-root', root,
                    '--cfg-options', *SMALL, f'pretrained={wide}')
    assert proc.returncode != 0 and 'Epoch(train)' not in proc.stdout
    assert f"PretrainedMismatchError: backbone: pretrained checkpoint '{wide}' does not fit" \
        in proc.stdout

    weights = str(tmp_path / 'relnas_imagenet.pth')
    torch.save({'state_dict': imagenet_network(channels=8, num_cells=5).state_dict()}, weights)
    out = check_ok(
        run_tool('tools/train.py', CONFIG, '--work-dir', work, '--data-root', root, '--cfg-options',
                 *SMALL, f'pretrained={weights}'))
    assert 'Epoch(train) [1][2/2]' in out and 'coco/AP' in out
    assert f'load backbone. in model from: {weights}' in out
    assert 'without pretrained weights' not in out
    checkpoint = _constant_heatmaps(
        os.path.join(work, 'epoch_1.pth'), str(tmp_path / 'constant.pth'))
    check_ok(
        run_tool('tools/test.py', DET_BOXES, checkpoint, '--work-dir', test_work, '--data-root',
                 root, '--cfg-options', *SMALL))
    # detected boxes: their scores rank the missed person first
    assert read_test_metrics(test_work)['coco/AP'] == pytest.approx(AP_MISSED_FIRST, abs=1e-4)

    # ground-truth boxes (the default): the detection file is not needed (nor read)
    shutil.rmtree(os.path.join(root, 'person_detection_results'))
    proc = run_tool('tools/test.py', DET_BOXES, checkpoint, '--work-dir', test_work, '--data-root',
                    root, '--cfg-options', *SMALL)
    assert proc.returncode != 0 and 'bbox_file' in proc.stdout  # detected boxes need it
    for name, folder in ((CONFIG, 'test_gt'), (GT_BOXES, 'test_gt_named')):
        gt_work = str(tmp_path / folder)
        check_ok(
            run_tool('tools/test.py', name, checkpoint, '--work-dir', gt_work, '--data-root', root,
                     '--cfg-options', *SMALL))
        # ground-truth boxes all score 1: the tie keeps image order, the found person first
        assert read_test_metrics(gt_work)['coco/AP'] == pytest.approx(AP_FOUND_FIRST, abs=1e-4)
