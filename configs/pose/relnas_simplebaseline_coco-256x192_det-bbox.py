# The same model evaluated on detected person boxes (mmpose's model-zoo protocol)
# instead of the ground-truth ones RelativeNAS's authors evaluate on: the boxes of a
# detector with 56.4 person AP, which give a lower AP. Needs
#   data/coco/person_detection_results/COCO_val2017_detections_AP_H_56_person.json
# (linked from mmpose's COCO documentation). Any pose config switches the same way:
#   --cfg-options val_dataloader.dataset.bbox_file=FILE test_dataloader.dataset.bbox_file=FILE
_base_ = './relnas_simplebaseline_coco-256x192.py'

data_root = 'data/coco/'
val_dataloader = dict(
    dataset=dict(bbox_file=data_root +
                 'person_detection_results/COCO_val2017_detections_AP_H_56_person.json'))
test_dataloader = val_dataloader
