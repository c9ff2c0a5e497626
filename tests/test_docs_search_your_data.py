"""docs/en/search_your_data.md's walk-through, run as written on a tiny COCO-format set.

The page's commands and its child config are taken from the page itself and run in a
scratch folder that holds ``tools`` and ``configs`` (links to the repository's) and
``data/my_coco``; only ``--cfg-options`` that shrink the search and the detector are
appended. The ImageNet pre-training block needs ImageNet and is not run.
"""
import json
import os
import re
import shlex
import subprocess
import sys
from typing import List, Tuple

import pytest
from fixtures_downstream import LOADER_OPTIONS, SMALL_DET, cli_options
from fixtures_pieces import make_coco
from fixtures_tools import REPO, check_ok

pytest.importorskip('mmdet')
pytest.importorskip('pycocotools')

PAGE = os.path.join(REPO, 'docs', 'en', 'search_your_data.md')
SECTION = '## Walk-through'
TINY = {
    'tools/search.py': [
        'search.algorithm.generations=1', 'search.algorithm.pop_size=4',
        'search.supernet.channels=4', 'search.supernet.num_cells=3', 'search.evaluator.batch_size=8'
    ],
    'tools/analysis/get_flops.py': [],
    'tools/train.py':
    cli_options(SMALL_DET) + LOADER_OPTIONS + ['train_cfg.max_epochs=1'],
}


def walk_through() -> Tuple[List[List[str]], Tuple[str, str]]:
    """The walk-through's commands (argv lists) and its config (file name, text)."""
    with open(PAGE) as f:
        text = f.read()
    section = text[text.index(SECTION):]
    blocks = re.findall(r'```(\w+)\n(.*?)```', section, re.S)
    (config, ) = [body for lang, body in blocks if lang == 'python']
    name = re.match(r'# (\S+\.py)', config).group(1)
    commands = [
        shlex.split(line) for lang, body in blocks
        if lang == 'bash' and 'configs/imagenet' not in body
        for line in body.replace('\\\n', ' ').splitlines() if line.strip()
    ]
    return commands, (name, config)


@pytest.mark.e2e
def test_walk_through_runs_as_written(tmp_path):
    commands, (name, config) = walk_through()
    assert [c[1] for c in commands
            ] == ['tools/search.py', 'tools/analysis/get_flops.py', 'tools/train.py']
    for folder in ('tools', 'configs'):
        os.symlink(os.path.join(REPO, folder), tmp_path / folder)
    for split in ('train', 'val'):
        make_coco(str(tmp_path / 'data' / 'my_coco'), split, scale=2)  # boxes over min_size 16
    (tmp_path / name).write_text(config)
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get('PYTHONPATH', ''))
    outputs = []
    for argv in commands:
        assert argv[0] == 'python' and '--cfg-options' in argv
        proc = subprocess.run([sys.executable, *argv[1:], *TINY[argv[1]]], cwd=tmp_path, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=600)
        outputs.append(check_ok(proc))
    search, flops, train = outputs
    assert re.search(r'Cut 12 coco pieces of 64x64 from 6 images', search)
    with open(tmp_path / 'work_dirs' / 'my_coco_search' / 'search_history.json') as f:
        history = json.load(f)
    assert history['search']['data.dataset'] == 'coco'
    assert history['search']['budget.network'] == 'configs/det/relnas_ssd_voc.py'
    assert 'FLOPs' in flops
    assert 'coco/bbox_mAP' in train
