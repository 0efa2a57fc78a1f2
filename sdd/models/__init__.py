"""Models: the ``model`` section (:mod:`.params`), backbones (transformers SSL models), heads and the
detector that joins them."""
