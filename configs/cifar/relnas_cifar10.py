# RelativeNAS: retraining a cell on CIFAR-10 (the paper's setting: 600 epochs,
# C=36, 20 cells, auxiliary head 0.4, cutout 16, drop path 0.3, batch 128).
# Paper: 2.26% test error, 3.93M parameters.
_base_ = [
    '../_base_/models/relnas_cifar.py', '../_base_/datasets/cifar10.py',
    '../_base_/schedules/cifar_600e.py', '../_base_/default_runtime_cls.py'
]

# The cell: a shipped name ('RelativeNAS', 'DARTS_V2', 'PC_DARTS'), DARTS
# "Genotype(...)" text, or the best_genotype.json a search wrote
# (work_dirs/<search>/best_genotype.json). From the command line:
#   --cfg-options genotype=work_dirs/relnas_cifar/best_genotype.json
genotype = 'RelativeNAS'

model = dict(backbone=dict(genotype=genotype))

# network input (height, width) at test time, read by tools/analysis/get_flops.py
input_hw = (32, 32)
