import datetime
import warnings

from mmengine import DefaultScope


def register_all_modules(init_default_scope: bool = True) -> None:
    """Register mmdet's and centerx_mm's modules and set the default scope.

    Also installs the weights-only checkpoint loader for every mmengine
    checkpoint load, whatever the scheme
    (:func:`centerx_mm.checkpoint.install_safe_checkpoint_loader`): this,
    not an import, is what changes mmengine's behaviour.

    Args:
        init_default_scope (bool): Set the default scope to ``centerx_mm`` so
            that configs find our modules first, then mmdet's, then
            mmengine's. Defaults to True.
    """
    import mmdet.datasets  # noqa: F401,F403
    import mmdet.engine  # noqa: F401,F403
    import mmdet.evaluation  # noqa: F401,F403
    import mmdet.models  # noqa: F401,F403
    import mmdet.visualization  # noqa: F401,F403

    import centerx_mm.datasets  # noqa: F401,F403
    import centerx_mm.engine  # noqa: F401,F403
    import centerx_mm.models  # noqa: F401,F403
    from centerx_mm.checkpoint import install_safe_checkpoint_loader
    install_safe_checkpoint_loader()

    if init_default_scope:
        never_created = DefaultScope.get_current_instance() is None \
            or not DefaultScope.check_instance_created('centerx_mm')
        if never_created:
            DefaultScope.get_instance('centerx_mm', scope_name='centerx_mm')
            return
        current_scope = DefaultScope.get_current_instance()
        if current_scope.scope_name != 'centerx_mm':
            warnings.warn('The current default scope '
                          f'"{current_scope.scope_name}" is not "centerx_mm", '
                          '`register_all_modules` will force the current '
                          'default scope to be "centerx_mm".')
            new_instance_name = f'centerx_mm-{datetime.datetime.now()}'
            DefaultScope.get_instance(
                new_instance_name, scope_name='centerx_mm')
