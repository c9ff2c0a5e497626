"""End to end: the SimpleBaseline COCO config trains from ImageNet weights and tests on
tiny COCO keypoints, with detected person boxes (mmpose's standard) and with
ground-truth boxes.

Only --cfg-options shrink it (RelNASNet with C=8 and 5 cells, 16-filter
deconvolutions, one epoch, small loaders). Input 256x192, the heatmap codec, the
COCO layout and mmpose's CocoMetric are the config's.
"""
import os
import shutil

import pytest
import torch
from fixtures_downstream import (LOADER_OPTIONS, SMALL_POSE, check_ok, cli_options,
                                 make_coco_keypoints, read_test_metrics, run_tool)

pytest.importorskip('mmpose')
from relnas_mm.models.classifiers import imagenet_network  # noqa: E402

CONFIG = 'configs/pose/relnas_simplebaseline_coco-256x192.py'
GT_BOXES = 'configs/pose/relnas_simplebaseline_coco-256x192_gt-bbox.py'
SMALL = cli_options(SMALL_POSE) + LOADER_OPTIONS + ['train_cfg.max_epochs=1']


@pytest.mark.e2e
def test_simplebaseline_coco_config_trains_and_reports_ap_on_both_box_protocols(tmp_path):
    root = make_coco_keypoints(str(tmp_path / 'coco'))
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
    out = check_ok(run_tool('tools/train.py', CONFIG, '--work-dir', work, '--data-root', root,
                            '--cfg-options', *SMALL, f'pretrained={weights}'))
    assert 'Epoch(train) [1][2/2]' in out and 'coco/AP' in out
    assert f'load backbone. in model from: {weights}' in out
    assert 'without pretrained weights' not in out
    checkpoint = os.path.join(work, 'epoch_1.pth')
    check_ok(run_tool('tools/test.py', CONFIG, checkpoint, '--work-dir', test_work,
                      '--data-root', root, '--cfg-options', *SMALL))
    ap = read_test_metrics(test_work)['coco/AP']
    assert isinstance(ap, float) and 0.0 <= ap <= 1.0

    # ground-truth boxes: the detection file is not needed (and so not read)
    shutil.rmtree(os.path.join(root, 'person_detection_results'))
    proc = run_tool('tools/test.py', CONFIG, checkpoint, '--work-dir', test_work,
                    '--data-root', root, '--cfg-options', *SMALL)
    assert proc.returncode != 0 and 'bbox_file' in proc.stdout  # detected boxes need it
    gt_work = str(tmp_path / 'test_gt')
    check_ok(run_tool('tools/test.py', GT_BOXES, checkpoint, '--work-dir', gt_work,
                      '--data-root', root, '--cfg-options', *SMALL))
    ap = read_test_metrics(gt_work)['coco/AP']
    assert isinstance(ap, float) and 0.0 <= ap <= 1.0
