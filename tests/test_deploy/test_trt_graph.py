"""Static checks of the TensorRT-target graph (TensorRT cannot run here)."""
import os
import os.path as osp

import numpy as np
import onnx
import pytest
from mmengine.registry import DefaultScope
from onnx import TensorProto, helper, numpy_helper

from centerx_mm.deploy.trt_check import (TRT_OP_TYPES, check_tensorrt_graph,
                                         input_dynamic_axes)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
REFERENCE = osp.join(osp.dirname(REPO), 'shared', 'reference')


@pytest.fixture(scope='module')
def trt_report(tiny, tmp_path_factory):
    """tools/deploy.py with the TensorRT FP16 dynamic config on this CPU
    machine: mmdeploy exports end2end.onnx, the engine build is skipped."""
    from tools.deploy import main
    work = str(tmp_path_factory.mktemp('trt'))
    cfg = osp.join(REPO, 'configs/deploy/'
                   'centerx_tensorrt-fp16_dynamic-64x64-512x512.py')
    with DefaultScope.overwrite_default_scope('centerx_mm'):
        return main([cfg, tiny.cfg_file, tiny.ckpt, tiny.img, '--work-dir',
                     work, '--test-out', osp.join(work, 'report.json')])


@pytest.fixture(scope='module')
def trt_onnx(trt_report):
    return onnx.load(trt_report['onnx'])


def test_deploy_tool_reports_table_checks_without_tensorrt(trt_report):
    assert trt_report['tensorrt_8.6_problems'] == []
    assert trt_report['tensorrt_10.1_problems'] == []
    assert 'backend_files' not in trt_report  # no engine without TensorRT
    report_file = osp.join(osp.dirname(trt_report['onnx']), 'report.json')
    assert osp.isfile(report_file)


@pytest.mark.parametrize('version', ['8.6', '10.1'])
def test_tensorrt_graph_passes_operator_tables(trt_onnx, version):
    assert check_tensorrt_graph(trt_onnx, version) == []


def test_tensorrt_graph_constant_k_and_dynamic_axes(trt_onnx):
    topk = [n for n in trt_onnx.graph.node if n.op_type == 'TopK']
    assert len(topk) == 1  # one decode
    inits = {i.name: numpy_helper.to_array(i)
             for i in trt_onnx.graph.initializer}
    consts = {
        n.output[0]: numpy_helper.to_array(n.attribute[0].t)
        for n in trt_onnx.graph.node if n.op_type == 'Constant'
    }
    k = {**inits, **consts}[topk[0].input[1]]
    assert int(k.reshape(-1)[0]) == 100 < 3840
    assert input_dynamic_axes(trt_onnx) == {
        'input': ['batch', None, 'height', 'width']
    }
    ops = {n.op_type for n in trt_onnx.graph.node}
    assert {'MaxPool', 'TopK', 'GatherElements', 'Sigmoid'} <= ops
    assert not ops & {'NonZero', 'NonMaxSuppression', 'ConstantOfShape'}
    assert all(n.domain in ('', 'ai.onnx') for n in trt_onnx.graph.node)


def _graph(nodes, inits=(), opset=11):
    x = helper.make_tensor_value_info('x', TensorProto.FLOAT, [1, 3, 8, 8])
    y = helper.make_tensor_value_info('y', TensorProto.FLOAT, None)
    graph = helper.make_graph(nodes, 'g', [x], [y], initializer=list(inits))
    return helper.make_model(
        graph, opset_imports=[helper.make_opsetid('', opset),
                              helper.make_opsetid('mmdeploy', 1)])


def test_checker_flags_dynamic_or_large_k_and_unsupported_ops():
    flat = helper.make_node('Flatten', ['x'], ['f'], axis=1)
    k_big = numpy_helper.from_array(np.array([4000], np.int64), 'k')
    topk = helper.make_node('TopK', ['f', 'k'], ['y', 'i'], axis=1)
    problems = check_tensorrt_graph(_graph([flat, topk], [k_big]), '10.1')
    assert problems == ["TopK node '': K=4000 must be < 3840"]
    # K computed in the graph (as mmdeploy's ONNX Runtime rewrite does)
    shape = helper.make_node('Shape', ['f'], ['k'])
    problems = check_tensorrt_graph(_graph([flat, shape, topk]), '8.6')
    assert problems == ["TopK node '': K must be a constant"]
    nonzero = helper.make_node('NonZero', ['x'], ['y'], name='nz')
    assert check_tensorrt_graph(_graph([nonzero]), '8.6') == [
        "NonZero node 'nz': op not in the TensorRT 8.6 table subset "
        'checked here'
    ]
    pool = helper.make_node(
        'MaxPool', ['x'], ['y', 'idx'], kernel_shape=[3, 3], name='p')
    assert check_tensorrt_graph(_graph([pool]), '8.6') == [
        "MaxPool node 'p': Indices output unsupported"
    ]
    plugin = helper.make_node('MMCVModulatedDeformConv2d', ['x'], ['y'],
                              domain='mmdeploy', name='dcn')
    assert check_tensorrt_graph(_graph([plugin]), '8.6')[0].startswith(
        "MMCVModulatedDeformConv2d node 'dcn': custom domain")
    relu = helper.make_node('Relu', ['x'], ['y'])
    assert check_tensorrt_graph(_graph([relu], opset=18), '8.6') == [
        'opset 18 outside TensorRT 8.6 range 7..17'
    ]
    # Sigmoid on INT32 is in neither table
    cast = helper.make_node('Cast', ['x'], ['c'], to=TensorProto.INT32)
    sig = helper.make_node('Sigmoid', ['c'], ['y'], name='s')
    assert 'is INT32' in check_tensorrt_graph(_graph([cast, sig]), '10.1')[0]


@pytest.mark.skipif(
    not osp.isdir(REFERENCE), reason='../shared/reference not present')
@pytest.mark.parametrize('version', ['8.6', '10.1'])
def test_embedded_table_matches_reference(version):
    """The embedded rows equal the ONNX-TensorRT operators.md tables."""
    path = osp.join(REFERENCE, f'onnx-tensorrt-{version}-operators.md')
    rows = {}
    for line in open(path):
        cells = [c.strip() for c in line.strip().strip('|').split('|')]
        if line.startswith('|') and len(cells) > 2 and cells[1] == 'Y':
            rows[cells[0]] = cells[2].replace(',', '').replace(
                'INF64', 'INT64')  # typo in the 10.1 table
    for op, types in TRT_OP_TYPES[version].items():
        assert rows[op] == types, op
    assert os.path.getsize(path) > 0
