# The same model evaluated on the ground-truth person boxes of val2017 instead of
# detected ones: the default evaluation of SimpleBaseline's own code
# (TEST.USE_GT_BBOX: true in its COCO experiment files), which gives a higher AP
# than detected boxes. docs/en/downstream.md says which protocol the paper's numbers
# most likely use. Any pose config switches the same way:
#   --cfg-options val_dataloader.dataset.bbox_file=None test_dataloader.dataset.bbox_file=None
_base_ = './relnas_simplebaseline_coco-256x192.py'

# bbox_file=None: mmpose's CocoDataset takes each annotated person's box
val_dataloader = dict(dataset=dict(bbox_file=None))
test_dataloader = val_dataloader
