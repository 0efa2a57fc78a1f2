"""Audio below every other package: decoding, resampling and writing files (:mod:`sdd.audio.io`)."""
