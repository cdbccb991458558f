# Fashion-MNIST for the Python side of the examples: the IDX files of Debian's dataset-fashion-mnist
# (/usr/share/datasets/fashion-mnist), scaled to [0, 1] and normalised with the training set's mean and
# standard deviation, as a TensorDataset of [N, 1, 28, 28] float32 images and int64 labels.
import gzip
import os

import torch
from torch.utils.data import TensorDataset

ROOT = os.environ.get('FASHION_MNIST_ROOT', '/usr/share/datasets/fashion-mnist')
MEAN, STD = 0.2860, 0.3530


def _read(name):
    path = os.path.join(ROOT, name)
    opener = gzip.open if os.path.exists(path + '.gz') else open
    with opener(path + '.gz' if os.path.exists(path + '.gz') else path, 'rb') as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], 'big') for i in range(ndim)]
    return torch.frombuffer(bytearray(raw[4 + 4 * ndim:]), dtype=torch.uint8).reshape(dims)


def fashion_mnist(train=True):
    prefix = 'train' if train else 't10k'
    images = _read(f'{prefix}-images-idx3-ubyte').float().div(255).sub(MEAN).div(STD).unsqueeze(1)
    labels = _read(f'{prefix}-labels-idx1-ubyte').long()
    return TensorDataset(images, labels)
