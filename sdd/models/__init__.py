"""Models: the ``model`` section (:mod:`.params`), backbones and fine-tuning modes (:mod:`.backbone`),
LoRA through peft (:mod:`.lora`), layer merges (:mod:`.merges`), heads (:mod:`.heads`), the detector
that joins them (:mod:`.detector`), AASIST with its graph back-end and the SSL-AASIST back-end
(:mod:`.aasist`), and the published AASIST weights (:mod:`.pretrained`)."""
