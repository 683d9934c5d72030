"""centerx_mm registries: children of mmdet's, so every mmdet/mmengine module
(ResNet, CTResNetNeck, CocoDataset, CocoMetric, hooks ...) resolves in the
``centerx_mm`` scope without a prefix, and ours take precedence."""
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

RUNNERS = Registry('runner', parent=MMDET_RUNNERS)
RUNNER_CONSTRUCTORS = Registry(
    'runner constructor', parent=MMDET_RUNNER_CONSTRUCTORS)
LOOPS = Registry('loop', parent=MMDET_LOOPS)
HOOKS = Registry(
    'hook', parent=MMDET_HOOKS, locations=['centerx_mm.engine.hooks'])

DATASETS = Registry(
    'dataset', parent=MMDET_DATASETS, locations=['centerx_mm.datasets'])
DATA_SAMPLERS = Registry('data sampler', parent=MMDET_DATA_SAMPLERS)
TRANSFORMS = Registry(
    'transform', parent=MMDET_TRANSFORMS, locations=['centerx_mm.datasets'])

MODELS = Registry(
    'model', parent=MMDET_MODELS, locations=['centerx_mm.models'])
MODEL_WRAPPERS = Registry('model_wrapper', parent=MMDET_MODEL_WRAPPERS)
WEIGHT_INITIALIZERS = Registry(
    'weight initializer', parent=MMDET_WEIGHT_INITIALIZERS)

OPTIMIZERS = Registry('optimizer', parent=MMDET_OPTIMIZERS)
OPTIM_WRAPPERS = Registry('optim_wrapper', parent=MMDET_OPTIM_WRAPPERS)
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor', parent=MMDET_OPTIM_WRAPPER_CONSTRUCTORS)
PARAM_SCHEDULERS = Registry(
    'parameter scheduler', parent=MMDET_PARAM_SCHEDULERS)

METRICS = Registry('metric', parent=MMDET_METRICS)
EVALUATOR = Registry('evaluator', parent=MMDET_EVALUATOR)
TASK_UTILS = Registry('task util', parent=MMDET_TASK_UTILS)

VISUALIZERS = Registry('visualizer', parent=MMDET_VISUALIZERS)
VISBACKENDS = Registry('vis_backend', parent=MMDET_VISBACKENDS)
LOG_PROCESSORS = Registry('log_processor', parent=MMDET_LOG_PROCESSORS)

# Plain functions shared by PyTorch predict and every export path
# (``centerx_decode``, ``centerx_peaks``, ``centerx_sparse``).
FUNCTIONS = Registry(
    'function', parent=MMENGINE_FUNCTIONS, locations=['centerx_mm.models'])
