"""Models: the ``model`` section (:mod:`.params`), backbones and fine-tuning modes (:mod:`.backbone`),
LoRA through peft (:mod:`.lora`), layer merges (:mod:`.merges`), heads (:mod:`.heads`) and the
detector that joins them (:mod:`.detector`)."""
