"""relnas_mm.apis.preflight: --data-root rewriting and the checks run before training."""
import os

import pytest
from fixtures_data import make_image_folder
from fixtures_tools import REPO, tool_config

pytest.importorskip('mmengine')
from mmengine.config import Config

from relnas_mm.apis.preflight import (DataCheckError, check_data, check_model, preflight,
                                      set_data_root)
from relnas_mm.space.genotype import GenotypeError


def _config(name: str) -> Config:
    return Config.fromfile(os.path.join(REPO, 'configs', name), import_custom_modules=False)


def test_set_data_root_reaches_wrapped_datasets_and_moves_files_under_the_root():
    cfg = _config('det/relnas_ssd_voc.py')
    set_data_root(cfg, '/data/voc')
    concat = cfg.train_dataloader.dataset.datasets
    assert [d.data_root for d in concat] == ['/data/voc', '/data/voc']
    assert cfg.val_dataloader.dataset.data_root == '/data/voc'
    assert cfg.test_dataloader.dataset.data_root == '/data/voc'
    assert concat[1].ann_file == 'VOC2012/ImageSets/Main/trainval.txt'  # relative: unchanged

    pose = _config('pose/relnas_simplebaseline_coco-256x192_det-bbox.py')  # detected boxes
    set_data_root(pose, '/data/coco')
    assert pose.val_evaluator.ann_file == '/data/coco/annotations/person_keypoints_val2017.json'
    assert pose.test_dataloader.dataset.bbox_file == (
        '/data/coco/person_detection_results/COCO_val2017_detections_AP_H_56_person.json')


def test_set_data_root_refuses_configs_without_a_data_root():
    cfg = Config(dict(train_dataloader=dict(dataset=dict(type='X', ann_file='a.json'))))
    with pytest.raises(KeyError, match='no dataset .* "data_root"'):
        set_data_root(cfg, '/data')


def test_check_data_lists_every_missing_file_with_its_config_key(tmp_path):
    cfg = _config('det/relnas_ssd_voc.py')
    devkit = tmp_path / 'VOCdevkit'
    for year in ('VOC2007', 'VOC2012'):
        (devkit / year / 'ImageSets' / 'Main').mkdir(parents=True)
    (devkit / 'VOC2007' / 'ImageSets' / 'Main' / 'trainval.txt').write_text('000001\n')
    set_data_root(cfg, str(devkit))
    with pytest.raises(DataCheckError) as info:
        check_data(cfg, ('train', 'val'))
    message = str(info.value)
    assert ('train_dataloader.dataset.datasets[1].ann_file: '
            f"'{devkit}/VOC2012/ImageSets/Main/trainval.txt' does not exist") in message
    assert f"val_dataloader.dataset.ann_file: '{devkit}/VOC2007/ImageSets/Main/test.txt'" \
        in message
    assert 'datasets[0].ann_file' not in message  # VOC2007 trainval.txt exists
    assert '--data-root' in message  # says how to fix it

    (devkit / 'VOC2012' / 'ImageSets' / 'Main' / 'trainval.txt').write_text('000002\n')
    check_data(cfg, ('train', ))  # the training files are all there now


def test_check_data_reports_a_missing_root_once_per_dataset(tmp_path):
    cfg = _config('seg/relnas_bisenetv1_cityscapes-1024x1024.py')
    set_data_root(cfg, str(tmp_path / 'nowhere'))
    with pytest.raises(DataCheckError) as info:
        check_data(cfg, ('train', ))
    assert str(info.value).count('does not exist') == 1
    assert f"train_dataloader.dataset.data_root: directory '{tmp_path}/nowhere'" \
        in str(info.value)


def test_check_data_checks_metric_annotation_files(tmp_path):
    cfg = _config('pose/relnas_simplebaseline_coco-256x192.py')
    (tmp_path / 'annotations').mkdir()
    (tmp_path / 'val2017').mkdir()
    (tmp_path / 'annotations' / 'person_keypoints_val2017.json').write_text('{}')
    set_data_root(cfg, str(tmp_path))
    cfg.test_dataloader.dataset.bbox_file = ''  # evaluate on ground-truth boxes
    check_data(cfg, ('test', ))
    cfg.test_evaluator.ann_file = str(tmp_path / 'lost.json')
    with pytest.raises(DataCheckError, match="test_evaluator\\[0\\].ann_file: '.*lost.json'"):
        check_data(cfg, ('test', ))


def test_check_model_names_the_genotype_key_and_file(tmp_path):
    cfg = _config('seg/relnas_bisenetv1_cityscapes-1024x1024.py')
    check_model(cfg)  # the shipped 'RelativeNAS' cell resolves
    bad = tmp_path / 'best_genotype.json'
    bad.write_text('{"normal": []}')
    cfg.model.backbone.backbone_cfg.genotype = str(bad)
    with pytest.raises(GenotypeError) as info:
        check_model(cfg)
    assert str(info.value).startswith('model.backbone.backbone_cfg.genotype: ')
    assert str(bad) in str(info.value)


def test_check_model_checks_local_pretrained_weights_only_for_training(tmp_path):
    cfg = _config('det/relnas_ssd_voc.py')
    lost = str(tmp_path / 'imagenet.pth')
    cfg.model.backbone.init_cfg = dict(type='Pretrained', checkpoint=lost, prefix='backbone.')
    with pytest.raises(FileNotFoundError, match=f"model.backbone.init_cfg.checkpoint: .*{lost}"):
        check_model(cfg)
    check_model(cfg, pretrained=False)  # testing loads a whole checkpoint instead
    cfg.model.backbone.init_cfg.checkpoint = 'https://example.org/imagenet.pth'
    check_model(cfg)  # remote files are the loader's business


def test_preflight_checks_load_from(tmp_path):
    cfg = _config('cifar/relnas_cifar10.py')
    (tmp_path / 'cifar-10-batches-py').mkdir()
    set_data_root(cfg, str(tmp_path))
    preflight(cfg, ('train', 'val'))
    cfg.load_from = str(tmp_path / 'missing.pth')
    with pytest.raises(FileNotFoundError, match="load_from: checkpoint '.*missing.pth'"):
        preflight(cfg, ('train', ))


def test_image_folder_classes_come_from_the_folders(tmp_path):
    """The user's retraining after an image-folder search on 5 class folders."""
    classes = ('ant', 'bee', 'cow', 'dog', 'elk')
    for split in ('train', 'val'):
        make_image_folder(str(tmp_path / split), classes=classes, per_class=1, size=(8, 8))
    config = os.path.join(REPO, 'configs/cifar/relnas_image_folder.py')
    assert tool_config('train', config, '--data-root', str(tmp_path)).model.num_classes == 5
    with pytest.raises(
            ValueError, match=r'model\.num_classes is 2 but train_dataloader\.dataset '
            r'has 5 class folders'):
        tool_config('train', config, '--data-root', str(tmp_path), '--cfg-options',
                    'model.num_classes=2')
