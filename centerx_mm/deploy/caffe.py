"""Caffe export of a CenterX network (design notes "模型加速": Caffe for edge
chips; the peak op is not in Caffe, so peaks and boxes run in numpy,
:class:`centerx_mm.apis.OpenCVCaffeDetector`).

The network is exported to ONNX (``mode='raw'``, TorchScript exporter: BN
after a Conv is folded into it) and each ONNX node becomes BVLC Caffe layers:

=====================  =====================================================
ONNX                   Caffe
=====================  =====================================================
Conv                   Convolution
ConvTranspose          Deconvolution
BatchNormalization     BatchNorm (use_global_stats) + Scale (bias_term)
Relu / Sigmoid         ReLU / Sigmoid
Mul by a scalar        Power (power 1, scale; ``CenterXTTFHead``'s
constant               ``relu(conv) * ltrb_scale``)
MaxPool                Pooling MAX (+ Crop where Caffe's ceil rounding gives
                       one more row/column than PyTorch's floor; the Crop
                       reference is a Pooling AVE kernel=stride of the same
                       input)
Add                    Eltwise SUM
(input)                Input
=====================  =====================================================

After ``heatmap_logits`` a Sigmoid (``heatmap``) and a 3x3 stride-1 Pooling
MAX (``heatmap_max``) are appended; outputs: ``heatmap``, ``heatmap_max``,
then the box maps (``wh``, ``offset``; ``ltrb`` for a ``CenterXTTFHead``).
Any other op raises :class:`ExportError` naming it.

No Caffe install is needed: the subset of ``caffe.proto`` these layers use
(same field numbers as BVLC's) is declared with protobuf's descriptor API, and
the messages write both the ``.prototxt`` (text format) and the
``.caffemodel`` (binary ``NetParameter`` with blobs).
"""
import io
import json
import os
import os.path as osp
import re
from types import SimpleNamespace
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch.nn as nn

from .errors import ExportError
from .export import export_onnx, output_names_of

# (field name, number, type, repeated, packed) per message; a type starting
# with '.' is a message, 'enum:' an enum of the same message.
_CAFFE_PROTO = {
    'BlobShape': [('dim', 1, 'int64', True, True)],
    'BlobProto': [('shape', 7, '.caffe.BlobShape', False, False),
                  ('data', 5, 'float', True, True)],
    'NetParameter': [('name', 1, 'string', False, False),
                     ('layer', 100, '.caffe.LayerParameter', True, False)],
    'LayerParameter': [
        ('name', 1, 'string', False, False),
        ('type', 2, 'string', False, False),
        ('bottom', 3, 'string', True, False),
        ('top', 4, 'string', True, False),
        ('blobs', 7, '.caffe.BlobProto', True, False),
        ('eltwise_param', 110, '.caffe.EltwiseParameter', False, False),
        ('convolution_param', 106, '.caffe.ConvolutionParameter', False,
         False),
        ('pooling_param', 121, '.caffe.PoolingParameter', False, False),
        ('relu_param', 123, '.caffe.ReLUParameter', False, False),
        ('batch_norm_param', 139, '.caffe.BatchNormParameter', False, False),
        ('scale_param', 142, '.caffe.ScaleParameter', False, False),
        ('input_param', 143, '.caffe.InputParameter', False, False),
        ('crop_param', 144, '.caffe.CropParameter', False, False),
        ('power_param', 122, '.caffe.PowerParameter', False, False),
    ],
    'InputParameter': [('shape', 1, '.caffe.BlobShape', True, False)],
    'ConvolutionParameter': [
        ('num_output', 1, 'uint32', False, False),
        ('bias_term', 2, 'bool', False, False),
        ('group', 5, 'uint32', False, False),
        ('pad_h', 9, 'uint32', False, False),
        ('pad_w', 10, 'uint32', False, False),
        ('kernel_h', 11, 'uint32', False, False),
        ('kernel_w', 12, 'uint32', False, False),
        ('stride_h', 13, 'uint32', False, False),
        ('stride_w', 14, 'uint32', False, False),
        ('dilation', 18, 'uint32', True, False),
    ],
    'BatchNormParameter': [('use_global_stats', 1, 'bool', False, False),
                           ('eps', 3, 'float', False, False)],
    'ScaleParameter': [('axis', 1, 'int32', False, False),
                       ('bias_term', 4, 'bool', False, False)],
    'PoolingParameter': [
        ('pool', 1, 'enum:PoolMethod', False, False),
        ('pad_h', 9, 'uint32', False, False),
        ('pad_w', 10, 'uint32', False, False),
        ('kernel_h', 5, 'uint32', False, False),
        ('kernel_w', 6, 'uint32', False, False),
        ('stride_h', 7, 'uint32', False, False),
        ('stride_w', 8, 'uint32', False, False),
    ],
    'EltwiseParameter': [('operation', 1, 'enum:EltwiseOp', False, False)],
    'ReLUParameter': [('negative_slope', 1, 'float', False, False)],
    'PowerParameter': [('power', 1, 'float', False, False),
                       ('scale', 2, 'float', False, False),
                       ('shift', 3, 'float', False, False)],
    'CropParameter': [('axis', 1, 'int32', False, False),
                      ('offset', 2, 'uint32', True, False)],
}
_CAFFE_ENUMS = {
    'PoolingParameter': ('PoolMethod', ['MAX', 'AVE', 'STOCHASTIC']),
    'EltwiseParameter': ('EltwiseOp', ['PROD', 'SUM', 'MAX']),
}
_caffe = None


def caffe_pb2() -> SimpleNamespace:
    """Message classes of the ``caffe.proto`` subset (built once)."""
    global _caffe
    if _caffe is not None:
        return _caffe
    from google.protobuf import descriptor_pb2, descriptor_pool
    from google.protobuf import message_factory
    fdp = descriptor_pb2.FieldDescriptorProto
    file_proto = descriptor_pb2.FileDescriptorProto(
        name='centerx_caffe_subset.proto', package='caffe', syntax='proto2')
    for msg_name, fields in _CAFFE_PROTO.items():
        msg = file_proto.message_type.add(name=msg_name)
        if msg_name in _CAFFE_ENUMS:
            enum_name, values = _CAFFE_ENUMS[msg_name]
            enum = msg.enum_type.add(name=enum_name)
            for number, value in enumerate(values):
                enum.value.add(name=value, number=number)
        for name, number, ftype, repeated, packed in fields:
            field = msg.field.add(name=name, number=number)
            field.label = fdp.LABEL_REPEATED if repeated \
                else fdp.LABEL_OPTIONAL
            if ftype.startswith('.'):
                field.type, field.type_name = fdp.TYPE_MESSAGE, ftype
            elif ftype.startswith('enum:'):
                field.type = fdp.TYPE_ENUM
                field.type_name = f'.caffe.{msg_name}.{ftype[5:]}'
            else:
                field.type = getattr(fdp, f'TYPE_{ftype.upper()}')
            if packed:
                field.options.packed = True
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file_proto)
    _caffe = SimpleNamespace(**{
        name: message_factory.GetMessageClass(
            pool.FindMessageTypeByName(f'caffe.{name}'))
        for name in _CAFFE_PROTO
    })
    return _caffe


def _blob(array: np.ndarray):
    blob = caffe_pb2().BlobProto()
    blob.shape.dim.extend(array.shape)
    blob.data.extend(np.asarray(array, np.float32).reshape(-1).tolist())
    return blob


def _caffe_pool_size(size: int, kernel: int, stride: int, pad: int) -> int:
    """Caffe's pooled size: ceil rounding, last window must start inside."""
    out = -(-(size + 2 * pad - kernel) // stride) + 1
    if pad and (out - 1) * stride >= size + pad:
        out -= 1
    return out


class _Converter:
    """ONNX graph (static shapes) -> Caffe ``NetParameter`` with blobs."""

    def __init__(self, onnx_model, input_name: str) -> None:
        import onnx
        from onnx import numpy_helper
        self.model = onnx.shape_inference.infer_shapes(onnx_model)
        graph = self.model.graph
        self.net = caffe_pb2().NetParameter(name='centerx')
        self.consts = {
            i.name: numpy_helper.to_array(i)
            for i in graph.initializer
        }
        self.shapes = {
            vi.name: [d.dim_value for d in vi.type.tensor_type.shape.dim]
            for vi in list(graph.input) + list(graph.value_info) +
            list(graph.output)
        }
        self.alias: Dict[str, str] = {}
        self.names: Dict[str, int] = {}
        self.outputs = {o.name for o in graph.output}
        inp = [i for i in graph.input if i.name not in self.consts][0]
        self.alias[inp.name] = input_name
        layer = self.layer('Input', input_name, [], [input_name])
        layer.input_param.shape.add().dim.extend(self.shapes[inp.name])

    def blob(self, name: str) -> str:
        return self.alias.get(name, name)

    def top(self, name: str) -> str:
        if name in self.outputs:
            return name
        clean = re.sub(r'[^0-9A-Za-z_.]+', '_', name).strip('_')
        self.alias[name] = clean
        return clean

    def layer(self, type_: str, name: str, bottoms: List[str],
              tops: List[str]):
        if len(tops) == 1 and tops[0] in self.outputs:
            name = tops[0]  # OpenCV's forward(name) looks up layer names
        base = re.sub(r'[^0-9A-Za-z_.]+', '_', name).strip('_') or type_
        self.names[base] = self.names.get(base, 0) + 1
        if self.names[base] > 1:
            base = f'{base}_{self.names[base]}'
        layer = self.net.layer.add(name=base, type=type_)
        layer.bottom.extend(bottoms)
        layer.top.extend(tops)
        return layer

    def attr(self, node, name, default=None):
        import onnx
        for a in node.attribute:
            if a.name == name:
                return onnx.helper.get_attribute_value(a)
        return default

    def const(self, node, index: int) -> np.ndarray:
        name = node.input[index]
        if name not in self.consts:
            raise ExportError(f'{node.op_type} node {node.name!r}: input '
                              f'{index} must be a constant for Caffe')
        return self.consts[name]

    def sym_pads(self, node) -> Tuple[int, int]:
        pads = self.attr(node, 'pads', [0, 0, 0, 0])
        if pads[0] != pads[2] or pads[1] != pads[3]:
            raise ExportError(f'{node.op_type} node {node.name!r}: '
                              f'asymmetric pads {pads} have no Caffe form')
        if self.attr(node, 'auto_pad', b'NOTSET') not in (b'NOTSET', b''):
            raise ExportError(f'{node.op_type} node {node.name!r}: auto_pad '
                              'is not supported')
        return pads[0], pads[1]

    def convert(self) -> None:
        for node in self.model.graph.node:
            handler = getattr(self, f'op_{node.op_type}', None)
            if handler is None:
                raise ExportError(
                    f'cannot export {node.op_type} node {node.name!r} to '
                    'Caffe: supported ONNX ops are Conv, ConvTranspose, '
                    'BatchNormalization, Relu, Sigmoid, MaxPool, Add, Mul '
                    'by a scalar constant')
            handler(node)

    # -- ops ------------------------------------------------------------------
    def op_Identity(self, node) -> None:
        if node.input[0] in self.consts:
            self.consts[node.output[0]] = self.consts[node.input[0]]
        else:
            self.alias[node.output[0]] = self.blob(node.input[0])

    def op_Constant(self, node) -> None:
        from onnx import numpy_helper
        self.consts[node.output[0]] = numpy_helper.to_array(
            self.attr(node, 'value'))

    def _conv(self, node, type_: str) -> None:
        weight = self.const(node, 1)
        bias = self.const(node, 2) if len(node.input) > 2 and \
            node.input[2] else None
        group = self.attr(node, 'group', 1)
        layer = self.layer(type_, node.name, [self.blob(node.input[0])],
                           [self.top(node.output[0])])
        p = layer.convolution_param
        p.num_output = weight.shape[0] if type_ == 'Convolution' \
            else weight.shape[1] * group
        p.bias_term = bias is not None
        p.group = group
        p.kernel_h, p.kernel_w = weight.shape[2:]
        p.stride_h, p.stride_w = self.attr(node, 'strides', [1, 1])
        p.pad_h, p.pad_w = self.sym_pads(node)
        dil = self.attr(node, 'dilations', [1, 1])
        if dil[0] != dil[1]:
            raise ExportError(f'{node.op_type} node {node.name!r}: dilations '
                              f'{dil} differ per axis')
        p.dilation.append(dil[0])
        layer.blobs.append(_blob(weight))
        if bias is not None:
            layer.blobs.append(_blob(bias))

    def op_Conv(self, node) -> None:
        self._conv(node, 'Convolution')

    def op_ConvTranspose(self, node) -> None:
        if any(self.attr(node, 'output_padding', [0, 0])) or \
                self.attr(node, 'output_shape') is not None:
            raise ExportError(f'ConvTranspose node {node.name!r}: '
                              'output_padding/output_shape have no Caffe form')
        self._conv(node, 'Deconvolution')

    def op_BatchNormalization(self, node) -> None:
        scale, bias, mean, var = (self.const(node, i) for i in range(1, 5))
        mid = self.top(node.output[0] + '_bn')
        bn = self.layer('BatchNorm', node.name, [self.blob(node.input[0])],
                        [mid])
        bn.batch_norm_param.use_global_stats = True
        bn.batch_norm_param.eps = self.attr(node, 'epsilon', 1e-5)
        bn.blobs.extend([_blob(mean), _blob(var), _blob(np.ones(1))])
        sc = self.layer('Scale', node.name + '_scale', [mid],
                        [self.top(node.output[0])])
        sc.scale_param.bias_term = True
        sc.blobs.extend([_blob(scale), _blob(bias)])

    def op_Relu(self, node) -> None:
        self.layer('ReLU', node.name, [self.blob(node.input[0])],
                   [self.top(node.output[0])])

    def op_Sigmoid(self, node) -> None:
        self.layer('Sigmoid', node.name, [self.blob(node.input[0])],
                   [self.top(node.output[0])])

    def op_Add(self, node) -> None:
        if any(i in self.consts for i in node.input):
            raise ExportError(f'Add node {node.name!r} with a constant input '
                              'has no Caffe form here')
        layer = self.layer('Eltwise', node.name,
                           [self.blob(i) for i in node.input],
                           [self.top(node.output[0])])
        layer.eltwise_param.operation = 1  # SUM

    def op_Mul(self, node) -> None:
        consts = [i for i in node.input if i in self.consts]
        blobs = [i for i in node.input if i not in self.consts]
        if len(consts) != 1 or self.consts[consts[0]].size != 1:
            raise ExportError(f'Mul node {node.name!r}: only a product with '
                              'one scalar constant has a Caffe form (Power)')
        layer = self.layer('Power', node.name, [self.blob(blobs[0])],
                           [self.top(node.output[0])])
        layer.power_param.power = 1.0
        layer.power_param.scale = float(self.consts[consts[0]].reshape(-1)[0])
        layer.power_param.shift = 0.0

    def op_MaxPool(self, node) -> None:
        if self.attr(node, 'ceil_mode', 0) or len(node.output) > 1:
            raise ExportError(f'MaxPool node {node.name!r}: ceil_mode or '
                              'Indices output not supported')
        kh, kw = self.attr(node, 'kernel_shape')
        sh, sw = self.attr(node, 'strides', [1, 1])
        ph, pw = self.sym_pads(node)
        in_hw = self.shapes[node.input[0]][2:]
        want = self.shapes[node.output[0]][2:]
        got = [_caffe_pool_size(in_hw[0], kh, sh, ph),
               _caffe_pool_size(in_hw[1], kw, sw, pw)]
        bottom = self.blob(node.input[0])
        top = self.top(node.output[0])
        pool_top = top if got == want else top + '_uncropped'
        self.pooling(node.name, bottom, pool_top, 0, (kh, kw), (sh, sw),
                     (ph, pw))
        if got == want:
            return
        ref = [_caffe_pool_size(in_hw[0], sh, sh, 0),
               _caffe_pool_size(in_hw[1], sw, sw, 0)]
        if ref != want:
            raise ExportError(
                f'MaxPool node {node.name!r}: Caffe pools {in_hw} to {got}, '
                f'PyTorch to {want}, and no crop reference fits')
        self.pooling(node.name + '_crop_ref', bottom, top + '_crop_ref', 1,
                     (sh, sw), (sh, sw), (0, 0))
        crop = self.layer('Crop', node.name + '_crop',
                          [pool_top, top + '_crop_ref'], [top])
        crop.crop_param.axis = 2
        crop.crop_param.offset.extend([0, 0])

    def pooling(self, name, bottom, top, method, kernel, stride, pad):
        layer = self.layer('Pooling', name, [bottom], [top])
        p = layer.pooling_param
        p.pool = method
        p.kernel_h, p.kernel_w = kernel
        p.stride_h, p.stride_w = stride
        p.pad_h, p.pad_w = pad
        return layer


def export_caffe(detector: nn.Module,
                 settings: dict,
                 prototxt: str,
                 caffemodel: str,
                 input_hw: Optional[Tuple[int, int]] = None) -> dict:
    """Write ``prototxt`` + ``caffemodel`` (+ ``<prototxt stem>.json`` with
    the runtime settings) for ``detector``.

    Args:
        detector (nn.Module): CenterX detector (no mmcv ops, e.g. no DCN).
        settings (dict): :func:`centerx_mm.deploy.deploy_settings`.
        prototxt, caffemodel (str): output files.
        input_hw (tuple, optional): static (H, W); default: test scale
            padded to ``pad_size_divisor``. Batch is 1.

    Returns:
        dict: the settings written to the json file (input ``data`` is
        float32 RGB after mean/std, (1, 3, H, W)).
    """
    import tempfile

    import onnx
    from google.protobuf import text_format
    with tempfile.TemporaryDirectory() as tmp:
        onnx_file = osp.join(tmp, 'raw.onnx')
        meta = export_onnx(detector, onnx_file, settings, input_hw=input_hw,
                           mode='raw', input_format='normalized')
        model = onnx.load(onnx_file)
    box_names = list(output_names_of(detector, 'raw')[1:])
    conv = _Converter(model, 'data')
    conv.convert()
    kernel = int(meta['centerx.kernel'])
    pad = (kernel - 1) // 2
    conv.layer('Sigmoid', 'heatmap', ['heatmap_logits'], ['heatmap'])
    conv.pooling('heatmap_max', 'heatmap', 'heatmap_max', 0,
                 (kernel, kernel), (1, 1), (pad, pad))
    net = conv.net
    for path in (prototxt, caffemodel):
        if osp.dirname(osp.abspath(path)):
            os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(caffemodel, 'wb') as f:
        f.write(net.SerializeToString())
    text_net = caffe_pb2().NetParameter()
    text_net.CopyFrom(net)
    for layer in text_net.layer:
        del layer.blobs[:]
    with io.open(prototxt, 'w') as f:
        f.write(text_format.MessageToString(text_net))
    in_shape = list(net.layer[0].input_param.shape[0].dim)
    runtime = dict(
        mode='raw',
        input_format='normalized',
        mean=settings['mean'],
        std=settings['std'],
        bgr_to_rgb=settings['bgr_to_rgb'],
        test_scale=json.loads(meta['centerx.test_scale']),
        pipeline=json.loads(meta['centerx.pipeline']),
        pad_size_divisor=settings['pad_size_divisor'],
        pad_value=settings.get('pad_value', 0.),
        classes=settings['classes'],
        topk=settings['topk'],
        kernel=kernel,
        input_bhw=[in_shape[0], in_shape[2], in_shape[3]],
        outputs=['heatmap', 'heatmap_max', *box_names],
        layer_types=sorted({layer.type for layer in net.layer}))
    with open(osp.splitext(prototxt)[0] + '.json', 'w') as f:
        json.dump(runtime, f, indent=2)
    return runtime


def compare_caffe_with_pytorch(detector: nn.Module,
                               prototxt: str,
                               caffemodel: str,
                               inputs: np.ndarray,
                               net=None) -> Dict[str, float]:
    """Max abs difference of the head outputs, OpenCV Caffe vs PyTorch.

    Args:
        inputs (ndarray): (1, 3, H, W) float32 normalized input.
        net (cv2.dnn.Net, optional): the files already loaded, used only by
            this function: OpenCV 4.14 corrupts a net (fused weights are
            re-fused) whose list of requested outputs changes between
            ``forward`` calls, so do not share it with a detector.

    Returns:
        dict: the raw head maps (``heatmap_logits``, ``wh``, ``offset``, or
        ``heatmap_logits``, ``ltrb``) and ``heatmap`` (sigmoid) -> max
        |caffe - pytorch|.
    """
    import cv2
    import torch
    if net is None:
        net = cv2.dnn.readNetFromCaffe(prototxt, caffemodel)
    net.setInput(np.ascontiguousarray(inputs, np.float32))
    names = list(output_names_of(detector, 'raw')) + ['heatmap']
    caffe_out = dict(zip(names, net.forward(names)))
    with torch.no_grad():
        maps = detector.eval()(torch.from_numpy(inputs), mode='tensor')
    ref = dict(zip(names, [*maps, maps[0].sigmoid()]))
    return {
        k: float(np.abs(np.asarray(caffe_out[k]) - ref[k].numpy()).max())
        for k in names
    }
