# Ground-truth person boxes of val2017, explicitly: the default of
# relnas_simplebaseline_coco-256x192.py since it follows RelativeNAS's authors
# (TEST.USE_GT_BBOX: true), so this config equals it; it keeps the name earlier
# releases documented for that protocol. Detected boxes: _det-bbox.py.
_base_ = './relnas_simplebaseline_coco-256x192.py'

# bbox_file=None: mmpose's CocoDataset takes each annotated person's box
val_dataloader = dict(dataset=dict(bbox_file=None))
test_dataloader = val_dataloader
