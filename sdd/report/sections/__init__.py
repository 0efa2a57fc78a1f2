"""The comparative report's standard sections, each a function from the report's inputs and metrics
to blocks (:mod:`sdd.report.render`) that also draws its figures; :func:`sdd.report.build.write_report`
puts them in page order: the comparison with the reference (:mod:`.comparison`), the EER per eval set
(:mod:`.eer`), the shortcut audit (:mod:`.audit`), DET curves (:mod:`.eer`), per-attack and
per-condition EERs (:mod:`.breakdown`), the other metrics (:mod:`.eer`), models and training
(:mod:`.training`), then the extra sections and the run metadata (:mod:`.run_metadata`). What several
share (cell formats, the systems, the figure block) is in :mod:`.common`.
"""
