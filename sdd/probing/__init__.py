"""Layer-wise probing: one forward pass per utterance with every hidden state pooled and stored
(:mod:`.features`, the extract stage's work in :mod:`.extract`), linear probes per layer and over the
first k layers (:mod:`.probes`), the ``probe`` section (:mod:`.params`) and the partial-model curve,
``main`` fine-tuned on the backbone cut to its first k layers (:mod:`.partial`)."""
