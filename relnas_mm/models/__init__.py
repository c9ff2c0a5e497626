"""Networks built from genotypes. This package's __init__ imports no mmengine:
the mmengine-registered modules (backbone, classifiers) are imported by
``relnas_mm/__init__.py`` when mmengine is present."""
