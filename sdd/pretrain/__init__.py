"""Self-supervised pretraining of the demo backbone (the ``pretrain`` stage): :mod:`sdd.pretrain.params`
holds the ``pretrain`` section, :mod:`sdd.pretrain.wav2vec2` and :mod:`sdd.pretrain.hubert` the two
objectives and their loops, :mod:`sdd.pretrain.run` what the stage does."""
