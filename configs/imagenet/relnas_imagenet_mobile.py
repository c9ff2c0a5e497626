# RelativeNAS on ImageNet, mobile setting (< 600M multiply-adds): C=46, 14 cells,
# 224x224, 250 epochs, total batch 1024 (8 GPUs x 128), lr 0.5 with 5 warm-up epochs
# then linear decay, weight decay 3e-5, label smoothing 0.1, auxiliary head 0.4.
# Paper: 24.88% top-1 / 7.7% top-5 error, 5.05M parameters, ~600M multiply-adds.
_base_ = [
    '../_base_/models/relnas_imagenet.py', '../_base_/datasets/imagenet.py',
    '../_base_/schedules/imagenet_250e.py', '../_base_/default_runtime_cls.py'
]

# The cell: a shipped name ('RelativeNAS', 'DARTS_V2', 'PC_DARTS'), DARTS
# "Genotype(...)" text, or the best_genotype.json a search wrote. From the command
# line: --cfg-options genotype=PATH/best_genotype.json (a child config sets it too)
genotype = 'RelativeNAS'

model = dict(backbone=dict(genotype=genotype))

# network input (height, width) at test time, read by tools/analysis/get_flops.py
input_hw = (224, 224)
