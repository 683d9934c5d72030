from .hooks import *  # noqa: F401,F403
from .hooks import __all__ as _hooks
from .optimizers import *  # noqa: F401,F403
from .optimizers import __all__ as _optimizers
from .resume import (ResumeError, check_resumable, find_resume_checkpoint,
                     resolve_resume)

__all__ = _hooks + _optimizers + [
    'ResumeError', 'check_resumable', 'find_resume_checkpoint',
    'resolve_resume'
]
