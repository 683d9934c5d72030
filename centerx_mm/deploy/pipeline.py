"""The config's test pipeline as data that an exported model carries
(``centerx.pipeline`` metadata), so that every runtime
(:mod:`centerx_mm.apis.runtime`) preprocesses exactly as mmdet does.

Supported transforms, in this order (one spec step each):

==============================  =============================================
mmdet / mmcv transform          step
==============================  =============================================
``*LoadImageFromFile``          ``to_float32`` (color images, cv2 backend)
``Resize`` (``scale``)          ``resize``: keep-ratio (``mmcv.imrescale``)
                                or plain (``mmcv.imresize``), sets
                                ``scale_factor``
``Pad`` (constant)              ``pad``: bottom/right to ``size``,
                                ``size_divisor`` or square, raw ``pad_val``
``RandomCenterCropPad``         ``center_pad``: the image centred on a canvas
(``test_mode=True``)            of ``(h | 31) + 1`` (``logical_or``) or a
                                multiple of a divisor, filled with the
                                transform's ``mean``; sets ``border``
``LoadAnnotations``,            nothing (no effect on the image)
``PackDetInputs``
==============================  =============================================

A resize must come before any padding; anything else (random or
test-time-augmentation transforms, ``Resize`` by ``scale_factor``, a
non-constant ``Pad`` ...) raises :class:`ExportError` naming the transform.
"""
from typing import List, Optional, Tuple

from .errors import ExportError

INTERPOLATIONS = ('nearest', 'bilinear', 'bicubic', 'area', 'lanczos')
#: transforms with no effect on the image
IGNORED = ('LoadAnnotations', 'PackDetInputs')


def _name(i: int, t: dict) -> str:
    return f'test pipeline transform #{i} {t.get("type")!r}'


def _fill(value, where: str) -> List[float]:
    """A pad value (number or per-channel sequence) -> 3 floats."""
    if isinstance(value, (int, float)):
        return [float(value)] * 3
    values = [float(v) for v in value]
    if len(values) != 3:
        raise ExportError(f'{where}: pad value {value!r} must be a number or '
                          '3 values')
    return values


def parse_test_pipeline(pipeline: List[dict]) -> dict:
    """mmdet test pipeline config -> ``dict(to_float32, steps)``.

    Args:
        pipeline (list[dict]): ``test_dataloader.dataset.pipeline``.

    Returns:
        dict: ``to_float32`` (bool) and ``steps``, a list of dicts with
        ``type`` ``'resize'`` (``scale`` [w, h], ``keep_ratio``,
        ``interpolation``), ``'pad'`` (``size`` [w, h] or None,
        ``size_divisor`` or None, ``pad_to_square``, ``value`` 3 floats in
        the image's channel order) or ``'center_pad'`` (``mode``
        'logical_or' | 'size_divisor', ``value``, ``add_pix``, ``fill`` 3
        floats).

    Raises:
        ExportError: naming the first transform that has no runtime form.
    """
    to_float32, steps = False, []
    for i, t in enumerate(pipeline):
        kind = str(t.get('type', ''))
        where = _name(i, t)
        if kind.endswith('LoadImageFromFile'):
            if t.get('color_type', 'color') != 'color' or \
                    t.get('imdecode_backend', 'cv2') != 'cv2':
                raise ExportError(
                    f'{where}: the runtimes decode colour images with cv2; '
                    f'color_type={t.get("color_type")!r} / imdecode_backend='
                    f'{t.get("imdecode_backend")!r} cannot be exported')
            to_float32 = bool(t.get('to_float32', False))
        elif kind in IGNORED:
            continue
        elif kind == 'Resize':
            steps.append(_resize_step(t, where, steps))
        elif kind == 'Pad':
            steps.append(_pad_step(t, where))
        elif kind == 'RandomCenterCropPad':
            steps.append(_center_pad_step(t, where))
        else:
            raise ExportError(
                f'{where} has no runtime equivalent (supported: '
                'LoadImageFromFile, Resize, Pad, RandomCenterCropPad in test '
                'mode, LoadAnnotations, PackDetInputs); remove it from the '
                'test pipeline to export this config')
    return dict(to_float32=to_float32, steps=steps)


def _resize_step(t: dict, where: str, steps: List[dict]) -> dict:
    if steps:
        raise ExportError(f'{where} comes after {steps[-1]["type"]}: a '
                          'Resize after padding cannot be exported')
    if t.get('scale') is None:
        raise ExportError(f'{where}: only a Resize to a fixed scale=(w, h) '
                          'can be exported (not scale_factor)')
    scale = t['scale']
    scale = [int(scale)] * 2 if isinstance(scale, (int, float)) else \
        [int(v) for v in scale]
    interpolation = t.get('interpolation', 'bilinear')
    if interpolation not in INTERPOLATIONS or \
            t.get('backend', 'cv2') != 'cv2':
        raise ExportError(f'{where}: interpolation={interpolation!r} / '
                          f'backend={t.get("backend")!r} cannot be exported '
                          '(cv2 backend only)')
    return dict(type='resize', scale=scale,
                keep_ratio=bool(t.get('keep_ratio', False)),
                interpolation=interpolation)


def _pad_step(t: dict, where: str) -> dict:
    if t.get('padding_mode', 'constant') != 'constant':
        raise ExportError(f'{where}: padding_mode='
                          f'{t.get("padding_mode")!r} cannot be exported '
                          "(only 'constant')")
    pad_val = t.get('pad_val', dict(img=0))
    value = pad_val.get('img', 0) if isinstance(pad_val, dict) else pad_val
    size = t.get('size')
    return dict(type='pad',
                size=None if size is None else [int(v) for v in size],
                size_divisor=t.get('size_divisor'),
                pad_to_square=bool(t.get('pad_to_square', False)),
                value=_fill(value, where))


def _center_pad_step(t: dict, where: str) -> dict:
    if not t.get('test_mode', False):
        raise ExportError(f'{where}: a random crop (test_mode=False) at test '
                          'time cannot be exported')
    mode = list(t.get('test_pad_mode') or ('logical_or', 127))
    if mode[0] not in ('logical_or', 'size_divisor'):
        raise ExportError(f'{where}: test_pad_mode={mode!r} cannot be '
                          'exported')
    mean = [float(v) for v in t['mean']]
    fill = mean[::-1] if t.get('to_rgb') else mean  # as mmdet: image order
    return dict(type='center_pad', mode=mode[0], value=int(mode[1]),
                add_pix=int(t.get('test_pad_add_pix', 0)),
                fill=_fill(fill, where))


def fixed_input_hw(pipeline: dict) -> Optional[Tuple[int, int]]:
    """(H, W) that every image fits after ``pipeline`` (before the data
    preprocessor's ``pad_size_divisor``), or None when the size depends on
    the image (no Resize, or ``RandomCenterCropPad`` padding)."""
    size = None
    for step in pipeline['steps']:
        if step['type'] == 'resize':
            w, h = step['scale']
            # keep-ratio and w != h: landscape images fit (h, w)
            size = (h, w)
        elif step['type'] == 'pad':
            if step['size'] is not None:
                size = (step['size'][1], step['size'][0])
            elif step['pad_to_square'] and size is not None:
                size = (max(size), ) * 2
            if size is not None and step['size_divisor']:
                div = step['size_divisor']
                size = tuple(-(-s // div) * div for s in size)
        else:  # center_pad: the canvas depends on the image
            return None
    return size
