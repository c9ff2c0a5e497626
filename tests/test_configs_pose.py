"""End to end: the SimpleBaseline COCO config trains from ImageNet weights and tests on
tiny COCO keypoints, with detected person boxes (mmpose's standard) and with
ground-truth boxes.

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
from fixtures_tools import check_ok, run_tool

pytest.importorskip('mmpose')
from relnas_mm.models.classifiers import imagenet_network

CONFIG = 'configs/pose/relnas_simplebaseline_coco-256x192.py'
GT_BOXES = 'configs/pose/relnas_simplebaseline_coco-256x192_gt-bbox.py'
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
        run_tool('tools/test.py', CONFIG, checkpoint, '--work-dir', test_work, '--data-root', root,
                 '--cfg-options', *SMALL))
    # detected boxes: their scores rank the missed person first
    assert read_test_metrics(test_work)['coco/AP'] == pytest.approx(AP_MISSED_FIRST, abs=1e-4)

    # ground-truth boxes: the detection file is not needed (and so not read)
    shutil.rmtree(os.path.join(root, 'person_detection_results'))
    proc = run_tool('tools/test.py', CONFIG, checkpoint, '--work-dir', test_work, '--data-root',
                    root, '--cfg-options', *SMALL)
    assert proc.returncode != 0 and 'bbox_file' in proc.stdout  # detected boxes need it
    gt_work = str(tmp_path / 'test_gt')
    check_ok(
        run_tool('tools/test.py', GT_BOXES, checkpoint, '--work-dir', gt_work, '--data-root', root,
                 '--cfg-options', *SMALL))
    # ground-truth boxes all score 1: the tie keeps image order, the found person first
    assert read_test_metrics(gt_work)['coco/AP'] == pytest.approx(AP_FOUND_FIRST, abs=1e-4)
