from .loading import ImageLoadError, SafeLoadImageFromFile

__all__ = ['SafeLoadImageFromFile', 'ImageLoadError']
