from .decode import centerx_decode, centerx_peaks
from .targets import centernet_targets, gaussian_radius

__all__ = [
    'centerx_decode', 'centerx_peaks', 'centernet_targets', 'gaussian_radius'
]
