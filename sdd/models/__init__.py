"""Models: the ``model`` section (:mod:`.params`), backbones (transformers SSL models), heads and the
detector that joins them, AASIST with its graph back-end and the SSL-AASIST head (:mod:`.aasist`), and
the published AASIST weights (:mod:`.pretrained`)."""
