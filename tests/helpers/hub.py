"""Tiny models of the backbone families the presets use, and a Hugging Face cache holding them.

:data:`FAMILIES` keeps, at a tiny size, what sets each published model's architecture and training-mode
behaviour apart (``facebook/wav2vec2-xls-r-300m``: wav2vec2 with pre-LN "stable layer norm" layers,
LayerNorm in the CNN, conv biases; ``microsoft/wavlm-large``: the same for WavLM with its relative
position bias), with LayerDrop 0.1 and SpecAugment time masking on, as in those configs.

:func:`cache_model` writes a ``save_pretrained`` model into ``<HF_HOME>/hub`` the way ``huggingface_hub``
lays out what it downloads (https://huggingface.co/docs/huggingface_hub/guides/manage-cache):
``models--<org>--<name>/refs/main`` holds the commit, ``blobs/<hash>`` the bytes (named by SHA-256 for
LFS files such as the weights, by the git blob SHA-1 otherwise), and ``snapshots/<commit>/<file>`` are
relative symlinks to the blobs. ``huggingface_hub.scan_cache_dir`` reads it back as a valid cache.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path
from typing import Any

#: The hub ids the presets name -> the transformers config class and the family's settings.
FAMILIES: dict[str, tuple[str, dict[str, Any]]] = {
    "facebook/wav2vec2-xls-r-300m": (
        "Wav2Vec2Config",
        dict(do_stable_layer_norm=True, feat_extract_norm="layer", conv_bias=True),
    ),
    "microsoft/wavlm-large": (
        "WavLMConfig",
        dict(
            do_stable_layer_norm=True,
            feat_extract_norm="layer",
            conv_bias=False,
            num_buckets=32,
            max_bucket_distance=100,
        ),
    ),
}

#: Tiny sizes (the standard 7-layer CNN, narrow) with the training-mode randomness of the published
#: configs: LayerDrop 0.1, SpecAugment time masks, dropout.
TINY_SIZE: dict[str, Any] = dict(
    conv_dim=(8,) * 7,
    conv_stride=(5, 2, 2, 2, 2, 2, 2),
    conv_kernel=(10, 3, 3, 3, 3, 2, 2),
    num_conv_pos_embeddings=16,
    num_conv_pos_embedding_groups=2,
    hidden_size=16,
    num_hidden_layers=6,
    num_attention_heads=2,
    intermediate_size=16,
    layerdrop=0.1,
    apply_spec_augment=True,
    mask_time_prob=0.05,
    mask_time_length=2,
    mask_feature_prob=0.0,
)

#: LFS-tracked in the hub's model repos (blobs named by SHA-256); other files are plain git blobs.
_LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".h5", ".msgpack", ".onnx")


def tiny_config(repo_id: str, **overrides: Any):
    """The tiny transformers config of ``repo_id``'s family (:data:`FAMILIES`)."""
    import transformers

    cls, family = FAMILIES[repo_id]
    return getattr(transformers, cls)(**{**TINY_SIZE, **family, **overrides})


def tiny_model(repo_id: str, seed: int = 0, **overrides: Any):
    """A random-init ``AutoModel`` of ``repo_id``'s family (seeded)."""
    import torch
    from transformers import AutoModel

    torch.manual_seed(seed)
    return AutoModel.from_config(tiny_config(repo_id, **overrides))


def blob_name(path: Path, file_name: str | None = None) -> str:
    """The name the hub gives the blob of ``path`` (a repo file called ``file_name``, default its own
    name): SHA-256 for LFS files, else git's blob SHA-1."""
    data = path.read_bytes()
    if (file_name or path.name).endswith(_LFS_SUFFIXES):
        return hashlib.sha256(data).hexdigest()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def cache_model(hf_home: Path, repo_id: str, model) -> Path:
    """Place ``model`` (``save_pretrained``) in ``<hf_home>/hub`` as the hub's cache lays out revision
    ``main`` of ``repo_id``; returns the snapshot folder."""
    repo = hf_home / "hub" / f"models--{repo_id.replace('/', '--')}"
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp)
        files = sorted(Path(tmp).iterdir())
        blobs = {f.name: blob_name(f) for f in files}
        commit = hashlib.sha1("".join(f"{k}{v}" for k, v in blobs.items()).encode()).hexdigest()
        snapshot = repo / "snapshots" / commit
        snapshot.mkdir(parents=True)
        (repo / "blobs").mkdir(exist_ok=True)
        for f in files:
            blob = repo / "blobs" / blobs[f.name]
            shutil.move(f, blob)
            (snapshot / f.name).symlink_to(Path("..") / ".." / "blobs" / blob.name)
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(commit)
    return snapshot
