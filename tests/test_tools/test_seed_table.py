"""tools/analysis_tools/seed_table.py: mean +- std over seeds of the final
validation row, class-group means, and its errors."""
import json
import os.path as osp
import sys

import pytest

from tests.helpers import REPO

sys.path.insert(0, osp.join(REPO, 'tools', 'analysis_tools'))
import seed_table  # noqa: E402


def write_run(root, name, finals, classwise=None, test=False):
    """A work dir whose validation rows end with ``finals`` (mAP in [0, 1])."""
    stamp = root / name / '20260101_000000'
    if test:
        stamp.mkdir(parents=True)
        path = stamp / '20260101_000000.json'
    else:
        (stamp / 'vis_data').mkdir(parents=True)
        path = stamp / 'vis_data' / 'scalars.json'
    rows = [dict(iter=10, loss=1.0)]
    for i, m in enumerate(finals):
        row = {'coco/bbox_mAP': m, 'coco/bbox_mAP_50': m + 0.2,
               'coco/bbox_mAP_75': m - 0.1, 'step': 100 * (i + 1)}
        row.update({f'coco/{c}_precision': v
                    for c, v in (classwise or {}).items()})
        rows.append(row)
    path.write_text('\n'.join(json.dumps(r) for r in rows) + '\n')
    return str(root / name)


def test_mean_std_and_groups(tmp_path, capsys):
    a = write_run(tmp_path, 'a', [0.1, 0.50], dict(x=0.4, y=0.6, z=0.2))
    b = write_run(tmp_path, 'b', [0.52], dict(x=0.6, y=0.8, z=0.3))
    t = write_run(tmp_path, 't', [0.3], dict(x=0.1, y=0.1, z=0.1), test=True)
    (row, single) = seed_table.main(
        [f'two={a}', f'test={t}', f'two={b}', '--group', 'xy=x,y'])
    assert row['runs'] == pytest.approx([50.0, 52.0])  # the last rows
    assert row['xy'] == pytest.approx([50.0, 70.0])
    assert single['runs'] == pytest.approx([30.0])
    out = capsys.readouterr().out
    assert '| two | 50.0 / 52.0 | 51.00 ± 1.41 | 71.0 | 41.0 |' in out
    assert '60.00 ± 14.14 (50.0 / 70.0)' in out
    assert '| test | 30.0 | 30.00 ± 0.00 |' in out


def test_errors_name_the_run(tmp_path):
    a = write_run(tmp_path, 'a', [0.5])
    with pytest.raises(KeyError, match=r'a: coco/x_precision, coco/y_'
                       r'precision not logged .*classwise=True'):
        seed_table.main([f'r={a}', '--group', 'g=x,y'])
    with pytest.raises(FileNotFoundError, match='under ' + str(tmp_path)):
        seed_table.main([f'r={tmp_path}/missing'])
    with pytest.raises(SystemExit):
        seed_table.main(['no_equals_sign'])
