"""On-device CIFAR augmentation: crop with padding, flip, cutout, normalisation."""
import torch

from relnas_mm.search.augment import augment_batch, crop_flip, cutout, normalize
from relnas_mm.utils.image_stats import CIFAR10_MEAN, CIFAR10_STD


def _images(n=12, size=8):
    g = torch.Generator().manual_seed(0)
    return torch.randint(1, 256, (n, 3, size, size), generator=g, dtype=torch.uint8)


def _windows(image, padding):
    """Every crop-and-flip result a single image can give."""
    padded = torch.nn.functional.pad(image, (padding, ) * 4)
    size = image.shape[-1]
    out = []
    for top in range(2 * padding + 1):
        for left in range(2 * padding + 1):
            crop = padded[:, top:top + size, left:left + size]
            out += [crop, crop.flip(-1)]
    return out


def test_crop_flip_gives_a_padded_window_of_each_image():
    images = _images()
    out = crop_flip(images, 2, torch.Generator().manual_seed(1))
    assert out.shape == images.shape and out.dtype == torch.uint8
    for image, result in zip(images, out):
        assert any(torch.equal(result, w) for w in _windows(image, 2))
    # randomness is used: not every sample is the unshifted, unflipped image
    assert not torch.equal(out, images)


def test_crop_flip_without_padding_only_flips():
    images = _images(64)
    out = crop_flip(images, 0, torch.Generator().manual_seed(2))
    flipped = [torch.equal(o, i.flip(-1)) for o, i in zip(out, images)]
    assert all(f or torch.equal(o, i) for f, o, i in zip(flipped, out, images))
    assert 10 < sum(flipped) < 54


def test_cutout_zeroes_one_clipped_square():
    images = torch.ones(200, 3, 32, 32)
    out = cutout(images, 16, torch.Generator().manual_seed(3))
    for sample in out:
        zero = sample[0] == 0
        assert torch.equal(zero, sample[1] == 0)  # the same patch on every channel
        rows, cols = zero.any(1).nonzero().flatten(), zero.any(0).nonzero().flatten()
        assert 1 <= len(rows) <= 16 and 1 <= len(cols) <= 16
        assert zero.sum() == len(rows) * len(cols)  # a rectangle
        assert rows.max() - rows.min() + 1 == len(rows)
    # near the border the patch is clipped: some patches are smaller than 16 x 16
    sizes = (out[:, 0] == 0).flatten(1).sum(1)
    assert sizes.max() == 256 and sizes.min() < 256


def test_normalize_uses_cifar_statistics():
    images = torch.zeros(1, 3, 2, 2, dtype=torch.uint8)
    images[0, :, 0, 0] = 255
    out = normalize(images)
    for c in range(3):
        assert torch.isclose(out[0, c, 1, 1], torch.tensor(-CIFAR10_MEAN[c] / CIFAR10_STD[c]))
        assert torch.isclose(out[0, c, 0, 0], torch.tensor((1 - CIFAR10_MEAN[c]) / CIFAR10_STD[c]))


def test_augment_is_reproducible_and_leaves_global_rng_alone():
    images = _images(8, 32)
    state = torch.get_rng_state()
    a = augment_batch(images, torch.Generator().manual_seed(4))
    b = augment_batch(images, torch.Generator().manual_seed(4))
    c = augment_batch(images, torch.Generator().manual_seed(5))
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.dtype == torch.float32 and a.shape == images.shape
