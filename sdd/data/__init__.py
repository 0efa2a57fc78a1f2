"""Data: corpus recipes and their registry (:mod:`.corpora`), downloads (:mod:`.download`), manifests
(:mod:`.prepare`, :mod:`.audio_check`, :mod:`.leakage`), the demo generator (:mod:`.demo`) and audio I/O."""
