from .centerx import CenterX

__all__ = ['CenterX']
