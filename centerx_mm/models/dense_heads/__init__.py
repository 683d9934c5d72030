from .centerx_head import CenterXHead
from .centerx_ttf_head import CenterXTTFHead

__all__ = ['CenterXHead', 'CenterXTTFHead']
