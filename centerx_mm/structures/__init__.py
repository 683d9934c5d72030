"""Data structures and helpers shared by the PyTorch head and the exported
runtimes (no torch import here)."""
from .boxes import restore_boxes

__all__ = ['restore_boxes']
