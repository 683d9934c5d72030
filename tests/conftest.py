import os.path as osp
import sys

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)


@pytest.fixture(scope='session', autouse=True)
def _register_modules():
    from centerx_mm.utils import register_all_modules
    register_all_modules()
