from .centerx import CenterX

__all__ = ['CenterX']
from .distiller import CenterXDistiller  # noqa: E402

__all__ += ['CenterXDistiller']
from .multi_teacher_distiller import MultiTeacherDistiller  # noqa: E402

__all__ += ['MultiTeacherDistiller']
