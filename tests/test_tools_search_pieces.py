"""tools/search.py end to end on object crops (COCO, VOC) and segmentation patches
(Cityscapes), each a tiny set in its real layout; the second COCO search reads the cache."""
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
from fixtures_downstream import make_cityscapes
from fixtures_pieces import make_coco, make_voc
from fixtures_tools import REPO, run_tool_in_process

pytest.importorskip('mmengine')

from relnas_mm.space.genotype import get_genotype

SCRIPT = osp.join(REPO, 'tools', 'search.py')
TINY = [
    'search.algorithm.generations=1', 'search.algorithm.pop_size=4', 'search.supernet.channels=4',
    'search.supernet.num_cells=3', 'search.evaluator.batch_size=8', 'search.data.image_size=32'
]


def _search(monkeypatch, config: str, work_dir: str, data_root: str, name: str, *options:
            str) -> dict:
    """Run the search in this process; return its history file."""
    run_tool_in_process(monkeypatch, SCRIPT, osp.join(REPO, 'configs', 'search', config),
                        '--work-dir', work_dir, '--data-root', data_root, '--cfg-options', *TINY,
                        *options, f'experiment_name={name}')
    get_genotype(osp.join(work_dir, 'best_genotype.json'))  # a valid cell came out
    with open(osp.join(work_dir, 'search_history.json')) as f:
        return json.load(f)


def _log(work_dir: str) -> str:
    """The log of the latest run in ``work_dir``."""
    with open(max(glob.glob(osp.join(work_dir, '*', '*.log')), key=osp.getmtime)) as f:
        return f.read()


def test_search_on_coco_crops_then_from_the_cache(tmp_path, monkeypatch):
    root, work = make_coco(str(tmp_path / 'coco')), str(tmp_path / 'work')
    options = ('search.data.ann_file=annotations/instances_train.json', 'search.data.img_dir=train',
               'search.data.min_size=8')
    with pytest.warns(UserWarning, match='left out of the search: bird'):
        history = _search(monkeypatch, 'relnas_coco_crops.py', work, root, 'first', *options)
    assert history['search']['supernet.stem'] == 'imagenet'
    log = _log(work)
    assert 'Cut 12 coco pieces of 32x32 from 6 images' in log
    assert 'Loading the search images: 6/6' in log
    assert '6 training / 6 validation images' in log  # 3 source images on each side
    _search(monkeypatch, 'relnas_coco_crops.py', work, root, 'second', *options)
    assert 'Reading the coco pieces from the cache' in _log(work)


def test_search_on_voc_crops_under_the_ssdlite_budget(tmp_path, monkeypatch):
    devkit, work = make_voc(str(tmp_path)), str(tmp_path / 'work')
    history = _search(monkeypatch, 'relnas_voc_crops_ssdlite.py', work, devkit, 'voc',
                      'search.data.min_size=8')
    assert history['search']['budget.network'] == 'configs/det/relnas_ssd_voc.py'
    assert 'Cut 12 voc pieces' in _log(work)


def test_search_on_cityscapes_patches(tmp_path, monkeypatch):
    root, work = make_cityscapes(str(tmp_path), size=(64, 128), per_split=2), str(tmp_path / 'w')
    _search(monkeypatch, 'relnas_cifar.py', work, root, 'seg', 'search.data.dataset=seg_patches',
            'search.data.layout=cityscapes', 'search.data.patch_size=32',
            'search.supernet.num_classes=None', 'search.supernet.stem=imagenet')
    log = _log(work)
    assert 'Cut 16 seg_patches pieces of 32x32 from 2 images' in log
    assert '8 training / 8 validation images' in log


@pytest.mark.e2e
def test_two_ranks_cut_once(tmp_path):
    """Rank 0 cuts and writes the cache; rank 1 waits for it and reads it."""
    root, work = make_coco(str(tmp_path / 'coco')), str(tmp_path / 'work')
    cmd = [
        sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2', SCRIPT,
        osp.join(REPO, 'configs', 'search',
                 'relnas_coco_crops.py'), '--work-dir', work, '--data-root', root, '--cfg-options',
        *TINY, 'search.data.ann_file=annotations/instances_train.json', 'search.data.img_dir=train',
        'search.data.min_size=8', 'env_cfg.dist_cfg.backend=gloo', '--launcher', 'pytorch'
    ]
    env = dict(os.environ, OMP_NUM_THREADS='1',
               PYTHONPATH=REPO + os.pathsep + os.environ.get('PYTHONPATH', ''))
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert len(glob.glob(osp.join(work, 'search_data_cache', '*.npz'))) == 1
    assert _log(work).count('Cut 12 coco pieces') == 1
    with open(osp.join(work, 'search_history.json')) as f:
        assert sorted(set(json.load(f)['generations'][0]['evaluated_by'])) == [0, 1]
