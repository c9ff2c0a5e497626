"""Loading a whole image folder for the search: sizes, formats, labels and bad input."""
import os

import numpy as np
import pytest
from fixtures_data import make_image_folder
from PIL import Image

from relnas_mm.datasets.image_folder_io import (ImageFolderError, image_folder_classes,
                                                load_image_folder)


def test_any_size_and_format_resized_to_a_square(tmp_path):
    root = make_image_folder(
        str(tmp_path), classes=('cat', 'dog'), per_class=3, size=(40, 48), ext='.JPEG')
    Image.new('L', (20, 60), 200).save(os.path.join(root, 'dog', 'grey.png'))  # grey, tall
    os.makedirs(os.path.join(root, 'dog', 'nested'))
    Image.new('RGBA', (9, 7), (10, 20, 30, 0)).save(os.path.join(root, 'dog', 'nested', 'a.png'))
    open(os.path.join(root, 'cat', 'notes.txt'), 'w').write('not an image')
    progress = []
    images, labels, classes = load_image_folder(root, image_size=16,
                                                progress=lambda d, t: progress.append((d, t)))
    assert classes == ['cat', 'dog']
    assert images.shape == (8, 16, 16, 3) and images.dtype == np.uint8
    assert labels.tolist() == [0, 0, 0, 1, 1, 1, 1, 1]
    assert progress[-1] == (8, 8) and len(progress) == 8
    # the grey PNG (sorted after the JPEGs of 'dog') is constant 200 in every channel
    grey = [i for i in range(8) if (images[i] == 200).all()]
    assert len(grey) == 1 and labels[grey[0]] == 1
    # class colours survive the resize: the mean colour differs by class
    assert np.abs(images[labels == 0].mean((0, 1, 2)) - images[:3].mean((0, 1, 2))).max() < 1e-9
    assert np.abs(images[:3].mean((0, 1, 2)) - images[3:6].mean((0, 1, 2))).max() > 20


def test_bad_folders_are_named(tmp_path):
    with pytest.raises(ImageFolderError, match='does not exist'):
        image_folder_classes(str(tmp_path / 'none'))
    root = make_image_folder(str(tmp_path / 'a'), classes=('cat', 'dog'))
    os.makedirs(os.path.join(root, 'empty_class'))
    with pytest.raises(ImageFolderError, match=r'without images .*empty_class'):
        load_image_folder(root)
    one = make_image_folder(str(tmp_path / 'b'), classes=('cat', ))
    with pytest.raises(ImageFolderError, match=r"1 class folder \('cat'\).*two at least"):
        load_image_folder(one)
    with pytest.raises(ValueError, match='image_size must be an integer >= 8'):
        load_image_folder(root, image_size=4)


@pytest.mark.parametrize('ext, damage', [('.png', 'truncate'), ('.jpg', 'truncate'),
                                         ('.png', 'garbage')])
def test_an_unreadable_image_is_named(tmp_path, ext, damage):
    root = make_image_folder(str(tmp_path), classes=('cat', 'dog'), size=(64, 64), ext=ext)
    path = os.path.join(root, 'dog', f'dog_4{ext}')
    data = open(path, 'rb').read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2] if damage == 'truncate' else b'not an image at all')
    with pytest.raises(ImageFolderError, match=rf'cannot read image .*dog_4\{ext}'):
        load_image_folder(root, image_size=16)
