"""centerx_mm: CenterNet training, distillation and deployment on OpenMMLab."""
import os.path as osp

from setuptools import find_packages, setup


def read_version():
    ns = {}
    with open(osp.join('centerx_mm', 'version.py')) as f:
        exec(f.read(), ns)
    return ns['__version__']


def read_requirements(path):
    with open(path) as f:
        return [
            line.split('#')[0].strip() for line in f
            if line.split('#')[0].strip()
        ]


setup(
    name='centerx_mm',
    version=read_version(),
    description='CenterNet ("objects as points") with knowledge distillation, '
    'multi-teacher distillation, adaptive loss and in-graph post-processing '
    'for deployment, as an OpenMMLab downstream package.',
    long_description=open('README.md').read() if osp.exists('README.md') else '',
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('configs', 'tools', 'tests', 'docs')),
    python_requires='>=3.9',
    # torch and mmcv are installed by tools/setup_env.sh (pinned CPU wheel,
    # mmcv built from source); listing them here would let pip resolve them.
    install_requires=read_requirements('requirements/runtime.txt') +
    read_requirements('requirements/openmmlab.txt'),
    # pip install .[tune]: tools/tune.py (Ray Tune + Optuna, docs/tune.md)
    extras_require={'tune': read_requirements('requirements/tune.txt')},
    license='Apache License 2.0',
    zip_safe=False,
)
