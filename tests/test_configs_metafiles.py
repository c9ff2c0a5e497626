"""model-index.yml and the det/seg/pose metafiles: OpenMMLab's layout, mmdet's keys,
every named config present, and base_batch_size equal to the documented total batch."""
import os

import pytest
import yaml
from fixtures_tools import REPO

pytest.importorskip('mmengine')
from mmengine.config import Config

COLLECTION_KEYS = {'Name', 'Metadata', 'Paper', 'README', 'Code'}
MODEL_KEYS = {'Name', 'In Collection', 'Config', 'Metadata', 'Results', 'Weights'}
METADATA_KEYS = {
    'Training Data', 'Training Techniques', 'Training Resources', 'Architecture', 'Epochs',
    'Training Memory (GB)', 'inference time (ms/im)'
}
# config: total batch its learning rate is for (docs/en/downstream.md), and GPUs
TOTAL_BATCH = {'det': (32, 1), 'seg': (16, 4), 'pose': (128, 4)}


def _load(path: str) -> dict:
    with open(os.path.join(REPO, path)) as f:
        return yaml.safe_load(f)


def test_model_index_imports_every_metafile():
    imports = _load('model-index.yml')['Import']
    folders = sorted(
        d for d in os.listdir(os.path.join(REPO, 'configs'))
        if os.path.isfile(os.path.join(REPO, 'configs', d, 'metafile.yml')))
    assert sorted(imports) == [f'configs/{d}/metafile.yml' for d in folders]


@pytest.mark.parametrize('task', sorted(TOTAL_BATCH))
def test_metafile_uses_mmdets_keys_and_names_existing_configs(task):
    meta = _load(f'configs/{task}/metafile.yml')
    assert set(meta) == {'Collections', 'Models'}
    names = set()
    for collection in meta['Collections']:
        assert set(collection) <= COLLECTION_KEYS
        assert set(collection['Metadata']) <= METADATA_KEYS
        assert os.path.isfile(os.path.join(REPO, collection['README']))
        names.add(collection['Name'])
    configs = sorted(f'configs/{task}/{f}' for f in os.listdir(os.path.join(REPO, 'configs', task))
                     if f.endswith('.py'))
    assert sorted(m['Config'] for m in meta['Models']) == configs
    for model in meta['Models']:
        assert set(model) == MODEL_KEYS and model['In Collection'] in names
        assert set(model['Metadata']) <= METADATA_KEYS
        assert model['Name'] == os.path.splitext(os.path.basename(model['Config']))[0]
        for result in model['Results'] or []:
            assert set(result) == {'Task', 'Dataset', 'Metrics'}


@pytest.mark.parametrize('task', sorted(TOTAL_BATCH))
def test_base_batch_size_is_the_documented_total_batch(task):
    total, gpus = TOTAL_BATCH[task]
    folder = os.path.join(REPO, 'configs', task)
    for name in sorted(f for f in os.listdir(folder) if f.endswith('.py')):
        cfg = Config.fromfile(os.path.join(folder, name), import_custom_modules=False)
        assert cfg.auto_scale_lr.base_batch_size == total, name
        assert gpus * cfg.train_dataloader.batch_size == total, name
