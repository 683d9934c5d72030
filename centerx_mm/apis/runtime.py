"""Run an exported CenterX detector without PyTorch or mmdeploy: ONNX Runtime
and OpenVINO (``dets`` or ``sparse`` graphs from ``tools/export_onnx.py``,
fp32 or INT8 from ``tools/quantize.py``) and OpenCV's Caffe importer
(``tools/export_caffe.py``).

Each runtime does what the config's test pipeline does, from the pipeline
the model carries (``centerx.pipeline``, :mod:`centerx_mm.deploy.pipeline`):
resize (keep-ratio or not, ``mmcv``), pad (``Pad`` bottom/right,
``RandomCenterCropPad`` around), pad the batch bottom/right as mmdet's data
preprocessor does (0 after normalisation), run, and map boxes back to the
original image with :func:`centerx_mm.structures.restore_boxes`, the
function ``CenterXHead.predict_by_feat`` uses.

A static-shape graph replaces the pipeline's target size (``Resize`` scale,
``Pad`` size, ``RandomCenterCropPad`` canvas) by its input size; only a graph
with dynamic height/width gives the PyTorch boxes exactly for every image.
"""
import json
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from centerx_mm.structures import restore_boxes

ImageLike = Union[str, np.ndarray]
#: runtimes of :func:`build_detector` for ONNX models
BACKENDS = ('onnxruntime', 'openvino')
#: OpenVINO version pinned in requirements/deploy.txt
OPENVINO_PIN = 'openvino==2026.4.1'


class RuntimeInputError(ValueError):
    """An image, tensor or model file that the runtime cannot take."""


class BackendUnavailableError(ImportError):
    """The runtime package of a backend is not installed."""


def load_image(img: ImageLike) -> np.ndarray:
    """A path or an (H, W, 3) uint8 BGR array -> (H, W, 3) uint8 BGR."""
    import cv2
    if isinstance(img, str):
        if not osp.isfile(img):
            raise FileNotFoundError(f'image not found: {img}')
        arr = cv2.imread(img, cv2.IMREAD_COLOR)
        if arr is None:
            raise RuntimeInputError(f'cannot decode image {img} (not an '
                                    'image file, or a format OpenCV lacks)')
        return arr
    arr = np.asarray(img)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise RuntimeInputError(
            f'image array of shape {arr.shape}: expected (H, W, 3) BGR')
    return arr


def keep_ratio_resize(img: np.ndarray,
                      scale_wh: Tuple[int, int],
                      fit_inside: bool = False,
                      interpolation: str = 'bilinear'
                      ) -> Tuple[np.ndarray, dict]:
    """Keep-ratio resize (``mmcv.imresize``), same dtype; meta with
    ``ori_shape`` (h, w), ``img_shape`` (h, w) of the resized image and
    ``scale_factor`` (sx, sy).

    ``fit_inside=False``: mmdet ``Resize(scale=(w, h), keep_ratio=True)``
    (``mmcv.imrescale``: long side to max(w, h), short side to min(w, h),
    whatever the orientation), as the PyTorch test pipeline.
    ``fit_inside=True``: the largest size that fits inside ``(w, h)`` as
    given: the letterbox of a static input, also a non-square one whatever
    the image's orientation.

    Raises:
        RuntimeInputError: a side of the resized image would be 0 px (an
            extreme aspect ratio such as 4000x1).
    """
    import mmcv
    h, w = img.shape[:2]
    if fit_inside:
        scale = min(scale_wh[0] / w, scale_wh[1] / h)
        new_w = min(int(w * scale + 0.5), int(scale_wh[0]))
        new_h = min(int(h * scale + 0.5), int(scale_wh[1]))
    else:
        new_w, new_h = mmcv.rescale_size((w, h), tuple(scale_wh))
    if min(new_w, new_h) < 1:
        raise RuntimeInputError(
            f'image of {w}x{h} px (width x height) would be resized to '
            f'{new_w}x{new_h} px for the {scale_wh[0]}x{scale_wh[1]} model '
            'input: its aspect ratio is too extreme')
    resized = mmcv.imresize(img, (new_w, new_h), interpolation=interpolation)
    return resized, dict(
        ori_shape=img.shape[:2],
        img_shape=(new_h, new_w),
        scale_factor=(new_w / w, new_h / h))


def pipeline_of(settings: dict) -> dict:
    """The test pipeline of ``settings`` (``centerx.pipeline``, see
    :func:`centerx_mm.deploy.pipeline.parse_test_pipeline`); settings without
    one (older exports) mean a keep-ratio bilinear resize to
    ``test_scale``."""
    if settings.get('pipeline'):
        return settings['pipeline']
    return dict(to_float32=False, steps=[
        dict(type='resize', scale=list(settings['test_scale']),
             keep_ratio=True, interpolation='bilinear')
    ])


def apply_pipeline(img: np.ndarray,
                   pipeline: dict,
                   static_hw: Optional[Tuple[int, int]] = None
                   ) -> Tuple[np.ndarray, dict]:
    """The test pipeline on one (H, W, 3) BGR image, as mmdet runs it.

    Args:
        img (ndarray): uint8 BGR image.
        pipeline (dict): ``to_float32`` and ``steps`` (:func:`pipeline_of`).
        static_hw (tuple, optional): (H, W) of a static-shape graph: the
            target size of every resize/pad step.

    Returns:
        tuple: the image (uint8, or float32 with ``to_float32`` or after a
        ``center_pad``) and its meta: ``ori_shape``, ``img_shape``, and
        ``scale_factor`` (sx, sy) after a resize, ``border`` (top, bottom,
        left, right of the image in the canvas) after a ``center_pad``.

    Raises:
        RuntimeInputError: the image does not fit a static canvas.
    """
    import mmcv
    meta = dict(ori_shape=img.shape[:2])
    if pipeline.get('to_float32'):
        img = img.astype(np.float32)
    for step in pipeline['steps']:
        h, w = img.shape[:2]
        kind = step['type']
        if kind == 'resize':
            scale = (static_hw[1], static_hw[0]) if static_hw else tuple(
                step['scale'])
            if step['keep_ratio']:
                # a static input letterboxes (fits inside, any orientation)
                img = keep_ratio_resize(img, scale, bool(static_hw),
                                        step['interpolation'])[0]
            else:
                img = mmcv.imresize(img, scale,
                                    interpolation=step['interpolation'])
            meta['scale_factor'] = (img.shape[1] / w, img.shape[0] / h)
            continue
        if static_hw:
            size = tuple(static_hw)
        elif kind == 'center_pad' and step['mode'] == 'logical_or':
            size = ((h | step['value']) + step['add_pix'],
                    (w | step['value']) + step['add_pix'])
        elif kind == 'center_pad':
            size = tuple(-(-s // step['value']) * step['value']
                         for s in (h, w))
        else:  # mmcv Pad
            size = (max(h, w), ) * 2 if step['pad_to_square'] else (h, w)
            if step['size_divisor']:
                div = step['size_divisor']
                size = tuple(-(-s // div) * div for s in size)
            elif step['size'] is not None:
                size = (step['size'][1], step['size'][0])
        if size[0] < h or size[1] < w:
            raise RuntimeInputError(
                f'image of {h}x{w} after the test pipeline does not fit the '
                f'model input {size[0]}x{size[1]}: export with dynamic '
                'height/width (--dynamic) or a larger --shape')
        top = size[0] // 2 - h // 2 if kind == 'center_pad' else 0
        left = size[1] // 2 - w // 2 if kind == 'center_pad' else 0
        fill = step['fill'] if kind == 'center_pad' else step['value']
        dtype = np.float32 if kind == 'center_pad' else img.dtype
        canvas = np.empty((*size, 3), dtype)
        canvas[...] = np.asarray(fill, np.float32).astype(dtype)
        canvas[top:top + h, left:left + w] = img
        img = canvas
        if kind == 'center_pad':
            meta['border'] = (top, top + h, left, left + w)
    meta['img_shape'] = img.shape[:2]
    return img, meta


def rescale_dets(dets: np.ndarray, labels: np.ndarray, meta: dict,
                 score_thr: float = 0.0) -> Dict[str, np.ndarray]:
    """(K, 5) dets in network-input pixels -> boxes in the original image.

    Returns:
        dict: ``bboxes`` (N, 4) x1y1x2y2 mapped by :func:`restore_boxes`
        (``border``/``pad_param`` removed, divided by ``scale_factor``,
        clipped to ``ori_shape``), ``scores`` (N,), ``labels`` (N,), for the
        N dets with score > ``score_thr``.
    """
    keep = dets[:, 4] > score_thr
    boxes = restore_boxes(dets[keep, :4].astype(np.float32), meta)
    return dict(
        bboxes=boxes,
        scores=dets[keep, 4].copy(),
        labels=labels[keep].astype(np.int64))


def sparse_to_dets(heatmap: np.ndarray,
                   reg: np.ndarray,
                   offset: Optional[np.ndarray],
                   input_hw: Tuple[int, int],
                   score_thr: float,
                   max_dets: int = 100) -> Tuple[np.ndarray, np.ndarray]:
    """Sparse-mode post-processing (design notes: scan the cells above a
    threshold on a heatmap that is zero except at peaks).

    Args:
        heatmap (ndarray): (C, H, W) peak probabilities, 0 off-peak.
        reg (ndarray): (2, H, W) ``wh``, or (4, H, W) ``ltrb`` (TTF head,
            ``offset`` None), in feature cells.
        offset (ndarray, optional): (2, H, W) in feature cells.
        input_hw (tuple): network input (H_in, W_in); stride = H_in / H.
        score_thr (float): keep cells with score > score_thr.
        max_dets (int): keep at most this many, highest scores first.

    Returns:
        tuple: dets (N, 5) x1y1x2y2+score in network-input pixels and
        labels (N,), sorted by score -- for the cells above the threshold
        the same boxes as :func:`centerx_decode`.
    """
    cls, ys, xs = np.nonzero(heatmap > score_thr)
    scores = heatmap[cls, ys, xs]
    order = np.argsort(-scores, kind='stable')[:max_dets]
    cls, ys, xs, scores = cls[order], ys[order], xs[order], scores[order]
    sy = input_hw[0] / heatmap.shape[1]
    sx = input_hw[1] / heatmap.shape[2]
    size = np.maximum(reg[:, ys, xs], 0)
    if offset is None:  # ltrb from the cell centre
        x1, y1 = xs + 0.5 - size[0], ys + 0.5 - size[1]
        x2, y2 = xs + 0.5 + size[2], ys + 0.5 + size[3]
    else:
        cx = xs + offset[0, ys, xs]
        cy = ys + offset[1, ys, xs]
        x1, y1 = cx - size[0] / 2, cy - size[1] / 2
        x2, y2 = cx + size[0] / 2, cy + size[1] / 2
    dets = np.stack([x1 * sx, y1 * sy, x2 * sx, y2 * sy, scores],
                    axis=1).astype(np.float32)
    return dets, cls.astype(np.int64)


def peaks_numpy(heatmap: np.ndarray, heatmap_max: np.ndarray) -> np.ndarray:
    """Peak mask from a heatmap and its 3x3 max-pool (Caffe outputs both):
    ``heatmap * (heatmap >= heatmap_max)``, as :func:`centerx_peaks`."""
    return heatmap * (heatmap >= heatmap_max)


class _LetterboxDetector:
    """Shared preprocessing/postprocessing; subclasses implement ``infer``.

    ``settings`` keys: ``input_format`` ('normalized' | 'uint8' | 'float'),
    ``mean``/``std`` (RGB, 0..255), ``bgr_to_rgb``, ``test_scale`` (w, h),
    ``pad_size_divisor``, ``classes``, ``mode`` ('dets' | 'sparse' | 'raw'),
    ``topk``.
    """

    #: (B, H, W) of the model input; None entries are dynamic.
    input_bhw: Tuple = (None, None, None)

    def __init__(self, settings: dict) -> None:
        self.settings = settings
        self.classes = list(settings.get('classes', []))

    # -- preprocessing ---------------------------------------------------
    def _pad_value(self) -> np.ndarray:  # (3,) float32, BGR
        """Fill value in the raw BGR image so that the batch padding is the
        data preprocessor's ``pad_value`` (0) after normalisation (rounded
        for uint8 input)."""
        mean = np.asarray(self.settings['mean'], np.float32)
        std = np.asarray(self.settings['std'], np.float32)
        fill = mean + np.float32(self.settings.get('pad_value', 0.)) * std
        if self.settings['bgr_to_rgb']:
            fill = fill[::-1]
        if self.settings['input_format'] == 'uint8':
            fill = np.round(fill)
        return fill.astype(np.float32)

    def preprocess(self, imgs: Sequence[np.ndarray]
                   ) -> Tuple[np.ndarray, List[dict]]:
        """BGR images -> (B, 3, H, W) input of the model and metas: the test
        pipeline (:func:`apply_pipeline`), then the batch padded bottom/right
        to the static input size or to ``pad_size_divisor``."""
        _, in_h, in_w = self.input_bhw
        fmt = self.settings['input_format']
        static = (in_h, in_w) if in_h is not None and in_w is not None \
            else None
        pipeline = pipeline_of(self.settings)
        images, metas = zip(*(apply_pipeline(img, pipeline, static)
                              for img in imgs))
        if static:
            batch_hw = static
        else:
            div = max(int(self.settings['pad_size_divisor']), 1)
            batch_hw = tuple(-(-max(r.shape[i] for r in images) // div) * div
                             for i in (0, 1))
        # uint8 input stays uint8 (no float copies); float pipelines (e.g.
        # RandomCenterCropPad) give integral values: round them for uint8.
        dtype = np.uint8 if fmt == 'uint8' else np.float32
        batch = np.empty((len(images), 3, *batch_hw), dtype)
        batch[...] = self._pad_value().astype(dtype)[:, None, None]
        for i, img in enumerate(images):
            h, w = img.shape[:2]
            if h > batch_hw[0] or w > batch_hw[1]:
                raise RuntimeInputError(
                    f'image resized to {h}x{w} does not fit the model input '
                    f'{batch_hw[0]}x{batch_hw[1]}')
            if dtype == np.uint8 and img.dtype != np.uint8:
                img = np.clip(np.round(img), 0, 255)
            batch[i, :, :h, :w] = img.transpose(2, 0, 1)
        if fmt in ('uint8', 'float'):
            return batch, list(metas)
        if self.settings['bgr_to_rgb']:
            batch = batch[:, ::-1]
        mean = np.asarray(self.settings['mean'], np.float32)[:, None, None]
        std = np.asarray(self.settings['std'], np.float32)[:, None, None]
        return np.ascontiguousarray((batch - mean) / std), list(metas)

    # -- running -----------------------------------------------------------
    def infer(self, batch: np.ndarray) -> List[np.ndarray]:
        raise NotImplementedError

    def postprocess(self, outputs: List[np.ndarray], input_hw: Tuple[int,
                                                                     int],
                    metas: List[dict],
                    score_thr: float) -> List[Dict[str, np.ndarray]]:
        mode = self.settings['mode']
        results = []
        for i, meta in enumerate(metas):
            if mode == 'dets':
                dets, labels = outputs[0][i], outputs[1][i]
            else:
                heat = outputs[0][i]
                regs = outputs[1:]
                if mode == 'raw':  # Caffe: (heatmap, heatmap_max, *regs)
                    heat = peaks_numpy(heat, outputs[1][i])
                    regs = outputs[2:]
                # (wh, offset), or (ltrb, ) of a TTF head
                dets, labels = sparse_to_dets(
                    heat, regs[0][i], regs[1][i] if len(regs) > 1 else None,
                    input_hw, score_thr, int(self.settings.get('topk', 100)))
            results.append(rescale_dets(dets, labels, meta, score_thr))
        return results

    def __call__(self,
                 imgs: Union[ImageLike, Sequence[ImageLike]],
                 score_thr: float = 0.0
                 ) -> Union[Dict[str, np.ndarray], List[Dict]]:
        """Detect. One image -> one dict (``bboxes`` (N, 4) in original
        image pixels, ``scores`` (N,), ``labels`` (N,)); a list -> a list.
        Sparse/Caffe models need ``score_thr`` > 0 to skip empty cells."""
        single = isinstance(imgs, str) or (isinstance(imgs, np.ndarray)
                                           and imgs.ndim == 3)
        images = [load_image(i) for i in ([imgs] if single else imgs)]
        step = self.input_bhw[0] or len(images)
        results = []
        for start in range(0, len(images), step):
            chunk = images[start:start + step]
            batch, metas = self.preprocess(chunk)
            if len(chunk) < step:  # static batch: fill with copies
                batch = np.concatenate(
                    [batch] + [batch[-1:]] * (step - len(chunk)))
            outputs = self.infer(batch)
            results += self.postprocess(outputs, batch.shape[2:], metas,
                                        score_thr)
        return results[0] if single else results


def read_onnx_settings(onnx_file: str) -> dict:
    """The ``centerx.*`` metadata of a ``tools/export_onnx.py`` /
    ``tools/quantize.py`` model, parsed.

    Raises:
        FileNotFoundError: no such file.
        RuntimeInputError: the file is not an ONNX model, or has no
            ``centerx.*`` metadata (e.g. an mmdeploy ``end2end.onnx``).
    """
    import onnx
    if not osp.isfile(onnx_file):
        raise FileNotFoundError(f'ONNX file not found: {onnx_file}')
    try:
        model = onnx.load(onnx_file, load_external_data=False)
    except Exception as err:  # protobuf's DecodeError and friends
        raise RuntimeInputError(
            f'{onnx_file} is not an ONNX model (cannot load it: '
            f'{type(err).__name__}: {str(err).splitlines()[0][:200]})'
        ) from None
    if not model.graph.node:
        raise RuntimeInputError(f'{onnx_file} is not an ONNX model (no graph '
                                'nodes)')
    props = {p.key: p.value for p in model.metadata_props}
    if 'centerx.mode' not in props:
        raise RuntimeInputError(
            f'{onnx_file} has no centerx.* metadata: export it with '
            'tools/export_onnx.py (an mmdeploy end2end.onnx runs through '
            'mmdeploy, see tools/deploy.py)')
    return {
        key[len('centerx.'):]: _parse_meta(value)
        for key, value in props.items() if key.startswith('centerx.')
    }


class _ONNXModelDetector(_LetterboxDetector):
    """An exported ONNX model run by some runtime: settings from its
    metadata, input checks; subclasses open the model (``input_name``,
    ``input_dtype``, ``input_bhw``) and implement :meth:`run`."""

    #: runtime name, for messages
    backend = ''

    def __init__(self, onnx_file: str) -> None:
        super().__init__(read_onnx_settings(onnx_file))
        self.onnx_file = onnx_file

    def check_input(self, batch: np.ndarray) -> None:
        """Clear error when ``batch`` does not fit the graph input."""
        expected = ['B' if self.input_bhw[0] is None else self.input_bhw[0],
                    3, self.input_bhw[1] or 'H', self.input_bhw[2] or 'W']
        shape = tuple(batch.shape)
        fits = len(shape) == 4 and shape[1] == 3 and all(
            e == s for e, s in zip(
                (self.input_bhw[0], self.input_bhw[1], self.input_bhw[2]),
                (shape[0], shape[2], shape[3])) if e is not None)
        if not fits:
            raise RuntimeInputError(
                f'input of shape {shape} does not fit input '
                f'{self.input_name!r} {expected} of {self.onnx_file}')
        div = max(int(self.settings['pad_size_divisor']), 1)
        if shape[2] % div or shape[3] % div:
            raise RuntimeInputError(
                f'input of shape {shape}: height and width must be multiples '
                f'of {div} for {self.onnx_file}')
        if batch.dtype != self.input_dtype:
            raise RuntimeInputError(
                f'input dtype {batch.dtype} does not fit input '
                f'{self.input_name!r} ({np.dtype(self.input_dtype).name}) '
                f'of {self.onnx_file}')

    def infer(self, batch: np.ndarray) -> List[np.ndarray]:
        """Run the graph on a (B, 3, H, W) input; returns its outputs."""
        self.check_input(batch)
        try:
            return self.run(batch)
        except Exception as err:  # the runtime's own error types
            raise RuntimeInputError(
                f'{self.backend} failed to run {self.onnx_file} on an input '
                f'of shape {tuple(batch.shape)}: '
                f'{str(err).strip().splitlines()[0][:300]}') from None

    def run(self, batch: np.ndarray) -> List[np.ndarray]:
        raise NotImplementedError


class ONNXRuntimeDetector(_ONNXModelDetector):
    """Run a ``tools/export_onnx.py`` (fp32) or ``tools/quantize.py`` (INT8)
    model with ONNX Runtime.

    Settings (pipeline, mean/std, input format, classes, mode) come from the
    model's ``centerx.*`` metadata.

    Args:
        onnx_file (str): the ``.onnx`` file.
        num_threads (int, optional): ONNX Runtime intra-op threads.
        providers (sequence): ONNX Runtime execution providers.
        session_config (dict, optional): ``SessionOptions`` config entries,
            e.g. ``{'session.intra_op.allow_spinning': '0'}``.
    """

    backend = 'ONNX Runtime'

    def __init__(self,
                 onnx_file: str,
                 num_threads: int = None,
                 providers: Sequence[str] = ('CPUExecutionProvider', ),
                 session_config: Dict[str, str] = None):
        import onnxruntime as ort
        super().__init__(onnx_file)
        opts = ort.SessionOptions()
        if num_threads:
            opts.intra_op_num_threads = num_threads
        for key, value in (session_config or {}).items():
            opts.add_session_config_entry(key, value)
        try:
            self.session = ort.InferenceSession(
                onnx_file, opts, providers=list(providers))
        except Exception as err:  # onnxruntime raises its own types
            raise RuntimeInputError(
                f'ONNX Runtime cannot load {onnx_file}: {err}') from None
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.input_dtype = np.uint8 if inp.type == 'tensor(uint8)' \
            else np.float32
        self.input_bhw = tuple(
            d if isinstance(d, int) else None
            for d in (inp.shape[0], inp.shape[2], inp.shape[3]))
        self.output_names = [o.name for o in self.session.get_outputs()]

    def run(self, batch: np.ndarray) -> List[np.ndarray]:
        return self.session.run(self.output_names, {self.input_name: batch})


def import_openvino():
    """``openvino``, or :class:`BackendUnavailableError` saying how to get
    it."""
    try:
        import openvino
    except ImportError:
        raise BackendUnavailableError(
            'the openvino backend needs the openvino package, which is not '
            f'installed: pip install {OPENVINO_PIN} (pinned in '
            'requirements/deploy.txt; tools/setup_env.sh installs it)'
        ) from None
    return openvino


class OpenVINODetector(_ONNXModelDetector):
    """Run the same ONNX file (fp32 or INT8 QDQ) with OpenVINO's own API
    (``Core.read_model`` + ``compile_model``; mmdeploy 1.3.1's OpenVINO
    wrapper needs the ``openvino.inference_engine`` API that OpenVINO 2024+
    no longer has, see docs/deployment.md).

    Args:
        onnx_file (str): the ``.onnx`` file.
        num_threads (int, optional): ``INFERENCE_NUM_THREADS``.
        device (str): OpenVINO device, ``'CPU'``.
        precision (str): ``INFERENCE_PRECISION_HINT`` for float layers:
            ``'f32'`` (default: the fp32 boxes of ONNX Runtime) or ``'bf16'``
            (OpenVINO's own default on CPUs with AVX512-BF16/AMX: faster,
            less exact).
        config (dict, optional): more ``compile_model`` properties.
    """

    backend = 'OpenVINO'

    def __init__(self,
                 onnx_file: str,
                 num_threads: int = None,
                 device: str = 'CPU',
                 precision: str = 'f32',
                 config: Dict[str, object] = None) -> None:
        ov = import_openvino()
        super().__init__(onnx_file)
        core = ov.Core()
        try:
            model = core.read_model(onnx_file)
        except Exception as err:
            raise RuntimeInputError(
                f'OpenVINO cannot read {onnx_file}: '
                f'{str(err).strip().splitlines()[0][:300]}') from None
        props = {'INFERENCE_PRECISION_HINT': precision,
                 'PERFORMANCE_HINT': 'LATENCY'}
        if num_threads:
            props['INFERENCE_NUM_THREADS'] = int(num_threads)
        props.update(config or {})
        self.compiled = core.compile_model(model, device, props)
        self.request = self.compiled.create_infer_request()
        inp = self.compiled.input(0)
        dims = inp.get_partial_shape()
        self.input_name = inp.get_any_name()
        self.input_dtype = np.uint8 if inp.get_element_type() == ov.Type.u8 \
            else np.float32
        self.input_bhw = tuple(
            dims[i].get_length() if dims[i].is_static else None
            for i in (0, 2, 3))
        self.output_names = [o.get_any_name() for o in self.compiled.outputs]

    def run(self, batch: np.ndarray) -> List[np.ndarray]:
        result = self.request.infer({0: batch})
        return [np.asarray(result[o]) for o in self.compiled.outputs]


def build_detector(model_file: str, backend: str = 'onnxruntime',
                   **kwargs) -> _ONNXModelDetector:
    """A runner of ``model_file`` (.onnx, fp32 or INT8) on ``backend``
    (:data:`BACKENDS`); ``kwargs`` go to its class."""
    if backend == 'onnxruntime':
        return ONNXRuntimeDetector(model_file, **kwargs)
    if backend == 'openvino':
        return OpenVINODetector(model_file, **kwargs)
    raise ValueError(f'backend={backend!r}: use one of {list(BACKENDS)}')


class OpenCVCaffeDetector(_LetterboxDetector):
    """Run a ``tools/export_caffe.py`` model with OpenCV's Caffe importer
    (``cv2.dnn.readNetFromCaffe``, OpenCV 4.x); peaks and boxes in numpy.

    Args:
        prototxt (str): network text file; ``<prototxt stem>.json`` next to
            it holds the settings (written by the exporter).
        caffemodel (str): weights.
    """

    def __init__(self, prototxt: str, caffemodel: str) -> None:
        import cv2
        for path in (prototxt, caffemodel):
            if not osp.isfile(path):
                raise FileNotFoundError(f'Caffe file not found: {path}')
        meta_file = osp.splitext(prototxt)[0] + '.json'
        if not osp.isfile(meta_file):
            raise FileNotFoundError(f'settings file not found: {meta_file}')
        with open(meta_file) as f:
            settings = json.load(f)
        super().__init__(settings)
        self.net = cv2.dnn.readNetFromCaffe(prototxt, caffemodel)
        self.input_bhw = tuple(settings['input_bhw'])
        self.output_names = list(settings['outputs'])

    def infer(self, batch: np.ndarray) -> List[np.ndarray]:
        shape = tuple(batch.shape)
        if shape[1:] != (3, *self.input_bhw[1:]) or shape[0] != \
                self.input_bhw[0]:
            raise RuntimeInputError(
                f'input of shape {shape} does not fit the Caffe input '
                f'{(self.input_bhw[0], 3, *self.input_bhw[1:])}')
        self.net.setInput(batch.astype(np.float32))
        return [np.asarray(o) for o in self.net.forward(self.output_names)]


def _parse_meta(value: str):
    try:
        return json.loads(value)
    except ValueError:
        return value
