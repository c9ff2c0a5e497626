"""mmengine metrics of relnas_mm (registered in ``relnas_mm.registry.METRICS``)."""
from .accuracy import Accuracy, topk_accuracy

__all__ = ['Accuracy', 'topk_accuracy']
