"""Self-supervised pretraining of the demo backbone (the ``pretrain`` stage): :mod:`sdd.pretrain.params`
holds the ``pretrain`` section, :mod:`sdd.pretrain.wav2vec2` the objective and the loop."""
