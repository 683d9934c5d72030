from .centerx_data_preprocessor import CenterXDataPreprocessor

__all__ = ['CenterXDataPreprocessor']
