"""centerx_mm: CenterNet ("objects as points") on the OpenMMLab stack."""
from .version import __version__

__all__ = ['__version__']
