"""INT8 post-training quantization of an exported CenterX graph with ONNX
Runtime's static quantizer (``tools/quantize.py``).

- QDQ format (QuantizeLinear/DequantizeLinear pairs: ONNX Runtime fuses them
  into int8 kernels, which use AVX512-VNNI where the CPU has it; OpenVINO
  reads the same file), int8 weights per output channel, uint8 activations
  (ONNX Runtime's x86 "U8S8" layout).
- Only the network is quantized: Conv, ConvTranspose, Add, MaxPool and the
  Relus between them, found structurally as the ancestors of the head's last
  convolutions. The in-graph preprocessing and the decode (peaks, top-K, box
  arithmetic) stay fp32, so peak extraction compares fp32 values.
- ``fp32_head_last=True`` also keeps the head's last 1x1 convolutions
  (heatmap logits, box maps) in fp32: their outputs are the detections'
  scores and sizes, and they cost little.
- Calibration images go through the test pipeline the model carries (the
  config's, :func:`centerx_mm.apis.apply_pipeline`) and its input format,
  i.e. exactly what the runtimes feed.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Set

import numpy as np

#: --method name -> onnxruntime.quantization.CalibrationMethod name
CALIB_METHODS = {
    'minmax': 'MinMax',
    'entropy': 'Entropy',
    'percentile': 'Percentile'
}
IMAGE_EXTS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')
#: ops quantized inside the network
NETWORK_OPS = ('Conv', 'ConvTranspose', 'Add', 'MaxPool', 'Relu')


class CalibrationError(ValueError):
    """Calibration images that cannot be used."""


def find_calib_images(calib_dir: str, num: int) -> List[str]:
    """The first ``num`` image files (by name, sub-folders included) of
    ``calib_dir``.

    Raises:
        FileNotFoundError: no such directory.
        CalibrationError: ``num`` < 1 or no image file in it.
    """
    if num < 1:
        raise CalibrationError(f'--num-calib must be >= 1, got {num}')
    if not osp.isdir(calib_dir):
        raise FileNotFoundError(
            f'calibration directory not found: {calib_dir}')
    files = sorted(
        osp.join(root, name) for root, _, names in os.walk(calib_dir)
        for name in names if name.lower().endswith(IMAGE_EXTS))
    if not files:
        raise CalibrationError(
            f'calibration directory {calib_dir} has no image files '
            f'({", ".join(IMAGE_EXTS)})')
    return files[:num]


def network_nodes(model) -> Dict[str, Set[str]]:
    """Split an exported graph: ``head_last`` (names of the convolutions no
    other convolution follows: the head's output convs) and ``network``
    (those and all their ancestors). The rest (decode) is downstream."""
    producer = {out: node for node in model.graph.node for out in node.output}
    consumers: Dict[str, list] = {}
    for node in model.graph.node:
        for inp in node.input:
            consumers.setdefault(inp, []).append(node)
    convs = ('Conv', 'ConvTranspose')

    def reaches_conv(node, seen) -> bool:
        for out in node.output:
            for nxt in consumers.get(out, []):
                if nxt.name in seen:
                    continue
                seen.add(nxt.name)
                if nxt.op_type in convs or reaches_conv(nxt, seen):
                    return True
        return False

    head_last = {
        n.name for n in model.graph.node
        if n.op_type in convs and not reaches_conv(n, set())
    }
    network, stack = set(), [n for n in model.graph.node
                             if n.name in head_last]
    while stack:
        node = stack.pop()
        if node.name in network:
            continue
        network.add(node.name)
        stack += [producer[i] for i in node.input if i in producer]
    return dict(head_last=head_last, network=network)


def inline_constant_identities(model) -> int:
    """Replace ``Identity`` nodes of an initializer by a copy of it, in
    place (the TorchScript exporter shares equal parameters, e.g. two
    all-zero biases, through Identity nodes; the quantizer would treat such
    a weight as an activation). Returns the number replaced."""
    inits = {i.name: i for i in model.graph.initializer}
    nodes = list(model.graph.node)
    replaced = 0
    for node in nodes:
        if node.op_type == 'Identity' and node.input[0] in inits:
            copy = model.graph.initializer.add()
            copy.CopyFrom(inits[node.input[0]])
            copy.name = node.output[0]
            model.graph.node.remove(node)
            replaced += 1
    return replaced


def _reader_base():
    from onnxruntime.quantization import CalibrationDataReader
    return CalibrationDataReader


class _CalibrationReader(_reader_base()):
    """``CalibrationDataReader`` over preprocessed calibration batches."""

    def __init__(self, input_name: str, batches: List[np.ndarray]) -> None:
        self.input_name = input_name
        self.batches = batches
        self.index = 0

    def get_next(self) -> Optional[dict]:
        if self.index >= len(self.batches):
            return None
        self.index += 1
        return {self.input_name: self.batches[self.index - 1]}

    def rewind(self) -> None:
        self.index = 0


def calibration_batches(fp32_onnx: str,
                        images: Sequence) -> List[np.ndarray]:
    """Model inputs for the calibration images (paths or BGR arrays),
    through the model's own preprocessing; batches of the graph's static
    batch size (1 for a dynamic batch).

    Raises:
        CalibrationError: naming an image that does not decode.
    """
    from centerx_mm.apis import (ONNXRuntimeDetector, RuntimeInputError,
                                 load_image)
    runner = ONNXRuntimeDetector(fp32_onnx)
    decoded = []
    for img in images:
        try:
            decoded.append(load_image(img))
        except (RuntimeInputError, FileNotFoundError) as err:
            raise CalibrationError(f'calibration image: {err}') from None
    step = runner.input_bhw[0] or 1
    batches = []
    for start in range(0, len(decoded), step):
        batch, _ = runner.preprocess(decoded[start:start + step])
        if len(batch) < step:  # static batch: fill with copies
            batch = np.concatenate([batch] + [batch[-1:]] *
                                   (step - len(batch)))
        batches.append(batch)
    return batches


def quantize_onnx(fp32_onnx: str,
                  out_file: str,
                  images: Sequence,
                  method: str = 'minmax',
                  fp32_head_last: bool = True,
                  per_channel: bool = True,
                  reduce_range: bool = False,
                  batches: Optional[List[np.ndarray]] = None) -> dict:
    """Quantize a ``tools/export_onnx.py`` graph to INT8 (QDQ).

    Args:
        fp32_onnx (str): the fp32 graph (any mode, input format, shape;
            opset >= 13 for per-channel weights).
        out_file (str): the INT8 ``.onnx``; it keeps the ``centerx.*``
            metadata (the runtimes run it like the fp32 file) and adds
            ``centerx.precision`` and ``centerx.quantization``.
        images (sequence): calibration images (paths or BGR arrays).
        method (str): ``'minmax'``, ``'entropy'`` or ``'percentile'``.
        fp32_head_last (bool): keep the head's last convolutions fp32.
        per_channel (bool): per-output-channel weight scales.
        reduce_range (bool): 7-bit weights (for CPUs without VNNI, where
            u8s8 products can saturate).
        batches (list, optional): already preprocessed calibration inputs
            (:func:`calibration_batches`), to share between calls.

    Returns:
        dict: the ``centerx.quantization`` settings written.
    """
    import tempfile

    import onnx
    from onnxruntime.quantization import quantize_static
    if method not in CALIB_METHODS:
        raise ValueError(f'method={method!r}: use one of '
                         f'{list(CALIB_METHODS)}')
    model = onnx.load(fp32_onnx)
    inline_constant_identities(model)
    opset = max(o.version for o in model.opset_import
                if o.domain in ('', 'ai.onnx'))
    if per_channel and opset < 13:
        raise ValueError(f'{fp32_onnx}: per-channel INT8 needs opset >= 13 '
                         f'(the file has {opset}): export with --opset 13')
    if batches is None:
        batches = calibration_batches(fp32_onnx, images)
    parts = network_nodes(model)
    quantized = [
        n.name for n in model.graph.node
        if n.name in parts['network'] and n.op_type in NETWORK_OPS and (
            not fp32_head_last or n.name not in parts['head_last'])
    ]
    reader = _CalibrationReader(model.graph.input[0].name, batches)
    if osp.dirname(osp.abspath(out_file)):
        os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        source = osp.join(tmp, 'fp32.onnx')
        onnx.save(model, source)
        cache = calibrate_network(source, parts['head_last'], reader, method,
                                  tmp)
        _quantize(quantize_static, source, out_file, cache, per_channel,
                  reduce_range, quantized, method)
    info = dict(
        method=method,
        num_images=int(sum(len(b) for b in batches)),
        fp32_head_last=fp32_head_last,
        per_channel=per_channel,
        reduce_range=reduce_range,
        quantized_nodes=len(quantized),
        fp32_head_last_nodes=sorted(parts['head_last'])
        if fp32_head_last else [])
    out = onnx.load(out_file)
    props = {p.key: p.value for p in model.metadata_props}
    props.update({
        'centerx.precision': 'int8',
        'centerx.quantization': json.dumps(info)
    })
    onnx.helper.set_model_props(out, props)
    onnx.save(out, out_file)
    return info


def calibrate_network(source: str, head_last: Set[str], reader,
                      method: str, tmp_dir: str) -> str:
    """Activation ranges of the network part only (the graph cut at the
    head's last convolutions, so the decode's tensors, e.g. the -inf fill of
    the peak map, are never calibrated); returns ONNX Runtime's calibration
    cache file (JSON) in ``tmp_dir``."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod
    from onnxruntime.quantization.calibrate import (create_calibrator,
                                                    save_tensors_data)
    model = onnx.load(source)
    outputs = [o for n in model.graph.node if n.name in head_last
               for o in n.output]
    network = osp.join(tmp_dir, 'network.onnx')
    onnx.utils.extract_model(source, network,
                             [model.graph.input[0].name], outputs)
    calibrator = create_calibrator(
        network,
        list(NETWORK_OPS),
        augmented_model_path=osp.join(tmp_dir, 'augmented.onnx'),
        calibrate_method=getattr(CalibrationMethod, CALIB_METHODS[method]),
        extra_options=dict(symmetric=False))
    try:
        calibrator.collect_data(reader)
        ranges = calibrator.compute_data()
    except ValueError as err:  # e.g. numpy's histogram of a constant tensor
        raise CalibrationError(
            f'{method} calibration failed: {err} (a tensor constant over all '
            'calibration images? try more images or --method minmax)'
        ) from None
    cache = osp.join(tmp_dir, f'calibration_{method}.json')
    save_tensors_data(ranges, cache)
    return cache


def _quantize(quantize_static, source: str, out_file: str, cache: str,
              per_channel: bool, reduce_range: bool, nodes: List[str],
              method: str) -> None:
    """ONNX Runtime's ``quantize_static`` with our settings (QDQ, U8S8,
    asymmetric activations, symmetric weights) and the ranges of
    :func:`calibrate_network`."""
    from onnxruntime.quantization import (CalibrationMethod, QuantFormat,
                                          QuantType)
    quantize_static(
        source,
        out_file,
        None,
        quant_format=QuantFormat.QDQ,
        per_channel=per_channel,
        reduce_range=reduce_range,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        op_types_to_quantize=list(NETWORK_OPS),
        nodes_to_quantize=nodes,
        calibrate_method=getattr(CalibrationMethod, CALIB_METHODS[method]),
        calibration_cache_path=cache,
        extra_options=dict(ActivationSymmetric=False, WeightSymmetric=True))
