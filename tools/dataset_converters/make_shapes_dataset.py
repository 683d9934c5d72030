"""Generate the embedded "shapes" COCO detection dataset.

Example (from the repository root)::

    python tools/dataset_converters/make_shapes_dataset.py \
        --out-dir data/shapes
    python tools/dataset_converters/make_shapes_dataset.py \
        --partial-splits "ring,star;cross,triangle"

The generator module is loaded by file path so that this script needs only
numpy and OpenCV, not the deep-learning stack imported by ``centerx_mm``.
"""
import argparse
import importlib.util
import os.path as osp
import sys
import time

REPO_ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
GENERATOR_PATH = osp.join(REPO_ROOT, 'centerx_mm', 'datasets',
                          'shapes_generator.py')


def load_generator():
    """Import ``centerx_mm/datasets/shapes_generator.py`` standalone."""
    name = '_centerx_mm_shapes_generator'
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, GENERATOR_PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def parse_args(argv=None):
    """Parse command-line arguments."""
    parser = argparse.ArgumentParser(
        description='Generate the deterministic shapes dataset (COCO format).')
    parser.add_argument('--out-dir', default='data/shapes',
                        help='output directory (default: data/shapes)')
    parser.add_argument('--num-train', type=int, default=400,
                        help='number of train images (default: 400)')
    parser.add_argument('--num-val', type=int, default=100,
                        help='number of val images (default: 100)')
    parser.add_argument('--seed', type=int, default=0,
                        help='base random seed (default: 0)')
    parser.add_argument('--img-size-min', type=int, default=160,
                        help='minimum image width/height (default: 160)')
    parser.add_argument('--img-size-max', type=int, default=224,
                        help='maximum image width/height (default: 224)')
    parser.add_argument(
        '--partial-splits', default=None,
        help='class groups for partial-label train splits, groups separated '
        'by ";" and classes by ",", e.g. "ring,star;cross,triangle"')
    parser.add_argument('--progress', action='store_true',
                        help='show a progress bar')
    return parser.parse_args(argv)


def format_summary(result, classes):
    """Return a table of per-class annotation counts for every split."""
    width = max(len(k) for k in result['class_counts']) + 2
    header = ['split'.ljust(width), 'images'.rjust(7), 'empty'.rjust(6)]
    header += [c.rjust(9) for c in classes] + ['total'.rjust(7)]
    lines = [''.join(header)]
    for key, counts in result['class_counts'].items():
        row = [key.ljust(width), str(result['num_images'][key]).rjust(7),
               str(result['num_empty_images'][key]).rjust(6)]
        row += [str(counts[c]).rjust(9) for c in classes]
        row.append(str(result['num_annotations'][key]).rjust(7))
        lines.append(''.join(row))
    return '\n'.join(lines)


def main(argv=None):
    """Run the generator and print a summary; return the process exit code."""
    args = parse_args(argv)
    gen = load_generator()
    start = time.perf_counter()
    try:
        result = gen.generate_shapes_dataset(
            args.out_dir,
            num_train=args.num_train,
            num_val=args.num_val,
            seed=args.seed,
            img_size_range=(args.img_size_min, args.img_size_max),
            partial_splits=gen.parse_partial_splits(args.partial_splits),
            progress=args.progress)
    except ValueError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - start
    print(f'Wrote shapes dataset to {result["out_dir"]} in {elapsed:.1f} s')
    print(format_summary(result, gen.CLASSES))
    for key, path in result['ann_files'].items():
        print(f'  {key}: {path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
