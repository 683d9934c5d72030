from .checkpoint import (UnsafeCheckpointError, load_checkpoint_safely,
                         register_safe_checkpoint_loader)
from .setup_env import register_all_modules

__all__ = [
    'register_all_modules', 'load_checkpoint_safely',
    'register_safe_checkpoint_loader', 'UnsafeCheckpointError'
]
