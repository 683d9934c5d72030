from .amp_optim_wrapper import CenterXAmpOptimWrapper, cpu_has_native_bf16

__all__ = ['CenterXAmpOptimWrapper', 'cpu_has_native_bf16']
