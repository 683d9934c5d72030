from .ct_resnet_shortcut_neck import CTResNetShortcutNeck

__all__ = ['CTResNetShortcutNeck']
