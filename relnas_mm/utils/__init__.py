"""Small plain-Python helpers shared by every layer (no torch, no mmengine)."""
from .fileio import atomic_write

__all__ = ['atomic_write']
