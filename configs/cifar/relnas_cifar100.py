# Retraining a cell on CIFAR-100 with the CIFAR-10 settings (configs/cifar/relnas_cifar10.py):
# C=36, 20 cells, auxiliary head 0.4, cutout 16, drop path 0.3, batch 128, 600 epochs.
#   python tools/train.py configs/cifar/relnas_cifar100.py --data-root data/cifar100 \
#       --cfg-options model.backbone.genotype=work_dirs/relnas_cifar100/best_genotype.json
# data_root holds cifar-100-python/{train,test,meta} (or is that folder itself).
# label_type='coarse' (in both datasets) trains on the 20 superclasses (num_classes=20).
_base_ = ['./relnas_cifar10.py']

dataset_type = 'relnas_mm.CIFAR100Dataset'
data_root = 'data/cifar100/'
model = dict(num_classes=100)
train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root, label_type='fine'))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root, label_type='fine'))
test_dataloader = val_dataloader
