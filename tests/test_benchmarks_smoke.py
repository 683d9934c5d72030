"""Smoke tests of tools/benchmark/*.py: each runs end to end at minimal sizes
through its ``main(argv)`` and returns finite, positive ratios."""
import importlib.util
import math
import os.path as osp

import pytest

BENCH_DIR = osp.join(
    osp.dirname(osp.dirname(osp.abspath(__file__))), 'tools', 'benchmark')


def load(name):
    spec = importlib.util.spec_from_file_location(
        f'centerx_bench_{name}', osp.join(BENCH_DIR, f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def assert_positive_finite(values):
    assert values
    for v in values:
        assert math.isfinite(v) and v > 0, v


def test_interleaved_median_order_and_value():
    common = load('_common')
    calls = []
    ms = common.interleaved_median_ms(
        dict(a=lambda: calls.append('a'), b=lambda: calls.append('b')),
        repeats=3, warmup=1, per_call=2)
    assert calls == ['a', 'b'] * 4  # A B A B ..., warmup included
    assert set(ms) == {'a', 'b'} and all(v >= 0 for v in ms.values())
    with pytest.raises(ValueError, match='repeats'):
        common.interleaved_median_ms(dict(a=lambda: None), repeats=0)


def test_bench_targets_smoke(capsys):
    res = load('bench_targets').main([
        '--batch', '2', '--num-boxes', '0', '3', '--settings', '64x3',
        '--repeats', '1', '--warmup', '0', '--profile', '2'
    ])
    assert [(r['input'], r['classes'], r['boxes']) for r in res['rows']] == [
        (64, 3, 0), (64, 3, 3)
    ]
    assert_positive_finite([r['ratio'] for r in res['rows']])
    for r in res['rows']:  # the two ops where ours spends most time
        assert len(r['profile']) == 2
        assert r['profile'][0][2] >= r['profile'][1][2] >= 0
    out = capsys.readouterr().out
    assert '| 64 | 16x16 | 3 | 3 |' in out
    assert 'Where ours spends its time' in out
    assert 'bench_targets.py --batch 2' in out


def test_bench_targets_bad_setting():
    with pytest.raises(ValueError, match='INPUTxCLASSES'):
        load('bench_targets').main(['--settings', '64', '--repeats', '1'])


def test_bench_train_step_smoke(capsys):
    import torch
    threads = torch.get_num_threads()
    res = load('bench_train_step').main([
        '--settings', '32x2x2', '--num-boxes', '2', '--repeats', '1',
        '--head-repeats', '1', '--warmup', '0', '--threads', '1'
    ])
    (row, ) = res['rows']
    assert (row['input'], row['classes'], row['batch']) == (32, 2, 2)
    assert_positive_finite([
        row['ratio'], row['ours_ms'], row['mmdet_ms'], row['head_ratio'],
        row['head_ours_ms'], row['head_mmdet_ms']
    ])
    # Same weights and batch: the first-step losses agree.
    assert row['first_loss_ours'] == pytest.approx(
        row['first_loss_mmdet'], rel=1e-3)
    # The fast-training table: every option timed against mmdet fp32.
    assert [r['variant'] for r in res['fast']] == [
        'ours fp32, NCHW', 'ours fp32, channels_last',
        'ours --amp, channels_last', 'ours TTF head --amp, channels_last'
    ]
    assert_positive_finite([r['ratio'] for r in res['fast']])
    assert res['fast'][0]['autocast'] == '-'
    assert '| 32 | 2 | 2 |' in capsys.readouterr().out
    assert torch.get_num_threads() == threads  # --threads 1 was undone


def test_bench_pipeline_smoke(tmp_path, capsys):
    from centerx_mm.datasets.shapes_generator import generate_shapes_dataset
    generate_shapes_dataset(str(tmp_path), num_train=3, num_val=1)
    res = load('bench_pipeline').main([
        '--data-root', str(tmp_path), '--sizes', '64', '--images', '2',
        '--repeats', '1', '--warmup', '0'
    ])
    names = [r['row'] for r in res['rows']]
    assert names == [
        'shipped configs', 'same size 64',
        'same size 512, mmdet w/o PhotoMetricDistortion'
    ]

    def hw(text):  # mean output 'HxW'
        return [float(v) for v in text.split('x')]

    # Ours crops to at most 128x128 (64 in the same-size row); mmdet pads.
    assert 0 < max(hw(res['rows'][0]['ours_out'])) <= 128
    assert hw(res['rows'][0]['mmdet_out']) == [512, 512]
    assert 0 < max(hw(res['rows'][1]['ours_out'])) <= 64
    assert 0 < max(hw(res['rows'][1]['mmdet_out'])) <= 64
    assert_positive_finite([r['ratio'] for r in res['rows']])
    assert 'shipped configs' in capsys.readouterr().out


def test_bench_pipeline_missing_data(tmp_path):
    with pytest.raises(FileNotFoundError, match='instances_train.json'):
        load('bench_pipeline').main(['--data-root', str(tmp_path)])


def test_load_mmdet_config():
    common = load('_common')
    cfg = common.load_mmdet_config()
    assert cfg.model.type == 'CenterNet'
    assert cfg.model.neck.use_dcn is False
    with pytest.raises(FileNotFoundError, match='no_such_config.py'):
        common.load_mmdet_config('centernet/no_such_config.py')


def test_bench_deploy_smoke():
    result = load('bench_deploy').main([
        '--size', '64', '--batches', '1', '2', '--repeats', '1', '--warmup',
        '0', '--num-classes', '2', '--calib', '2'
    ])
    paths = {'pytorch', 'ort_fp32', 'ort_int8', 'ort_mmdet'}
    try:
        import openvino  # noqa: F401
        paths |= {'ov_fp32', 'ov_int8'}
    except ImportError:
        assert 'OpenVINO rows skipped' in result['notes'][0]
    for row in result['rows']:
        ms = row['ms_per_image']
        assert paths | {f'net_{p}' for p in paths - {'pytorch'}} | {
            'decode'} == set(ms)
        assert_positive_finite(list(ms.values()))
        assert row['best_ours'] in paths - {'pytorch', 'ort_mmdet'}
        assert_positive_finite([row['int8_vs_fp32_ort'],
                                row['best_ours_vs_mmdet']] +
                               list(row['decode_share_percent'].values()))
    assert [r['batch'] for r in result['rows']] == [1, 2]
    assert '| ort_int8 |' in result['table']
    assert 'b2 vs ORT fp32' in result['table']


def test_bench_kd_step_smoke(capsys):
    """One distiller step against the plain student's: the teacher is frozen,
    outside the optimizer and the state_dict, and shares no storage."""
    (row, ) = load('bench_kd_step').main([
        '--teachers', 'r18', '--input', '32', '--batch', '2',
        '--num-boxes', '2', '--repeats', '1', '--warmup', '0'
    ])
    assert row['teacher'] == 'r18'
    assert_positive_finite([
        row['plain_ms'], row['kd_ms'], row['teacher_fwd_ms'], row['ratio'],
        row['teacher_mb'], row['student_mb']
    ])
    assert row['teacher_grads'] == 0 and row['teacher_requires_grad'] == 0
    assert not row['teacher_in_optimizer']
    assert not row['teacher_in_state_dict']
    assert row['shared_storages'] == 0
    assert '| r18 |' in capsys.readouterr().out
