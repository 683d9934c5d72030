"""Static check of an ONNX graph against the ONNX-TensorRT operator tables
(``docs/operators.md`` of onnx/onnx-tensorrt, Apache-2.0: release 8.6-EA,
which mmdeploy 1.3.1's TensorRT plugins target, and 10.1-GA; copies in
``../shared/reference/``). TensorRT cannot run here, so this is how the
TensorRT-target graph is tested: op types, tensor types and the listed
restrictions (TopK ``K`` a constant below 3840 and ``sorted=1``; MaxPool 2D
without the ``Indices`` output and with unit dilations; constant ``axes`` of
Slice/Squeeze/Unsqueeze; Resize modes; opset range).
"""
from typing import Dict, List, Optional, Set

import numpy as np

#: rows ("Supported Types") of the ops a CNN detector graph can contain.
#: An op outside this subset is reported, not assumed supported.
TRT_OP_TYPES: Dict[str, Dict[str, str]] = {
    '8.6': {
        'Add': 'FP32 FP16 INT32',
        'And': 'BOOL',
        'ArgMax': 'FP32 FP16 INT32',
        'AveragePool': 'FP32 FP16 INT8 INT32',
        'BatchNormalization': 'FP32 FP16',
        'Cast': 'FP32 FP16 INT32 INT8 UINT8 BOOL',
        'Clip': 'FP32 FP16 INT8',
        'Concat': 'FP32 FP16 INT32 INT8 BOOL',
        'Constant': 'FP32 FP16 INT32 INT8 BOOL',
        'ConstantOfShape': 'FP32',
        'Conv': 'FP32 FP16 INT8',
        'ConvTranspose': 'FP32 FP16 INT8',
        'Div': 'FP32 FP16 INT32',
        'Equal': 'FP32 FP16 INT32',
        'Exp': 'FP32 FP16',
        'Expand': 'FP32 FP16 INT32 BOOL',
        'Flatten': 'FP32 FP16 INT32 BOOL',
        'Floor': 'FP32 FP16',
        'Gather': 'FP32 FP16 INT8 INT32 BOOL',
        'GatherElements': 'FP32 FP16 INT8 INT32 BOOL',
        'Greater': 'FP32 FP16 INT32',
        'GreaterOrEqual': 'FP32 FP16 INT32',
        'HardSigmoid': 'FP32 FP16 INT8',
        'HardSwish': 'FP32 FP16 INT8',
        'Identity': 'FP32 FP16 INT32 INT8 BOOL',
        'LeakyRelu': 'FP32 FP16 INT8',
        'Less': 'FP32 FP16 INT32',
        'LessOrEqual': 'FP32 FP16 INT32',
        'Max': 'FP32 FP16 INT32',
        'MaxPool': 'FP32 FP16 INT8',
        'Min': 'FP32 FP16 INT32',
        'Mod': 'FP32 FP16 INT32',
        'Mul': 'FP32 FP16 INT32',
        'Neg': 'FP32 FP16 INT32',
        'Not': 'BOOL',
        'Pad': 'FP32 FP16 INT8 INT32',
        'Range': 'FP32 FP16 INT32',
        'Reciprocal': 'FP32 FP16',
        'ReduceMax': 'FP32 FP16',
        'Relu': 'FP32 FP16 INT8',
        'Reshape': 'FP32 FP16 INT32 INT8 BOOL',
        'Resize': 'FP32 FP16',
        'Shape': 'FP32 FP16 INT32 INT8 BOOL',
        'Sigmoid': 'FP32 FP16 INT8',
        'Slice': 'FP32 FP16 INT32 INT8 BOOL',
        'Softmax': 'FP32 FP16',
        'Sqrt': 'FP32 FP16',
        'Squeeze': 'FP32 FP16 INT32 INT8 BOOL',
        'Sub': 'FP32 FP16 INT32',
        'Tile': 'FP32 FP16 INT32 BOOL',
        'TopK': 'FP32 FP16 INT32',
        'Transpose': 'FP32 FP16 INT32 INT8 BOOL',
        'Unsqueeze': 'FP32 FP16 INT32 INT8 BOOL',
        'Where': 'FP32 FP16 INT32 BOOL',
    },
    '10.1': {
        'Add': 'FP32 FP16 BF16 INT32 INT64',
        'And': 'BOOL',
        'ArgMax': 'FP32 FP16 BF16 INT32 INT64',
        'AveragePool': 'FP32 FP16 BF16',
        'BatchNormalization': 'FP32 FP16 BF16',
        'Cast': 'FP32 FP16 BF16 INT32 INT64 UINT8 BOOL',
        'Clip': 'FP32 FP16 BF16',
        'Concat': 'FP32 FP16 BF16 INT32 INT64 BOOL',
        'Constant': 'FP32 FP16 BF16 INT32 INT64 BOOL',
        'ConstantOfShape': 'FP32 FP16 BF16 INT32 INT64 BOOL',
        'Conv': 'FP32 FP16 BF16',
        'ConvTranspose': 'FP32 FP16 BF16',
        'Div': 'FP32 FP16 BF16 INT32 INT64',
        'Equal': 'FP32 FP16 BF16 INT32 INT64',
        'Exp': 'FP32 FP16 BF16',
        'Expand': 'FP32 FP16 BF16 INT32 INT64 BOOL',
        'Flatten': 'FP32 FP16 BF16 INT32 INT64 BOOL',
        'Floor': 'FP32 FP16 BF16',
        'Gather': 'FP32 FP16 BF16 INT32 INT64 BOOL',
        'GatherElements': 'FP32 FP16 BF16 INT32 INT64 BOOL',
        'Greater': 'FP32 FP16 BF16 INT32 INT64',
        'GreaterOrEqual': 'FP32 FP16 BF16 INT32 INT64',
        'HardSigmoid': 'FP32 FP16 BF16',
        'HardSwish': 'FP32 FP16 BF16',
        'Identity': 'FP32 FP16 BF16 INT32 INT64 BOOL',
        'LeakyRelu': 'FP32 FP16 BF16',
        'Less': 'FP32 FP16 BF16 INT32 INT64',
        'LessOrEqual': 'FP32 FP16 BF16 INT32 INT64',
        'Max': 'FP32 FP16 BF16 INT32 INT64',
        'MaxPool': 'FP32 FP16 BF16',
        'Min': 'FP32 FP16 BF16 INT32 INT64',
        'Mod': 'FP32 FP16 BF16 INT32 INT64',
        'Mul': 'FP32 FP16 BF16 INT32 INT64',
        'Neg': 'FP32 FP16 BF16 INT32 INT64',
        'Not': 'BOOL',
        'Pad': 'FP32 FP16 BF16 INT32 INT64',
        'Range': 'FP32 FP16 BF16 INT32 INT64',
        'Reciprocal': 'FP32 FP16 BF16',
        'ReduceMax': 'FP32 FP16 BF16 INT32 INT64',
        'Relu': 'FP32 FP16 BF16 INT32 INT64',
        'Reshape': 'FP32 FP16 BF16 INT32 INT64 BOOL',
        'Resize': 'FP32 FP16 BF16',
        'Shape': 'FP32 FP16 BF16 INT32 INT64 BOOL',
        'Sigmoid': 'FP32 FP16 BF16',
        'Slice': 'FP32 FP16 BF16 INT32 INT64 BOOL',
        'Softmax': 'FP32 FP16 BF16',
        'Sqrt': 'FP32 FP16 BF16',
        'Squeeze': 'FP32 FP16 BF16 INT32 INT64 BOOL',
        'Sub': 'FP32 FP16 BF16 INT32 INT64',
        'Tile': 'FP32 FP16 BF16 INT32 INT64 BOOL',
        'TopK': 'FP32 FP16 BF16 INT32 INT64',
        'Transpose': 'FP32 FP16 BF16 INT32 INT64 BOOL',
        'Unsqueeze': 'FP32 FP16 BF16 INT32 INT64 BOOL',
        'Where': 'FP32 FP16 BF16 INT32 INT64 BOOL',
    },
}
#: opset range each table supports.
TRT_OPSETS = {'8.6': (7, 17), '10.1': (9, 20)}
TRT_MAX_TOPK = 3840

_ONNX_TYPES = {
    1: 'FP32', 2: 'UINT8', 3: 'INT8', 6: 'INT32', 7: 'INT64', 9: 'BOOL',
    10: 'FP16', 11: 'DOUBLE', 16: 'BF16'
}


def _tensor_types(model) -> Dict[str, str]:
    """Element type name of every named tensor (after shape inference)."""
    import onnx
    try:
        graph = onnx.shape_inference.infer_shapes(model).graph
    except onnx.shape_inference.InferenceError:  # e.g. unknown custom op
        graph = model.graph
    types = {}
    for vi in list(graph.input) + list(graph.output) + list(
            graph.value_info):
        types[vi.name] = _ONNX_TYPES.get(vi.type.tensor_type.elem_type, '?')
    for init in graph.initializer:
        types[init.name] = _ONNX_TYPES.get(init.data_type, '?')
    for node in graph.node:
        if node.op_type == 'Constant':
            for attr in node.attribute:
                if attr.name == 'value':
                    types[node.output[0]] = _ONNX_TYPES.get(
                        attr.t.data_type, '?')
    return types


def _constants(model) -> Dict[str, np.ndarray]:
    """Initializers, Constant outputs and Identity-of-constant outputs."""
    from onnx import numpy_helper
    consts = {
        i.name: numpy_helper.to_array(i)
        for i in model.graph.initializer
    }
    for node in model.graph.node:
        if node.op_type == 'Constant':
            for attr in node.attribute:
                if attr.name == 'value':
                    consts[node.output[0]] = numpy_helper.to_array(attr.t)
        elif node.op_type == 'Identity' and node.input[0] in consts:
            consts[node.output[0]] = consts[node.input[0]]
    return consts


def _attr(node, name, default=None):
    import onnx
    for attr in node.attribute:
        if attr.name == name:
            return onnx.helper.get_attribute_value(attr)
    return default


def _checked_tensors(node) -> List[str]:
    """The data tensors whose type the table's "Supported Types" means."""
    if node.op_type in ('Constant', 'ConstantOfShape'):
        return [node.output[0]]
    if node.op_type == 'Cast':
        return [node.input[0], node.output[0]]
    if node.op_type == 'Where':
        return [node.input[1]]
    return [node.input[0]] if node.input else []


def check_tensorrt_graph(model, version: str = '8.6') -> List[str]:
    """Problems that stop TensorRT ``version`` from parsing ``model``.

    Args:
        model (onnx.ModelProto | str): the graph or its path.
        version (str): ``'8.6'`` or ``'10.1'``.

    Returns:
        list[str]: one message per problem, naming node and rule; empty when
        every node is in the table with a supported type and restriction.
        TensorRT 8.6 casts INT64 down to INT32 (table note), so INT64 counts
        as INT32 there; on 10.1 UINT8 is allowed only as a network input or
        output.
    """
    import onnx
    if isinstance(model, str):
        model = onnx.load(model)
    table = TRT_OP_TYPES[version]
    types = _tensor_types(model)
    consts = _constants(model)
    io_names = {v.name for v in list(model.graph.input) + list(
        model.graph.output)}
    problems = []
    lo, hi = TRT_OPSETS[version]
    for opset in model.opset_import:
        if opset.domain in ('', 'ai.onnx') and not lo <= opset.version <= hi:
            problems.append(f'opset {opset.version} outside TensorRT '
                            f'{version} range {lo}..{hi}')
    for node in model.graph.node:
        where = f'{node.op_type} node {node.name!r}'
        if node.domain not in ('', 'ai.onnx'):
            problems.append(f'{where}: custom domain {node.domain!r} needs a '
                            'plugin')
            continue
        if node.op_type not in table:
            problems.append(f'{where}: op not in the TensorRT {version} '
                            'table subset checked here')
            continue
        allowed: Set[str] = set(table[node.op_type].split())
        if version == '8.6' and 'INT32' in allowed:
            allowed.add('INT64')
        for name in _checked_tensors(node):
            dtype = types.get(name, '?')
            if dtype == 'UINT8' and version == '10.1' and name in io_names:
                continue
            if dtype not in allowed:
                problems.append(f'{where}: tensor {name!r} is {dtype}, '
                                f'supported: {sorted(allowed)}')
        problems += _restrictions(node, where, consts)
    return problems


def _restrictions(node, where: str,
                  consts: Dict[str, np.ndarray]) -> List[str]:
    op = node.op_type
    out = []
    if op == 'TopK':
        k = consts.get(node.input[1]) if len(node.input) > 1 else _attr(
            node, 'k')
        if k is None:
            out.append(f'{where}: K must be a constant')
        elif int(np.asarray(k).reshape(-1)[0]) >= TRT_MAX_TOPK:
            out.append(f'{where}: K={int(np.asarray(k).reshape(-1)[0])} '
                       f'must be < {TRT_MAX_TOPK}')
        if _attr(node, 'sorted', 1) != 1:
            out.append(f'{where}: sorted must be 1')
    elif op in ('MaxPool', 'AveragePool'):
        if len(_attr(node, 'kernel_shape', [])) not in (2, 3):
            out.append(f'{where}: only 2D/3D pooling')
        if op == 'MaxPool' and len(node.output) > 1 and node.output[1]:
            out.append(f'{where}: Indices output unsupported')
        if any(d != 1 for d in _attr(node, 'dilations', [])):
            out.append(f'{where}: dilations must be all ones')
    elif op in ('Slice', 'Squeeze', 'Unsqueeze', 'ReduceMax', 'Pad'):
        axes_input = {'Slice': 3, 'Squeeze': 1, 'Unsqueeze': 1,
                      'ReduceMax': 1, 'Pad': 3}[op]
        if len(node.input) > axes_input and node.input[axes_input] and \
                node.input[axes_input] not in consts:
            out.append(f'{where}: axes must be a constant initializer')
    elif op == 'Resize':
        if _attr(node, 'mode', b'nearest') not in (b'nearest', b'linear'):
            out.append(f'{where}: mode must be nearest or linear')
        if _attr(node, 'coordinate_transformation_mode',
                 b'half_pixel') == b'tf_crop_and_resize':
            out.append(f'{where}: unsupported coordinate transformation')
    return out


def assert_tensorrt_graph(model, versions=('8.6', '10.1')) -> None:
    """Raise ``ValueError`` listing the problems for each version."""
    problems = {v: check_tensorrt_graph(model, v) for v in versions}
    if any(problems.values()):
        raise ValueError('graph not parsable by TensorRT: ' + '; '.join(
            f'[{v}] ' + ' | '.join(p) for v, p in problems.items() if p))


def input_dynamic_axes(model) -> Dict[str, List[Optional[str]]]:
    """``{input name: [dim_param or None per axis]}`` of the graph inputs."""
    import onnx
    if isinstance(model, str):
        model = onnx.load(model)
    init = {i.name for i in model.graph.initializer}
    return {
        vi.name: [d.dim_param or None for d in vi.type.tensor_type.shape.dim]
        for vi in model.graph.input if vi.name not in init
    }
