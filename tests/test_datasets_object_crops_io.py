"""Object crops from COCO and VOC layouts: known boxes, filters, cap, subset, bad input."""
import json
import os

import numpy as np
import pytest
from fixtures_pieces import NUM_IMAGES, coded_image, make_coco, make_voc

from relnas_mm.datasets.crop_io import AnnotationError, cut_pieces, cut_square
from relnas_mm.datasets.object_crops_io import CropSettings, plan_object_crops, read_coco, read_voc

VOC_SPLITS = ['VOC2007/ImageSets/Main/trainval.txt', 'VOC2012/ImageSets/Main/trainval.txt']


def _coco(root: str):
    return read_coco(
        os.path.join(root, 'annotations', 'instances_train.json'), os.path.join(root, 'train'))


@pytest.fixture(scope='module')
def coco_root(tmp_path_factory) -> str:
    return make_coco(str(tmp_path_factory.mktemp('coco')))


@pytest.fixture(scope='module')
def devkit(tmp_path_factory) -> str:
    return make_voc(str(tmp_path_factory.mktemp('voc')))


def _expected_squares(index: int):
    """(left, top, side) of image ``index``'s cat and dog at context 1.2 (worked by hand):
    cat box x 10+i..30+i, y 20..30: side round(1.2 * 20) = 24 around (20+i, 25);
    dog box x 30..42, y 8+i..32+i: side round(1.2 * 24) = 29 around (36, 20+i)."""
    return [[8 + index, 13, 24], [22, 6 + index, 29]]


def test_coco_crops_of_known_boxes(coco_root):
    with pytest.warns(UserWarning, match=r'1 class\(es\) without any piece .* bird'):
        plan = plan_object_crops(_coco(coco_root), CropSettings(image_size=24))
    assert plan.classes == ['cat', 'dog'] and plan.dropped == ['bird']
    # the 5-pixel cat (min_size=8) and the crowd dog are skipped: 2 crops per image
    assert plan.labels.tolist() == [0, 1] * NUM_IMAGES
    assert plan.groups.tolist() == np.repeat(np.arange(NUM_IMAGES), 2).tolist()
    assert plan.squares.tolist() == [s for i in range(NUM_IMAGES) for s in _expected_squares(i)]
    images, labels, groups = cut_pieces(plan, 24)
    assert images.shape == (2 * NUM_IMAGES, 24, 24, 3) and images.dtype == np.uint8
    # the 24-pixel cat square is cut as is: its pixels code their source position
    for i in range(NUM_IMAGES):
        left, top, _ = _expected_squares(i)[0]
        assert np.array_equal(images[2 * i], coded_image(i)[top:top + 24, left:left + 24])


def test_voc_years_give_the_same_crops(coco_root, devkit):
    plan = plan_object_crops(read_voc(devkit, VOC_SPLITS), CropSettings(image_size=24))
    assert plan.classes == ['cat', 'dog']  # VOC's class order; no bird in VOC's XMLs
    # VOC2007 holds the even images, VOC2012 the odd ones; XML pixels are 1-based
    order = [0, 2, 4, 1, 3, 5]
    assert plan.squares.tolist() == [s for i in order for s in _expected_squares(i)]
    assert [os.path.relpath(p, devkit) for p in plan.images[:1]] == \
        [os.path.join('VOC2007', 'JPEGImages', '000000000000.jpg')]


def test_crowd_difficult_min_size_cap_and_subset(coco_root, devkit):
    for objects in (_coco(coco_root), read_voc(devkit, VOC_SPLITS)):
        kept = plan_object_crops(
            objects, CropSettings(skip_crowd_difficult=False, min_size=4, classes=['dog', 'cat']))
        # every box now: the small cat and the crowd/difficult dog too; labels follow
        # the subset's order (dog = 0)
        assert kept.classes == ['dog', 'cat']
        assert np.bincount(kept.labels).tolist() == [2 * NUM_IMAGES, 2 * NUM_IMAGES]
        capped = plan_object_crops(objects, CropSettings(classes=['cat', 'dog'], max_per_class=3))
        # evenly spaced over the six images: the 1st, 3rd and 6th
        assert np.bincount(capped.labels).tolist() == [3, 3]
        assert len(capped.images) == 3  # images without a kept crop are not read


def test_a_context_of_one_crops_the_box_square(coco_root):
    plan = plan_object_crops(_coco(coco_root), CropSettings(context=1.0, classes=['cat', 'dog']))
    assert plan.squares[0].tolist() == [10, 15, 20]  # 20x10 cat at x 10..30, y 20..30


def test_a_crop_over_the_border_is_filled_with_the_mean_colour():
    image = np.zeros((10, 10, 3), np.uint8)
    image[:, :5] = 200  # mean 100
    crop = cut_square(image, -4, 0, 8, 8, image.reshape(-1, 3).mean(0).astype(np.uint8))
    assert (crop[:, :4] == 100).all() and (crop[:, 4:] == 200).all()


def test_coco_file_that_does_not_match_its_images(coco_root, tmp_path):
    with pytest.raises(AnnotationError) as info:
        plan_object_crops(
            read_coco(
                os.path.join(coco_root, 'annotations', 'instances_train.json'), str(tmp_path)),
            CropSettings(classes=['cat', 'dog']))
    first = os.path.join(str(tmp_path), '000000000000.jpg')
    assert f'instances_train.json does not match its images: {first} does not exist ' \
           f'(the first of 6 missing of 6)' in str(info.value)


def test_voc_split_that_names_a_missing_file(devkit, tmp_path):
    split = os.path.join(devkit, 'VOC2007', 'ImageSets', 'Main', 'missing.txt')
    with open(split, 'w') as f:
        f.write('000000000000\nno_such_image\n')
    with pytest.raises(
            AnnotationError, match=r'missing\.txt does not match its images: .*'
            r'VOC2007/Annotations/no_such_image\.xml does not exist'):
        read_voc(devkit, 'VOC2007/ImageSets/Main/missing.txt')


@pytest.mark.parametrize('content', ['', '\n\n'])
def test_empty_voc_split(devkit, content):
    split = os.path.join(devkit, 'VOC2007', 'ImageSets', 'Main', 'empty.txt')
    with open(split, 'w') as f:
        f.write(content)
    with pytest.raises(AnnotationError, match=r'empty\.txt: the split is empty'):
        read_voc(devkit, 'VOC2007/ImageSets/Main/empty.txt')


def test_empty_coco_split(tmp_path):
    path = str(tmp_path / 'instances.json')
    with open(path, 'w') as f:
        json.dump(dict(images=[], annotations=[], categories=[]), f)
    with pytest.raises(AnnotationError, match=r'instances\.json: the split is empty'):
        read_coco(path, str(tmp_path))


def test_fewer_than_two_categories_after_filtering(coco_root):
    with pytest.raises(
            AnnotationError, match=r"1 class\(es\) with pieces after filtering "
            r"\(min_size=11, .*\), found 'dog': 6; a classification search needs two"):
        # the cats' shorter side is 10 pixels
        plan_object_crops(_coco(coco_root), CropSettings(min_size=11, classes=['cat', 'dog']))


def test_unknown_category_and_bad_settings(coco_root):
    with pytest.raises(AnnotationError, match=r"classes: \['horse'\] not among the categories"):
        plan_object_crops(_coco(coco_root), CropSettings(classes=['cat', 'horse']))
    for kwargs, message in ((dict(context=0.5), 'context must be a number >= 1'),
                            (dict(min_size=0), 'min_size must be a number of pixels >= 1'),
                            (dict(max_per_class=0), 'max_per_class must be None or an integer'),
                            (dict(image_size=4), 'image_size must be an integer >= 8'),
                            (dict(classes='cat'), 'classes must be a list of category names')):
        with pytest.raises(ValueError, match=message):
            CropSettings(**kwargs)
