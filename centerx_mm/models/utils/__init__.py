from .decode import centerx_decode, centerx_peaks, decode_head_outputs
from .targets import (centernet_targets, elliptical_gaussians,
                      gaussian_radius, ttf_targets)

__all__ = [
    'centerx_decode', 'centerx_peaks', 'centernet_targets', 'gaussian_radius',
    'elliptical_gaussians', 'ttf_targets', 'decode_head_outputs'
]
from .teacher import (FrozenTeachersMixin, Teacher,  # noqa: E402
                      TeacherConfigError, check_same_output_size,
                      check_same_preprocessing, load_teacher,
                      map_classes_by_name)
from .trained_model import (build_trained_detector,  # noqa: E402
                            config_classes, load_trained_weights,
                            plain_model_cfg)

__all__ += [
    'FrozenTeachersMixin', 'Teacher', 'TeacherConfigError', 'load_teacher',
    'map_classes_by_name', 'plain_model_cfg', 'check_same_preprocessing',
    'check_same_output_size', 'build_trained_detector', 'config_classes',
    'load_trained_weights'
]
