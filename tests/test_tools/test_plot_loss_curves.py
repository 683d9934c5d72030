"""tools/analysis_tools/plot_loss_curves.py: reading runs, --raw, the
--summary tables (spikes, blow-ups, mAP collapse, seeds aggregated)."""
import importlib.util
import json
import os.path as osp

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture(scope='module')
def plot():
    spec = importlib.util.spec_from_file_location(
        '_plot_loss_curves',
        osp.join(REPO, 'tools', 'analysis_tools', 'plot_loss_curves.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write(tmp_path, run, stamp, rows):
    d = tmp_path / run / stamp / 'vis_data'
    d.mkdir(parents=True)
    (d / 'scalars.json').write_text(''.join(
        json.dumps(r) + '\n' for r in rows))
    return str(tmp_path / run)


def test_reads_resumed_runs_and_raw_names(plot, tmp_path):
    write(tmp_path, 'plain', '20260101_000000', [
        dict(lr=1e-3, loss=3.0, iter=5, step=5),
        dict(lr=1e-3, loss=2.0, iter=10, step=10),
        # mmengine writes val rows of an iteration-based loop with step =
        # epoch = 0: they belong to the train row before them
        {
            'coco/bbox_mAP': 0.1,
            'step': 0
        },
    ])
    # resumed: a second timestamp dir continues (and replaces step 10)
    write(tmp_path, 'plain', '20260101_010000', [
        dict(lr=1e-3, loss=1.5, iter=10, step=10),
        dict(lr=1e-3, loss=float('nan'), iter=15, step=15),
    ])
    # a hook run of this version (loss_raw) and of an older one (raw_loss)
    write(tmp_path, 'hook', '20260101_000000', [
        dict(lr=1e-3, loss=1.2, loss_raw=4.0, loss_wh=0.2, raw_loss_wh=0.5,
             iter=5, step=5),
    ])
    write(tmp_path, 'old_hook', '20260101_000000', [
        dict(lr=1e-3, loss=1.2, raw_loss=3.0, iter=5, step=5),
    ])
    train, val = plot.load_run(str(tmp_path / 'plain'))
    assert sorted(train) == [5, 10, 15] and train[10]['loss'] == 1.5
    assert val[10]['coco/bbox_mAP'] == 0.1
    hook_train, _ = plot.load_run(str(tmp_path / 'hook'))
    assert plot.series(hook_train, 'loss', raw=True) == ([5], [4.0])
    assert plot.series(hook_train, 'loss', raw=False) == ([5], [1.2])
    assert plot.series(hook_train, 'loss_wh', raw=True) == ([5], [0.5])
    old_train, _ = plot.load_run(str(tmp_path / 'old_hook'))
    assert plot.series(old_train, 'loss', raw=True) == ([5], [3.0])
    # a plain run has no raw names: its loss is the raw loss
    assert plot.series(train, 'loss', raw=True)[1][:2] == [3.0, 1.5]
    out = tmp_path / 'curves.png'
    plot.main([
        str(tmp_path / 'plain'),
        str(tmp_path / 'hook'), '--labels', 'plain', 'hook', '--keys', 'loss',
        '--raw', '--metric', 'coco/bbox_mAP', '--logy', '--out',
        str(out)
    ])
    assert out.stat().st_size > 1000
    with pytest.raises(KeyError, match='loss_missing'):
        plot.main([
            str(tmp_path / 'plain'), '--keys', 'loss_missing', '--out',
            str(out)
        ])
    with pytest.raises(FileNotFoundError, match='scalars.json'):
        plot.find_scalar_files(str(tmp_path))


def test_summary_counts_spikes_stall_and_blowup(plot, tmp_path, capsys):
    # 120 iterations: loss 3.0 until 59, a spike of 5.0 at 80 and a NaN at
    # 90, else 2.0 from iteration 61 on (stall = 61, the first iteration
    # of 10 logged values below 2.9); the NaN does not hide later spikes
    losses = [3.0] * 60 + [2.0] * 60
    losses[80], losses[90], losses[100] = 5.0, float('nan'), 4.0
    rows = [dict(lr=1e-3, loss=v, step=i + 1) for i, v in enumerate(losses)]
    rows.insert(100, {'coco/bbox_mAP': 0.25, 'step': 0})  # after step 100
    run = write(tmp_path, 'run', '20260101_000000', rows)
    train, val = plot.load_run(run)
    s = plot.loss_summary(train, raw=False, spike_ratio=1.5, stall_below=2.9)
    # the NaN at step 91 is a blow-up of one logged value, as the spikes
    assert s == dict(spikes=[81, 101], max_after_100=4.0, nonfinite=1,
                     stall=61, blowup=(81, 1))
    plot.main([run, '--metric', 'coco/bbox_mAP', '--summary', '--labels',
               'r'])
    out = capsys.readouterr().out
    assert '| r | 25.0 | 2 (at 81, 101) | 1 (from 81) | 4.00 | 1 | 61 | no |' \
        in out
    assert 'setting' not in out  # no repeated label: no aggregate table
    with pytest.raises(SystemExit):
        plot.main([run, '--summary'])  # needs --metric


def test_longest_blowup_hand_computed(plot):
    xs = list(range(1, 81))
    ys = [1.0] * 80
    ys[55:62] = [3.0] * 7  # 7 values at 3x the level 1.0
    ys[70:72] = [float('nan'), 2.0]  # NaN counts; 2.0 > 1.5
    assert plot.longest_blowup(xs, ys, 1.5) == (56, 7)
    ys[55:62] = [1.4] * 7  # below 1.5x: no run there
    assert plot.longest_blowup(xs, ys, 1.5) == (71, 2)
    assert plot.longest_blowup(xs, [1.0] * 80, 1.5) == (None, 0)
    # a blow-up that never comes back down runs to the end
    ys = [1.0] * 60 + [10.0] * 20
    assert plot.longest_blowup(list(range(80)), ys, 1.5) == (60, 20)


def test_metric_collapse_hand_computed(plot):
    def val(*values):
        return {100 * (i + 1): {'m': v} for i, v in enumerate(values)}

    # best earlier 0.20 at 200, 0.08 < 0.5 * 0.20 at 400
    assert plot.metric_collapse(val(0.1, 0.2, 0.15, 0.08, 0.3), 'm', 0.5,
                                0.01) == (400, 0.2, 0.08)
    assert plot.metric_collapse(val(0.1, 0.2, 0.15, 0.11), 'm', 0.5,
                                0.01) is None
    # a drop from below collapse_min is noise, not a collapse
    assert plot.metric_collapse(val(0.005, 0.0), 'm', 0.5, 0.01) is None
    assert plot.final_and_best(val(0.1, 0.3, 0.2), 'm') == (0.2, 0.3)
    assert plot.final_and_best({}, 'm') == (None, None)
    assert plot.mean_std([0.1, 0.2, 0.3]) == '20.0 +- 10.0'
    assert plot.mean_std([0.1]) == '10.0' and plot.mean_std([]) == '-'


def test_summary_aggregates_seeds_and_plots_faults(plot, tmp_path, capsys):
    """Three seeds of 'plain' (one collapses: mAP 0.2 -> 0.05 after a
    NaN), two of 'hook'; runs logged fault_active at 60..70."""
    runs, labels = [], []
    finals = {'plain': (0.2, 0.22, 0.05), 'hook': (0.21, 0.23)}
    for label, values in finals.items():
        for seed, final in enumerate(values):
            rows = []
            for i in range(1, 101):
                loss = 2.0
                if final == 0.05 and i == 65:
                    loss = float('nan')
                rows.append(dict(lr=1e-3, loss=loss, step=i,
                                 fault_active=float(60 <= i <= 70)))
                if i in (50, 100):
                    rows.append({'coco/bbox_mAP': 0.2 if i == 50 else final,
                                 'step': 0})
            runs.append(write(tmp_path, f'{label}_s{seed}', '20260101_000000',
                              rows))
            labels.append(label)
    trains = [plot.load_run(r)[0] for r in runs]
    assert plot.fault_spans(trains) == [(60, 70)]
    out = tmp_path / 'seeds.png'
    plot.main(runs + ['--labels'] + labels + [
        '--metric', 'coco/bbox_mAP', '--summary', '--out', str(out)])
    text = capsys.readouterr().out
    # finals 20, 22, 5: mean 15.7, sample std 9.3
    assert '| plain | 3 | 15.7 +- 9.3 | 20.7 +- 1.2 | 1/3 | 1/3 |' in text
    assert '| hook | 2 | 22.0 +- 1.4 | 22.0 +- 1.4 | 0/2 | 0/2 |' in text
    assert 'at 100: 20.0 -> 5.0' in text
    assert out.stat().st_size > 1000
