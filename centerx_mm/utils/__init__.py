from centerx_mm.checkpoint import (UnsafeCheckpointError,
                                   install_safe_checkpoint_loader,
                                   load_checkpoint_safely)
from .setup_env import register_all_modules

__all__ = [
    'register_all_modules', 'load_checkpoint_safely',
    'install_safe_checkpoint_loader', 'UnsafeCheckpointError'
]
