# RelativeNAS search on CIFAR-100 (the authors' second search data set):
#   python tools/search.py configs/search/relnas_cifar100.py [--data-root data/cifar100]
# Reads data/cifar100/cifar-100-python/{train,test,meta} (the official python format,
# not downloaded). The 100 fine labels by default; label_type='coarse' searches on the
# 20 superclasses (then supernet.num_classes=20, or None to take it from the data).
_base_ = ['./relnas_cifar.py']

search = dict(
    data=dict(dataset='cifar100', data_root='data/cifar100', label_type='fine'),
    supernet=dict(num_classes=100))
