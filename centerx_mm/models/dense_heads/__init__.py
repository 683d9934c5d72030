from .centerx_head import CenterXHead

__all__ = ['CenterXHead']
