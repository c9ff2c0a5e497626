"""Rewrite and check a runner config before anything is built.

Why: mmengine builds dataloaders lazily, inside ``runner.train()``/``runner.test()``,
and wraps every build error in registry messages. A wrong data root, a missing
annotation file or a genotype file that does not parse would surface late and
obscurely (or, for a missing image folder, only when a worker first reads an image).
These checks run on the plain config, name the config key and the file, and fail
before the runner exists.
"""
import os
import os.path as osp
from typing import Any, Iterator, List, Optional, Sequence, Tuple

from relnas_mm.space.genotype import GenotypeError, get_genotype

PHASES = ('train', 'val', 'test')
_DATA_HINT = ('Prepare the data as docs/en/downstream.md describes, or point the '
              'config at it with --data-root DIR.')


class DataCheckError(FileNotFoundError):
    """Files that a config's datasets or metrics name do not exist."""


def leaf_datasets(dataset: Any, path: str) -> Iterator[Tuple[str, dict]]:
    """Yield ``(config key, dataset config)`` of every real dataset below wrappers.

    ``ConcatDataset`` holds ``datasets``, ``RepeatDataset``/``ClassBalancedDataset``
    hold ``dataset``; already-built dataset objects are skipped.
    """
    if not isinstance(dataset, dict):
        return
    if isinstance(dataset.get('datasets'), (list, tuple)):
        for i, child in enumerate(dataset['datasets']):
            yield from leaf_datasets(child, f'{path}.datasets[{i}]')
    elif isinstance(dataset.get('dataset'), dict):
        yield from leaf_datasets(dataset['dataset'], f'{path}.dataset')
    else:
        yield path, dataset


def phase_datasets(cfg: Any, phase: str) -> List[Tuple[str, dict]]:
    """The leaf dataset configs of ``{phase}_dataloader`` (empty if it has none)."""
    loader = cfg.get(f'{phase}_dataloader')
    if not isinstance(loader, dict):
        return []
    return list(leaf_datasets(loader.get('dataset'), f'{phase}_dataloader.dataset'))


def _metric_cfgs(cfg: Any, phase: str) -> List[dict]:
    evaluator = cfg.get(f'{phase}_evaluator')
    if isinstance(evaluator, dict) and 'metrics' in evaluator:
        evaluator = evaluator['metrics']
    metrics = evaluator if isinstance(evaluator, (list, tuple)) else [evaluator]
    return [m for m in metrics if isinstance(m, dict)]


def _move_root(path: Any, old_roots: Sequence[str], data_root: str) -> Any:
    """``path`` re-based from the longest matching old root onto ``data_root``."""
    if isinstance(path, str):
        for old in sorted(old_roots, key=len, reverse=True):
            if path.startswith(old):
                return osp.join(data_root, path[len(old):].lstrip('/'))
    return path


def set_data_root(cfg: Any, data_root: str) -> None:
    """Point every dataset of the train/val/test dataloaders at ``data_root``.

    Paths that configs spell out under the old root move along with it: a
    dataset's ``bbox_file`` and a metric's ``ann_file`` (mmpose's ``CocoMetric``
    reads the ground-truth JSON itself).
    """
    # test_dataloader is often the very same dict as val_dataloader: move it once
    datasets = list({
        id(d): d
        for phase in PHASES
        for _, d in phase_datasets(cfg, phase) if 'data_root' in d
    }.values())
    if not datasets:
        raise KeyError('--data-root: no dataset of train/val/test_dataloader has a '
                       '"data_root" key to rewrite')
    old_roots = {str(d['data_root']) for d in datasets if d['data_root']}
    for dataset in datasets:
        dataset['data_root'] = data_root
        if dataset.get('bbox_file'):
            dataset['bbox_file'] = _move_root(dataset['bbox_file'], old_roots, data_root)
    metrics = {id(m): m for phase in ('val', 'test') for m in _metric_cfgs(cfg, phase)}
    for metric in metrics.values():
        if metric.get('ann_file'):
            metric['ann_file'] = _move_root(metric['ann_file'], old_roots, data_root)


def _under_root(root: Any, path: str) -> str:
    return osp.join(root, path) if root and not osp.isabs(path) else path


def _class_folders(dataset: dict) -> Optional[Tuple[str, int]]:
    """``(folder, number of class folders)`` of an image-folder dataset that reads its
    labels from the folders (None for another dataset or a folder that does not exist:
    :func:`check_data` reports that)."""
    if str(dataset.get('type', '')).split('.')[-1] != 'ImageFolderDataset' \
            or dataset.get('ann_file'):
        return None
    prefix = dataset.get('data_prefix') or ''
    prefix = prefix.get('img_path', '') if isinstance(prefix, dict) else prefix
    folder = _under_root(dataset.get('data_root'), prefix) if prefix else dataset.get('data_root')
    if not folder or not osp.isdir(folder):
        return None
    return folder, sum(entry.is_dir() for entry in os.scandir(folder))


def set_num_classes(cfg: Any) -> None:
    """``model.num_classes=None`` takes the number of class folders of the image-folder
    datasets, as the search does; fewer classes than folders is an error naming both
    numbers (training would fail later with "Target N is out of bounds"). More is
    allowed: a subset of ImageNet's folders with its 1000-way classifier."""
    model = cfg.get('model')
    if not isinstance(model, dict) or 'num_classes' not in model:
        return
    for phase in PHASES:
        for key, dataset in phase_datasets(cfg, phase):
            found = _class_folders(dataset)
            if found is None:
                continue
            folder, count = found
            if model['num_classes'] is None:
                model['num_classes'] = count
            elif model['num_classes'] < count:
                raise ValueError(f"model.num_classes is {model['num_classes']} but {key} has "
                                 f'{count} class folders in {folder}: set model.num_classes='
                                 f'{count}, or None to take the number of folders')


def _dataset_problems(key: str, dataset: dict) -> List[str]:
    root = dataset.get('data_root')
    if root and not osp.isdir(root):
        return [f"{key}.data_root: directory '{root}' does not exist"]
    problems = []
    ann_file = dataset.get('ann_file')
    if isinstance(ann_file, str) and ann_file and not osp.exists(_under_root(root, ann_file)):
        problems.append(f"{key}.ann_file: '{_under_root(root, ann_file)}' does not exist")
    bbox_file = dataset.get('bbox_file')  # mmpose reads it as given, not under data_root
    if isinstance(bbox_file, str) and bbox_file and not osp.exists(bbox_file):
        problems.append(f"{key}.bbox_file: '{bbox_file}' does not exist")
    prefix = dataset.get('data_prefix')
    if isinstance(prefix, str):
        prefix = dict(img_path=prefix)
    if isinstance(prefix, dict):
        for name, value in prefix.items():
            if isinstance(value, str) and value and not osp.exists(_under_root(root, value)):
                problems.append(f"{key}.data_prefix.{name}: '{_under_root(root, value)}' "
                                'does not exist')
    return problems


def check_data(cfg: Any, phases: Sequence[str]) -> None:
    """Raise DataCheckError listing every missing data root, annotation file or folder."""
    problems = []
    for phase in phases:
        for key, dataset in phase_datasets(cfg, phase):
            problems += _dataset_problems(key, dataset)
        for i, metric in enumerate(_metric_cfgs(cfg, phase) if phase != 'train' else []):
            ann_file = metric.get('ann_file')
            if isinstance(ann_file, str) and ann_file and not osp.exists(ann_file):
                problems.append(f"{phase}_evaluator[{i}].ann_file: '{ann_file}' does not exist")
    if problems:
        raise DataCheckError('dataset files are missing:\n  - ' + '\n  - '.join(problems) +
                             f'\n{_DATA_HINT}')


def walk_dicts(node: Any, path: str) -> Iterator[Tuple[str, dict]]:
    """Yield ``(key, dict)`` for every dict nested in ``node`` (itself included)."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from walk_dicts(value, f'{path}.{key}')
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from walk_dicts(value, f'{path}[{i}]')


def _is_local(path: Any) -> bool:
    return isinstance(path, str) and '://' not in path


def check_model(cfg: Any, pretrained: bool = True) -> None:
    """Resolve every ``genotype`` of the model and (if ``pretrained``) check that
    local ``Pretrained`` init files exist; only training initialises weights.

    Raises GenotypeError (naming the key and, for a file, the file) or
    FileNotFoundError for a missing pretrained checkpoint.
    """
    for key, node in walk_dicts(cfg.get('model'), 'model'):
        if 'genotype' in node:
            try:
                get_genotype(node['genotype'])
            except GenotypeError as exc:
                raise GenotypeError(f'{key}.genotype: {exc}') from None
        if (pretrained and node.get('type') == 'Pretrained' and _is_local(node.get('checkpoint'))):
            if not osp.isfile(node['checkpoint']):
                raise FileNotFoundError(f"{key}.checkpoint: pretrained weights "
                                        f"'{node['checkpoint']}' do not exist")


def unfinished_genotypes(cfg: Any) -> List[str]:
    """A warning for each genotype of the model that is the ``best_genotype.json`` of a
    search that did not finish (its best so far, not its result)."""
    from relnas_mm.engine.search_files import unfinished_search
    warnings = []
    for key, node in walk_dicts(cfg.get('model'), 'model'):
        genotype = node.get('genotype')
        why = None
        if isinstance(genotype, str) and osp.isfile(genotype):
            why = unfinished_search(genotype)
        if why:
            warnings.append(f'{key}.genotype: {why}')
    return warnings


def check_checkpoint(path: Any, key: str) -> None:
    """A local checkpoint that the runner is going to load must exist."""
    if _is_local(path) and not osp.isfile(path):
        raise FileNotFoundError(f"{key}: checkpoint '{path}' does not exist")


def preflight(cfg: Any, phases: Sequence[str]) -> None:
    """All checks for a run over ``phases`` (e.g. ``('train', 'val')``, ``('test',)``)."""
    check_model(cfg, pretrained='train' in phases)
    if cfg.get('load_from'):
        check_checkpoint(cfg.load_from, 'load_from')
    check_data(cfg, phases)
