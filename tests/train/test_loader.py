"""The training loader: the same batches with 0 or 2 workers, exact shards, restart at any batch."""

import pytest
import torch

from sdd.train.data import PairDataset, load_pairs
from sdd.train.loader import BatchDataset, epoch_batches, make_loader, run_keys, shard
from tests.helpers.train import make_corpus


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    train, _, aug, aug_dir = make_corpus(tmp_path_factory.mktemp("loader"), n_train=10, n_dev=0)
    return PairDataset(train, 2000, "random", 16000, load_pairs(train, aug), aug_dir, seed=5)


def load_all(dataset, workers, **keys):
    keys_fn = lambda: run_keys(len(dataset), 4, 5, 3, None, **keys)  # noqa: E731
    loader = make_loader(BatchDataset(dataset), keys_fn, workers)
    return [(b["key"], b["x_clean"], b["x_aug"], b["y"]) for b in loader]


def test_same_batches_with_0_and_2_workers(dataset):
    serial, parallel = load_all(dataset, 0), load_all(dataset, 2)
    assert len(serial) == 9  # 3 epochs x ceil(10 / 4)
    for (k1, c1, a1, y1), (k2, c2, a2, y2) in zip(serial, parallel, strict=True):
        assert k1 == k2 and torch.equal(c1, c2) and torch.equal(a1, a2) and torch.equal(y1, y2)
    assert serial[0][1].shape == (4, 2000) and serial[2][1].shape == (2, 2000)
    assert [k.last for k, *_ in serial] == [False, False, True] * 3
    assert not torch.equal(serial[0][1], serial[3][1]), "each epoch reshuffles and re-crops"


def test_a_restart_yields_the_remaining_batches(dataset):
    full = load_all(dataset, 0)
    resumed = load_all(dataset, 0, start_epoch=1, start_batch=1)
    assert [k for k, *_ in resumed] == [k for k, *_ in full[4:]]
    assert all(torch.equal(a[1], b[1]) for a, b in zip(resumed, full[4:], strict=True))


def test_shards_partition_every_global_batch():
    for batch in epoch_batches(11, 5, 0, 2):
        for world in (1, 2, 3, 7):
            parts = [shard(batch, r, world) for r in range(world)]
            assert [i for part in parts for i in part] == list(batch)
            assert max(map(len, parts)) - min(map(len, parts)) <= 1
    assert sorted(i for b in epoch_batches(11, 5, 0, 2) for i in b) == list(range(11))
    assert epoch_batches(11, 5, 0, 2, max_steps=2) == epoch_batches(11, 5, 0, 2)[:2]
