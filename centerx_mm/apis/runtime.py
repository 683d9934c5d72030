"""Run an exported CenterX detector without PyTorch or mmdeploy: ONNX Runtime
(``dets`` or ``sparse`` graphs from ``tools/export_onnx.py``) and OpenCV's
Caffe importer (``tools/export_caffe.py``).

Each runtime does what the test pipeline does: keep-ratio resize to the
model's input size (``mmcv.imrescale``, bilinear), pad bottom/right (with the
mean colour, i.e. 0 after normalisation, as mmdet's data preprocessor pads),
run, and maps boxes back to the original image (divide by the scale factor,
clip), the same steps as ``CenterXHead.predict_by_feat``.
"""
import json
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

ImageLike = Union[str, np.ndarray]


class RuntimeInputError(ValueError):
    """An image or tensor that the exported model cannot take."""


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
                      fit_inside: bool = False) -> Tuple[np.ndarray, dict]:
    """Keep-ratio bilinear resize (``mmcv.imresize``), same dtype; meta with
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
    resized = mmcv.imresize(img, (new_w, new_h), interpolation='bilinear')
    return resized, dict(
        ori_shape=img.shape[:2],
        img_shape=(new_h, new_w),
        scale_factor=(new_w / w, new_h / h))


def rescale_dets(dets: np.ndarray, labels: np.ndarray, meta: dict,
                 score_thr: float = 0.0) -> Dict[str, np.ndarray]:
    """(K, 5) dets in network-input pixels -> boxes in the original image.

    Returns:
        dict: ``bboxes`` (N, 4) x1y1x2y2 divided by ``scale_factor`` and
        clipped to ``ori_shape``, ``scores`` (N,), ``labels`` (N,), for the
        N dets with score > ``score_thr``.
    """
    keep = dets[:, 4] > score_thr
    sx, sy = meta['scale_factor']
    boxes = dets[keep, :4] / np.array([sx, sy, sx, sy], np.float32)
    ori_h, ori_w = meta['ori_shape'][:2]
    boxes[:, 0::2] = boxes[:, 0::2].clip(0, ori_w)
    boxes[:, 1::2] = boxes[:, 1::2].clip(0, ori_h)
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
        """Fill value in the raw BGR image so that padding is 0 after
        normalisation (rounded for uint8 input)."""
        mean = np.asarray(self.settings['mean'], np.float32)
        if self.settings['bgr_to_rgb']:
            mean = mean[::-1]
        if self.settings['input_format'] == 'uint8':
            mean = np.round(mean)
        return mean.astype(np.float32)

    def preprocess(self, imgs: Sequence[np.ndarray]
                   ) -> Tuple[np.ndarray, List[dict]]:
        """BGR images -> (B, 3, H, W) input of the model and metas."""
        _, in_h, in_w = self.input_bhw
        fmt = self.settings['input_format']
        static = in_h is not None and in_w is not None
        scale = (in_w, in_h) if static else tuple(self.settings['test_scale'])
        resized, metas = zip(*(keep_ratio_resize(img, scale, static)
                               for img in imgs))
        if static:
            batch_hw = (in_h, in_w)
        else:
            div = max(int(self.settings['pad_size_divisor']), 1)
            batch_hw = tuple(-(-max(r.shape[i] for r in resized) // div) * div
                             for i in (0, 1))
        # Work in the input dtype (uint8 stays uint8: no float copies).
        dtype = np.uint8 if fmt == 'uint8' else np.float32
        batch = np.empty((len(resized), 3, *batch_hw), dtype)
        batch[...] = self._pad_value().astype(dtype)[:, None, None]
        for i, img in enumerate(resized):
            h, w = img.shape[:2]
            if h > batch_hw[0] or w > batch_hw[1]:
                raise RuntimeInputError(
                    f'image resized to {h}x{w} does not fit the model input '
                    f'{batch_hw[0]}x{batch_hw[1]}')
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


class ONNXRuntimeDetector(_LetterboxDetector):
    """Run a ``tools/export_onnx.py`` model with ONNX Runtime.

    Settings (mean/std, input format, test scale, classes, mode) come from
    the model's ``centerx.*`` metadata.

    Args:
        onnx_file (str): the ``.onnx`` file.
        num_threads (int, optional): ONNX Runtime intra-op threads.
        providers (sequence): ONNX Runtime execution providers.
        session_config (dict, optional): ``SessionOptions`` config entries,
            e.g. ``{'session.intra_op.allow_spinning': '0'}``.
    """

    def __init__(self,
                 onnx_file: str,
                 num_threads: int = None,
                 providers: Sequence[str] = ('CPUExecutionProvider', ),
                 session_config: Dict[str, str] = None):
        import onnxruntime as ort
        if not osp.isfile(onnx_file):
            raise FileNotFoundError(f'ONNX file not found: {onnx_file}')
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
        self.onnx_file = onnx_file
        props = self.session.get_modelmeta().custom_metadata_map
        if 'centerx.mode' not in props:
            raise RuntimeInputError(
                f'{onnx_file} has no centerx.* metadata: export it with '
                'tools/export_onnx.py (an mmdeploy end2end.onnx runs through '
                'mmdeploy, see tools/deploy.py)')
        settings = {
            key[len('centerx.'):]: _parse_meta(value)
            for key, value in props.items() if key.startswith('centerx.')
        }
        super().__init__(settings)
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.input_dtype = np.uint8 if inp.type == 'tensor(uint8)' \
            else np.float32
        self.input_bhw = tuple(
            d if isinstance(d, int) else None
            for d in (inp.shape[0], inp.shape[2], inp.shape[3]))
        self.output_names = [o.name for o in self.session.get_outputs()]

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
        return self.session.run(self.output_names, {self.input_name: batch})


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
