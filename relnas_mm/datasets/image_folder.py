"""An ImageNet-style folder dataset: ``<root>/<class>/<image>``, class list sorted.

Enough for the ImageNet mobile setting (``train/`` and ``val/`` split into class
folders, as ILSVRC's ``valprep.sh`` leaves them) without mmpretrain or torchvision.
Images are decoded with PIL into RGB ``uint8`` arrays, the same input the CIFAR
pipelines get.
"""
import os
from typing import Callable, Dict, List, Sequence, Union

from mmengine.dataset import BaseDataset

from ..registry import DATASETS
from .image_folder_io import IMG_EXTENSIONS, ImageFolderError, Samples, read_rgb, scan_image_folder


def read_ann_file(path: str) -> Samples:
    """Lines ``<relative image path> <integer label>`` (mmpretrain's text annotation)."""
    if not os.path.isfile(path):
        raise ImageFolderError(f'annotation file {path!r} does not exist')
    samples = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            parts = line.rsplit(maxsplit=1)
            if len(parts) != 2 or not parts[1].isdigit():
                raise ImageFolderError(f'{path}:{number}: expected "<image path> <label>" with '
                                       f'a non-negative integer label, got {line.strip()!r}')
            samples.append((parts[0], int(parts[1])))
    return samples


@DATASETS.register_module()
class ImageFolderDataset(BaseDataset):
    """Classification images under ``data_root/data_prefix['img_path']``.

    Without ``ann_file`` the labels are the sorted class folder names; with it, the
    file lists ``<path relative to the image folder> <label>`` per line and the class
    names come from ``metainfo`` (or the folders, when they exist). Items enter the
    pipeline as ``dict(img=uint8 (H, W, 3) RGB, gt_label=int, img_path=...)``.
    """

    def __init__(self, data_root: str = '', ann_file: str = '', data_prefix: Union[dict, str] = '',
                 pipeline: Sequence[Union[dict, Callable]] = (),
                 extensions: Sequence[str] = IMG_EXTENSIONS, **kwargs) -> None:
        self.extensions = tuple(e.lower() for e in extensions)
        if isinstance(data_prefix, str):
            data_prefix = dict(img_path=data_prefix)
        super().__init__(ann_file=ann_file, data_root=data_root, data_prefix=data_prefix,
                         pipeline=list(pipeline), **kwargs)

    def load_data_list(self) -> List[dict]:
        folder = self.data_prefix['img_path'] or self.data_root
        if self.ann_file:
            samples = read_ann_file(self.ann_file)
            if 'classes' not in self._metainfo and os.path.isdir(folder):
                self._metainfo['classes'] = tuple(
                    sorted(e.name for e in os.scandir(folder) if e.is_dir()))
            num_classes = len(self._metainfo.get('classes', ()))
            bad = [(p, label) for p, label in samples if num_classes and label >= num_classes]
            if bad:
                raise ImageFolderError(f'{self.ann_file}: label {bad[0][1]} of {bad[0][0]} is '
                                       f'out of range for {num_classes} classes')
        else:
            classes, samples = scan_image_folder(folder, self.extensions)
            self._metainfo.setdefault('classes', tuple(classes))
        return [dict(img_path=os.path.join(folder, rel), gt_label=label) for rel, label in samples]

    def get_data_info(self, idx: int) -> Dict:
        info = super().get_data_info(idx)
        img = read_rgb(info['img_path'])
        info.update(img=img, img_shape=img.shape[:2], ori_shape=img.shape[:2])
        return info
