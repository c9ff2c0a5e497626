"""mmengine datasets over the CIFAR-10/100 python formats (thin: reading is in ``cifar_io``
and ``cifar100_io``)."""
from typing import Callable, Dict, List, Sequence, Union

import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.dist import barrier, get_local_rank

from ..registry import DATASETS
from .cifar100_io import LABEL_TYPES, load_cifar100, load_cifar100_classes
from .cifar_io import CIFAR10_CLASSES, download_cifar10, load_cifar10, load_cifar10_classes
from .demo_digits import DIGIT_CLASSES, prepare_demo_digits


@DATASETS.register_module()
class CIFAR10Dataset(BaseDataset):
    """CIFAR-10 from ``data_root`` (holding ``cifar-10-batches-py``, or that folder itself).

    Items enter the pipeline as ``dict(img=uint8 (32, 32, 3) RGB, gt_label=int, ...)``.
    The images stay in one array shared by dataloader workers; the data list only
    holds indices, so building the dataset costs no per-image pickling. Class names
    come from ``batches.meta``. ``download=True`` fetches the official archive first;
    nothing is ever downloaded otherwise.
    """

    METAINFO = dict(classes=CIFAR10_CLASSES)

    def __init__(self, data_root: str, split: str = 'train',
                 pipeline: Sequence[Union[dict, Callable]] = (), download: bool = False,
                 **kwargs) -> None:
        if split not in ('train', 'test'):
            raise ValueError(f'{type(self).__name__}: split must be "train" or "test", '
                             f'got {split!r}')
        self.split, self.download = split, download
        self._images = np.empty((0, 32, 32, 3), np.uint8)
        kwargs.setdefault('test_mode', split == 'test')
        super().__init__(data_root=data_root, pipeline=list(pipeline), **kwargs)

    def _prepare_files(self) -> None:
        if self.download:
            if get_local_rank() == 0:  # one download per machine; the other ranks wait
                download_cifar10(self.data_root)
            barrier()

    def load_data_list(self) -> List[dict]:
        self._prepare_files()
        self._images, labels = load_cifar10(self.data_root, self.split)
        self._metainfo['classes'] = tuple(load_cifar10_classes(self.data_root))
        return [dict(img_index=i, gt_label=int(label)) for i, label in enumerate(labels)]

    def get_data_info(self, idx: int) -> Dict:
        info = super().get_data_info(idx)
        img = self._images[info.pop('img_index')].copy()  # transforms may write into it
        info.update(img=img, img_shape=img.shape[:2], ori_shape=img.shape[:2])
        return info


@DATASETS.register_module()
class DemoDigitsDataset(CIFAR10Dataset):
    """scikit-learn's digits as 32x32 RGB CIFAR-format data, written on first use.

    The demo's dataset: real handwriting, nothing to download (see ``demo_digits``).
    """

    METAINFO = dict(classes=DIGIT_CLASSES)

    def __init__(self, data_root: str, split: str = 'train',
                 pipeline: Sequence[Union[dict, Callable]] = (), **kwargs) -> None:
        super().__init__(data_root, split, pipeline, download=False, **kwargs)

    def _prepare_files(self) -> None:
        prepare_demo_digits(self.data_root)


@DATASETS.register_module()
class CIFAR100Dataset(CIFAR10Dataset):
    """CIFAR-100 from ``data_root`` (holding ``cifar-100-python``, or that folder itself).

    ``label_type='fine'`` (100 classes, default) or ``'coarse'`` (20 superclasses);
    class names come from ``meta``. Never downloads.
    """

    METAINFO = dict(classes=())

    def __init__(self, data_root: str, split: str = 'train',
                 pipeline: Sequence[Union[dict, Callable]] = (), label_type: str = 'fine',
                 **kwargs) -> None:
        if label_type not in LABEL_TYPES:
            raise ValueError(f'CIFAR100Dataset: label_type must be one of {LABEL_TYPES}, '
                             f'got {label_type!r}')
        self.label_type = label_type
        super().__init__(data_root, split, pipeline, download=False, **kwargs)

    def load_data_list(self) -> List[dict]:
        self._images, labels = load_cifar100(self.data_root, self.split, self.label_type)
        self._metainfo['classes'] = tuple(load_cifar100_classes(self.data_root, self.label_type))
        return [dict(img_index=i, gt_label=int(label)) for i, label in enumerate(labels)]
