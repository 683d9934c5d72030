"""centerx_mm registries: children of mmdet's, so every mmdet/mmengine module
(ResNet, CTResNetNeck, CocoDataset, CocoMetric, hooks ...) resolves in the
``centerx_mm`` scope without a prefix, and ours take precedence.

Each registry has ``locations``: mmdet's module for that registry, then ours.
mmengine imports them on the first lookup, so a tool that only sets the
config's ``default_scope='centerx_mm'`` (mmdet's ``tools/*.py``,
``DetInferencer``, mmdeploy) finds every module without calling
:func:`centerx_mm.utils.register_all_modules` first (a child registry does
not import its parent's locations by itself).
"""
from mmdet.registry import DATA_SAMPLERS as MMDET_DATA_SAMPLERS
from mmdet.registry import DATASETS as MMDET_DATASETS
from mmdet.registry import EVALUATOR as MMDET_EVALUATOR
from mmdet.registry import HOOKS as MMDET_HOOKS
from mmdet.registry import LOG_PROCESSORS as MMDET_LOG_PROCESSORS
from mmdet.registry import LOOPS as MMDET_LOOPS
from mmdet.registry import METRICS as MMDET_METRICS
from mmdet.registry import MODEL_WRAPPERS as MMDET_MODEL_WRAPPERS
from mmdet.registry import MODELS as MMDET_MODELS
from mmdet.registry import \
    OPTIM_WRAPPER_CONSTRUCTORS as MMDET_OPTIM_WRAPPER_CONSTRUCTORS
from mmdet.registry import OPTIM_WRAPPERS as MMDET_OPTIM_WRAPPERS
from mmdet.registry import OPTIMIZERS as MMDET_OPTIMIZERS
from mmdet.registry import PARAM_SCHEDULERS as MMDET_PARAM_SCHEDULERS
from mmdet.registry import \
    RUNNER_CONSTRUCTORS as MMDET_RUNNER_CONSTRUCTORS
from mmdet.registry import RUNNERS as MMDET_RUNNERS
from mmdet.registry import TASK_UTILS as MMDET_TASK_UTILS
from mmdet.registry import TRANSFORMS as MMDET_TRANSFORMS
from mmdet.registry import VISBACKENDS as MMDET_VISBACKENDS
from mmdet.registry import VISUALIZERS as MMDET_VISUALIZERS
from mmdet.registry import \
    WEIGHT_INITIALIZERS as MMDET_WEIGHT_INITIALIZERS
from mmengine.registry import FUNCTIONS as MMENGINE_FUNCTIONS
from mmengine.registry import Registry

RUNNERS = Registry(
    'runner', parent=MMDET_RUNNERS, locations=['mmdet.engine.runner'])
RUNNER_CONSTRUCTORS = Registry(
    'runner constructor',
    parent=MMDET_RUNNER_CONSTRUCTORS,
    locations=['mmdet.engine.runner'])
LOOPS = Registry(
    'loop', parent=MMDET_LOOPS, locations=['mmdet.engine.runner'])
HOOKS = Registry(
    'hook',
    parent=MMDET_HOOKS,
    locations=['mmdet.engine.hooks', 'centerx_mm.engine.hooks'])

DATASETS = Registry(
    'dataset',
    parent=MMDET_DATASETS,
    locations=['mmdet.datasets', 'centerx_mm.datasets'])
DATA_SAMPLERS = Registry(
    'data sampler',
    parent=MMDET_DATA_SAMPLERS,
    locations=['mmdet.datasets.samplers'])
TRANSFORMS = Registry(
    'transform',
    parent=MMDET_TRANSFORMS,
    locations=['mmdet.datasets.transforms', 'centerx_mm.datasets'])

MODELS = Registry(
    'model',
    parent=MMDET_MODELS,
    locations=['mmdet.models', 'centerx_mm.models'])
MODEL_WRAPPERS = Registry(
    'model_wrapper', parent=MMDET_MODEL_WRAPPERS, locations=['mmdet.models'])
WEIGHT_INITIALIZERS = Registry(
    'weight initializer',
    parent=MMDET_WEIGHT_INITIALIZERS,
    locations=['mmdet.models'])

OPTIMIZERS = Registry(
    'optimizer',
    parent=MMDET_OPTIMIZERS,
    locations=['mmdet.engine.optimizers'])
OPTIM_WRAPPERS = Registry(
    'optim_wrapper',
    parent=MMDET_OPTIM_WRAPPERS,
    locations=['mmdet.engine.optimizers'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor',
    parent=MMDET_OPTIM_WRAPPER_CONSTRUCTORS,
    locations=['mmdet.engine.optimizers'])
PARAM_SCHEDULERS = Registry(
    'parameter scheduler',
    parent=MMDET_PARAM_SCHEDULERS,
    locations=['mmdet.engine.schedulers'])

METRICS = Registry(
    'metric', parent=MMDET_METRICS, locations=['mmdet.evaluation'])
EVALUATOR = Registry(
    'evaluator', parent=MMDET_EVALUATOR, locations=['mmdet.evaluation'])
TASK_UTILS = Registry(
    'task util', parent=MMDET_TASK_UTILS, locations=['mmdet.models'])

VISUALIZERS = Registry(
    'visualizer', parent=MMDET_VISUALIZERS, locations=['mmdet.visualization'])
VISBACKENDS = Registry(
    'vis_backend', parent=MMDET_VISBACKENDS, locations=['mmdet.visualization'])
LOG_PROCESSORS = Registry(
    'log_processor', parent=MMDET_LOG_PROCESSORS, locations=['mmdet.engine'])

# Plain functions shared by PyTorch predict and every export path
# (``centerx_decode``, ``centerx_peaks``, ``centerx_sparse``).
FUNCTIONS = Registry(
    'function', parent=MMENGINE_FUNCTIONS, locations=['centerx_mm.models'])
