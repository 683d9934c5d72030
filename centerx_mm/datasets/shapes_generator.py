"""Deterministic generator of the embedded "shapes" COCO detection dataset.

The dataset is small, learnable on CPU in minutes and yet not trivial:
four object classes (``ring``, ``star``, ``cross``, ``triangle``) are drawn
anti-aliased with varied scale, aspect, rotation and colour on textured
backgrounds, together with clutter that belongs to no class (lines,
scribbles, dots, text, arcs, and hard negatives such as discs, rectangles and
polygons). Objects may overlap, but every labelled object keeps at least
:data:`MIN_VISIBLE_FRACTION` of its area visible.

The same arguments always give byte-identical JSON files and identical PNG
pixels: every image is rendered from its own random generator seeded by
``(seed, split name, index)``, so an image does not depend on how many images
were generated before it.

This module depends only on numpy and OpenCV (tqdm optional) so that it can be
imported standalone, without the deep-learning stack.
"""
import json
import os
import os.path as osp
import re
import zlib

import cv2
import numpy as np

__all__ = [
    'CLASSES', 'generate_shapes_dataset', 'render_image', 'image_rng',
    'parse_partial_splits', 'validate_partial_splits', 'class_counts'
]

#: Class names; the COCO category id of ``CLASSES[i]`` is ``i + 1``.
CLASSES = ('ring', 'star', 'cross', 'triangle')

#: Probability that an image contains no object at all.
EMPTY_IMAGE_PROB = 0.03
#: Inclusive range of the number of objects in a non-empty image.
NUM_OBJECTS_RANGE = (1, 8)
#: Range of the longer side of an object's box, in pixels.
OBJECT_SIZE_RANGE = (12.0, 64.0)
#: Minimum fraction of an object's area that stays visible (inside the image
#: and not covered by objects drawn later).
MIN_VISIBLE_FRACTION = 0.6
#: Minimum fraction of an object's area inside the image.
MIN_INSIDE_FRACTION = 0.75

_SHIFT = 4  # sub-pixel bits for cv2 polygon drawing
_SCALE = 1 << _SHIFT
# Characters used for text clutter: none of them looks like a class shape.
_TEXT_CHARS = 'abcdefghkmnpqrsuwyzABEFGHKMNPRSUWZ2345679'


# ---------------------------------------------------------------------------
# Random generator
# ---------------------------------------------------------------------------
def image_rng(seed, split, index):
    """Return the ``np.random.Generator`` of image ``index`` of ``split``."""
    split_key = zlib.crc32(str(split).encode('utf-8'))
    return np.random.default_rng([int(seed), split_key, int(index)])


# ---------------------------------------------------------------------------
# Geometry of the classes (unit size, centred at the origin)
# ---------------------------------------------------------------------------
def _rotate(points, angle):
    """Rotate ``(N, 2)`` points by ``angle`` radians about the origin."""
    c, s = np.cos(angle), np.sin(angle)
    return points @ np.array([[c, s], [-s, c]])


def _ring_contours(rng):
    """Return the outer and inner (hole) contours of an elliptic annulus."""
    t = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    aspect = rng.uniform(0.75, 1.0)
    inner = rng.uniform(0.45, 0.68)
    unit = np.stack([np.cos(t), aspect * np.sin(t)], axis=1)
    angle = rng.uniform(0, np.pi)
    return [_rotate(unit, angle), _rotate(unit[::-1] * inner, angle)]


def _star_contours(rng):
    """Return the contour of a filled five-pointed star."""
    inner = rng.uniform(0.38, 0.5)
    t = np.arange(10) * (np.pi / 5) - np.pi / 2
    radius = np.where(np.arange(10) % 2 == 0, 1.0, inner)
    pts = np.stack([radius * np.cos(t), radius * np.sin(t)], axis=1)
    pts[:, 0] *= rng.uniform(0.85, 1.15)
    return [_rotate(pts, rng.uniform(0, 2 * np.pi))]


def _cross_contours(rng):
    """Return the contour of a plus sign (rotated by at most 20 degrees)."""
    t = rng.uniform(0.13, 0.19)  # half thickness of the arms
    hx = 1.0  # half length of the horizontal bar
    hy = rng.uniform(0.8, 1.2)  # half length of the vertical bar
    cx = rng.uniform(-0.1, 0.1)  # where the bars cross
    cy = rng.uniform(-0.1, 0.1)
    pts = np.array([
        [cx - t, -hy], [cx + t, -hy], [cx + t, cy - t], [hx, cy - t],
        [hx, cy + t], [cx + t, cy + t], [cx + t, hy], [cx - t, hy],
        [cx - t, cy + t], [-hx, cy + t], [-hx, cy - t], [cx - t, cy - t]
    ])
    return [_rotate(pts, np.deg2rad(rng.uniform(-20, 20)))]


def _triangle_contours(rng):
    """Return the contour of a well-conditioned filled triangle."""
    while True:
        t = np.deg2rad(np.array([90.0, 210.0, 330.0]) +
                       rng.uniform(-15, 15, size=3))
        r = rng.uniform(0.85, 1.15, size=3)
        pts = np.stack([r * np.cos(t), r * np.sin(t)], axis=1)
        pts[:, 0] *= rng.uniform(0.8, 1.25)
        if _min_angle(pts) >= np.deg2rad(30):
            break
    return [_rotate(pts, rng.uniform(0, 2 * np.pi))]


def _min_angle(tri):
    """Return the smallest interior angle of a triangle, in radians."""
    angles = []
    for i in range(3):
        a = tri[(i + 1) % 3] - tri[i]
        b = tri[(i + 2) % 3] - tri[i]
        cos = a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
        angles.append(np.arccos(np.clip(cos, -1, 1)))
    return min(angles)


_SHAPE_FNS = (_ring_contours, _star_contours, _cross_contours,
              _triangle_contours)


def _clip_polygon(points, width, height):
    """Clip a polygon to ``[0, width] x [0, height]`` (Sutherland-Hodgman)."""
    pts = [tuple(p) for p in points]
    for axis, bound, keep_below in ((0, 0.0, False), (0, width, True),
                                    (1, 0.0, False), (1, height, True)):
        if not pts:
            break

        def inside(p):
            return p[axis] <= bound if keep_below else p[axis] >= bound

        clipped = []
        for i, cur in enumerate(pts):
            prev = pts[i - 1]
            if inside(cur) != inside(prev):
                t = (bound - prev[axis]) / (cur[axis] - prev[axis])
                clipped.append(tuple(p + t * (c - p) for p, c in zip(prev,
                                                                     cur)))
            if inside(cur):
                clipped.append(cur)
        pts = clipped
    return np.array(pts, dtype=np.float64).reshape(-1, 2)


def _polygon_area(contours):
    """Return the area of the first contour minus that of the others."""
    areas = [abs(cv2.contourArea(c.astype(np.float32))) for c in contours]
    return areas[0] - sum(areas[1:])


# ---------------------------------------------------------------------------
# Drawing helpers
# ---------------------------------------------------------------------------
def _fill_alpha(shape_hw, contours, supersample=4):
    """Rasterise contours (COCO pixel coordinates) to an anti-aliased mask.

    The polygon is filled at ``supersample`` times the resolution and
    area-averaged, so the mask is the pixel coverage of the exact geometry
    (``cv2.LINE_AA`` fills would dilate it by about 0.7 px).
    """
    height, width = shape_hw
    mask = np.zeros(shape_hw, np.uint8)
    pts = np.concatenate(contours)
    x0, y0 = np.maximum(np.floor(pts.min(axis=0)).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(pts.max(axis=0)).astype(int), [width, height])
    if x1 <= x0 or y1 <= y0:
        return mask
    s = supersample
    big = np.zeros(((y1 - y0) * s, (x1 - x0) * s), np.uint8)
    # cv2 puts pixel centres at integer coordinates, COCO at ``i + 0.5``.
    cv_pts = [
        np.round(((c - (x0, y0)) * s - 0.5) * _SCALE).astype(np.int32)
        for c in contours
    ]
    cv2.fillPoly(big, cv_pts, 255, cv2.LINE_8, _SHIFT)
    mask[y0:y1, x0:x1] = cv2.resize(big, (x1 - x0, y1 - y0),
                                    interpolation=cv2.INTER_AREA)
    return mask


def _blend(img, alpha, color):
    """Alpha-blend ``color`` (a colour or an image-shaped array) into
    ``img`` in place, weighted by the uint8 mask ``alpha``."""
    x, y, w, h = cv2.boundingRect(alpha)
    if w == 0 or h == 0:
        return
    a = alpha[y:y + h, x:x + w, None].astype(np.float32) * (1.0 / 255)
    roi = img[y:y + h, x:x + w]
    if isinstance(color, np.ndarray) and color.ndim == 3:
        color = color[y:y + h, x:x + w]
    roi += a * (np.asarray(color, np.float32) - roi)


def _random_color(rng):
    """Return a random RGB colour as a float array."""
    return rng.uniform(0, 255, size=3)


def _contrasting_color(rng, reference, min_dist):
    """Return a colour at Euclidean distance >= ``min_dist`` from
    ``reference`` (best of 30 tries)."""
    best, best_dist = None, -1.0
    for _ in range(30):
        color = _random_color(rng)
        dist = float(np.linalg.norm(color - reference))
        if dist >= min_dist:
            return color
        if dist > best_dist:
            best, best_dist = color, dist
    return best


# ---------------------------------------------------------------------------
# Background and clutter
# ---------------------------------------------------------------------------
def _background(rng, width, height):
    """Return a textured ``(H, W, 3)`` float32 background."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    c0, c1 = _random_color(rng), _random_color(rng)
    if rng.random() < 0.7:  # linear gradient
        angle = rng.uniform(0, 2 * np.pi)
        t = np.cos(angle) * xx + np.sin(angle) * yy
    else:  # radial gradient
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        t = np.hypot(xx - cx, yy - cy)
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    img = c0 + t[..., None] * (c1 - c0)

    # Low-frequency colour noise.
    grid = rng.normal(0, 1, size=(rng.integers(3, 8), rng.integers(3, 8), 3))
    low = cv2.resize(grid.astype(np.float32), (width, height),
                     interpolation=cv2.INTER_CUBIC)
    img += low * rng.uniform(5, 25)

    # Periodic pattern: stripes or checker.
    u = rng.random()
    if u < 0.55:
        angle = rng.uniform(0, np.pi)
        period = rng.uniform(5, 30)
        proj = np.cos(angle) * xx + np.sin(angle) * yy
        wave = np.sin(2 * np.pi * proj / period)
        if rng.random() < 0.5:
            wave = np.sign(wave)  # hard stripes
        img += wave[..., None] * (rng.uniform(6, 30) * rng.choice([-1, 1],
                                                                   size=3))
    elif u < 0.8:
        period = rng.uniform(6, 32)
        checker = ((np.floor(xx / period) + np.floor(yy / period)) % 2) * 2 - 1
        img += checker[..., None] * (rng.uniform(6, 25) * rng.choice([-1, 1],
                                                                     size=3))
    return img.astype(np.float32)


def _regular_polygon(center, radius, sides, angle, aspect=1.0):
    """Return the contour of a (possibly squashed) regular polygon."""
    t = np.arange(sides) * (2 * np.pi / sides)
    pts = np.stack([np.cos(t), aspect * np.sin(t)], axis=1) * radius
    return _rotate(pts, angle) + center


def _clutter_alpha(rng, kind, width, height, max_thickness=3):
    """Return the anti-aliased mask of one distractor of type ``kind``."""
    mask = np.zeros((height, width), np.uint8)
    size = min(width, height)
    center = rng.uniform([0, 0], [width, height])
    aa = cv2.LINE_AA
    if kind == 'line':
        d = _rotate(np.array([[rng.uniform(15, 1.2 * size), 0.0]]),
                    rng.uniform(0, np.pi))[0] / 2
        p0, p1 = np.round(center - d).astype(int), np.round(center +
                                                            d).astype(int)
        cv2.line(mask, tuple(int(v) for v in p0), tuple(int(v) for v in p1),
                 255, int(rng.integers(1, max_thickness + 1)), aa)
    elif kind == 'scribble':
        steps = rng.normal(0, 8, size=(int(rng.integers(4, 9)), 2))
        pts = np.round(center + np.cumsum(steps, axis=0)).astype(np.int32)
        cv2.polylines(mask, [pts], False, 255, int(rng.integers(1, 3)), aa)
    elif kind == 'dots':
        for _ in range(int(rng.integers(2, 9))):
            p = np.round(center + rng.normal(0, 10, size=2) * _SCALE)
            cv2.circle(mask, (int(p[0]), int(p[1])),
                       int(rng.uniform(1.5, 4) * _SCALE), 255, -1, aa, _SHIFT)
    elif kind == 'text':
        text = ''.join(
            rng.choice(list(_TEXT_CHARS), size=int(rng.integers(2, 7))))
        org = (int(center[0]) - 15, int(center[1]))
        cv2.putText(mask, text, org, cv2.FONT_HERSHEY_SIMPLEX,
                    float(rng.uniform(0.28, 0.45)), 255, 1, aa)
    elif kind == 'arc':
        axes = (int(rng.uniform(5, 25)), int(rng.uniform(5, 25)))
        start = float(rng.uniform(0, 360))
        cv2.ellipse(mask, (int(center[0]), int(center[1])), axes,
                    float(rng.uniform(0, 180)), start,
                    start + float(rng.uniform(60, 180)), 255,
                    int(rng.integers(1, 3)), aa)
    else:  # filled hard negatives
        radius = rng.uniform(4, 26)
        angle = rng.uniform(0, np.pi)
        if kind == 'ellipse':
            contour = _regular_polygon(center, radius, 40, angle,
                                       rng.uniform(0.2, 0.5))
        elif kind == 'disc':
            contour = _regular_polygon(center, radius, 40, 0.0)
        elif kind == 'rect':
            contour = _regular_polygon(center, radius, 4, angle,
                                       rng.uniform(0.3, 1.0))
        else:  # 'polygon': pentagon .. octagon
            contour = _regular_polygon(center, radius,
                                       int(rng.integers(5, 9)), angle)
        return _fill_alpha((height, width), [contour])
    return mask


_CLUTTER_KINDS = ('line', 'scribble', 'dots', 'text', 'arc', 'ellipse',
                  'disc', 'rect', 'polygon')


# ---------------------------------------------------------------------------
# Objects
# ---------------------------------------------------------------------------
def _sample_num_objects(rng):
    """Return the number of objects of an image (0 with prob. 3%)."""
    if rng.random() < EMPTY_IMAGE_PROB:
        return 0
    return int(rng.integers(NUM_OBJECTS_RANGE[0], NUM_OBJECTS_RANGE[1] + 1))


def _place_objects(rng, width, height, num_objects):
    """Plan up to ``num_objects`` objects with honest visibility.

    Returns a list of dicts (``label``, ``contours``, ``bbox`` (x1, y1, x2, y2
    of the shape clipped to the image), ``area``, ``alpha`` and ``visible``
    masks), in drawing order. An object that cannot be placed after a few
    shrinking retries is skipped.
    """
    max_size = min(OBJECT_SIZE_RANGE[1], 0.45 * min(width, height))
    min_size = min(OBJECT_SIZE_RANGE[0], max_size)
    objects = []
    for _ in range(num_objects):
        label = int(rng.integers(len(CLASSES)))
        size = float(np.exp(rng.uniform(np.log(min_size), np.log(max_size))))
        for _attempt in range(12):
            contours = _SHAPE_FNS[label](rng)
            lo = contours[0].min(axis=0)
            hi = contours[0].max(axis=0)
            scale = size / float((hi - lo).max())
            box_wh = (hi - lo) * scale
            # Allow a little truncation at the image border.
            xy = rng.uniform(-0.15 * box_wh,
                             np.array([width, height]) - 0.85 * box_wh)
            contours = [(c - lo) * scale + xy for c in contours]
            alpha = _fill_alpha((height, width), contours)
            candidate = alpha >= 128
            if _visible_ok(contours, candidate, objects):
                for obj in objects:
                    obj['visible'] &= ~candidate
                inside = _clip_polygon(contours[0], width, height)
                # Clip away round-off (and -0.0) of the intersections.
                x1, y1 = np.maximum(inside.min(axis=0), 0.0) + 0.0
                x2, y2 = np.minimum(inside.max(axis=0), [width, height])
                objects.append(
                    dict(label=label, contours=contours,
                         bbox=(float(x1), float(y1), float(x2), float(y2)),
                         area=_polygon_area(contours), alpha=alpha,
                         visible=candidate))
                break
            size = max(min_size, size * 0.85)
    return objects


def _visible_ok(contours, candidate, objects):
    """Check that a candidate drawn on top keeps every object visible."""
    area = _polygon_area(contours)
    if area <= 0 or candidate.sum() < MIN_INSIDE_FRACTION * area:
        return False
    for obj in objects:
        remaining = np.count_nonzero(obj['visible'] & ~candidate)
        if remaining < MIN_VISIBLE_FRACTION * obj['area']:
            return False
    return True


def render_image(rng, width, height, num_objects=None):
    """Render one image.

    Args:
        rng (np.random.Generator): source of all randomness.
        width (int): image width.
        height (int): image height.
        num_objects (int, optional): number of objects to try to place;
            sampled (0 with probability :data:`EMPTY_IMAGE_PROB`, else
            uniformly in :data:`NUM_OBJECTS_RANGE`) when None.

    Returns:
        tuple: ``(image, objects)`` where ``image`` is an ``(H, W, 3)`` uint8
        BGR array and ``objects`` a list of ``(label, (x1, y1, x2, y2))`` with
        0-based labels into :data:`CLASSES` and float boxes in COCO pixel
        coordinates (pixel ``i`` spans ``[i, i + 1]``).
    """
    if num_objects is None:
        num_objects = _sample_num_objects(rng)
    img = _background(rng, width, height)

    for _ in range(int(rng.integers(3, 11))):
        kind = _CLUTTER_KINDS[int(rng.integers(len(_CLUTTER_KINDS)))]
        alpha = _clutter_alpha(rng, kind, width, height)
        _blend(img, alpha, _random_color(rng))

    objects = _place_objects(rng, width, height, num_objects)
    for obj in objects:
        alpha = obj['alpha']
        under = img[alpha >= 128].mean(axis=0)
        # Contrast is usually adequate, occasionally weak.
        min_dist = 90.0 if rng.random() < 0.9 else 35.0
        color = _contrasting_color(rng, under, min_dist)
        if rng.random() < 0.3:  # shaded fill
            x1, y1, x2, y2 = obj['bbox']
            angle = rng.uniform(0, 2 * np.pi)
            yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
            t = (np.cos(angle) * (xx - x1) + np.sin(angle) *
                 (yy - y1)) / max(x2 - x1, y2 - y1, 1.0)
            fill = color + t[..., None] * rng.uniform(-40, 40, size=3)
            _blend(img, alpha, fill.astype(np.float32))
        else:
            _blend(img, alpha, color)

    # Thin clutter lines on top (only where they barely touch objects).
    for _ in range(int(rng.integers(0, 3))):
        alpha = _clutter_alpha(rng, 'line', width, height, 1)
        covered = alpha >= 128
        if all(
                np.count_nonzero(o['visible'] & ~covered) >=
                MIN_VISIBLE_FRACTION * o['area'] for o in objects):
            for o in objects:
                o['visible'] &= ~covered
            _blend(img, alpha, _random_color(rng))

    if rng.random() < 0.3:
        img = cv2.GaussianBlur(img, (0, 0), float(rng.uniform(0.4, 0.9)))
    img += rng.normal(0, rng.uniform(1, 8), size=img.shape).astype(np.float32)
    img = np.clip(np.round(img), 0, 255).astype(np.uint8)
    return img, [(o['label'], o['bbox']) for o in objects]


# ---------------------------------------------------------------------------
# Partial-label splits
# ---------------------------------------------------------------------------
def parse_partial_splits(text):
    """Parse ``"ring,star;cross,triangle"`` into class-name groups
    ``(('ring', 'star'), ('cross', 'triangle'))``; None if empty."""
    if text is None or not str(text).strip():
        return None
    return tuple(
        tuple(name.strip() for name in group.split(',') if name.strip())
        for group in str(text).split(';'))


def validate_partial_splits(partial_splits):
    """Validate class-name groups and return them as a tuple of tuples.

    Raises:
        ValueError: no group, an empty group, an unknown class name or a class
            that appears more than once.
    """
    if isinstance(partial_splits, str):
        partial_splits = parse_partial_splits(partial_splits)
    groups = tuple((g, ) if isinstance(g, str) else tuple(g)
                   for g in partial_splits or ())
    if not groups:
        raise ValueError('partial_splits must contain at least one group of '
                         f'class names, got {partial_splits!r}')
    seen = {}
    for i, group in enumerate(groups):
        if not group:
            raise ValueError(f'partial_splits group {i} is empty')
        for name in group:
            if name not in CLASSES:
                raise ValueError(f'unknown class {name!r} in partial_splits '
                                 f'group {i}; known classes: {CLASSES}')
            if name in seen:
                raise ValueError(
                    f'class {name!r} appears in partial_splits group '
                    f'{seen[name]} and group {i}; groups must be disjoint')
            seen[name] = i
    return groups


# ---------------------------------------------------------------------------
# Dataset writer
# ---------------------------------------------------------------------------
def _categories():
    """Return the COCO ``categories`` list (ids 1..4)."""
    return [
        dict(id=i + 1, name=name, supercategory='shape')
        for i, name in enumerate(CLASSES)
    ]


def class_counts(coco):
    """Return ``{class name: number of annotations}`` of a COCO dict."""
    names = {c['id']: c['name'] for c in coco['categories']}
    counts = {name: 0 for name in names.values()}
    for ann in coco['annotations']:
        counts[names[ann['category_id']]] += 1
    return counts


def _check_int(name, value, minimum):
    """Raise ValueError unless ``value`` is an int >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f'{name} must be an integer, got {value!r}')
    if value < minimum:
        raise ValueError(f'{name} must be >= {minimum}, got {value}')
    return int(value)


def _check_size_range(img_size_range):
    """Validate ``(min, max)`` image side lengths and return them as ints."""
    try:
        lo, hi = img_size_range
    except (TypeError, ValueError):
        raise ValueError('img_size_range must be a (min, max) pair, got '
                         f'{img_size_range!r}') from None
    lo = _check_int('img_size_range[0]', lo, 32)
    hi = _check_int('img_size_range[1]', hi, 32)
    if lo > hi:
        raise ValueError(f'img_size_range min {lo} > max {hi}')
    return lo, hi


def _progress(iterable, total, desc, enabled):
    """Wrap ``iterable`` in a tqdm bar (or plain prints) when enabled."""
    if not enabled:
        return iterable
    try:
        from tqdm import tqdm
    except ImportError:
        return _print_progress(iterable, total, desc)
    return tqdm(iterable, total=total, desc=desc)


def _print_progress(iterable, total, desc):
    """Yield from ``iterable``, printing progress about every 10%."""
    step = max(1, total // 10)
    for i, item in enumerate(iterable):
        yield item
        if (i + 1) % step == 0 or i + 1 == total:
            print(f'{desc}: {i + 1}/{total}', flush=True)


def _remove_stale(img_dir, num_images):
    """Delete generator-named PNGs with an index >= ``num_images``."""
    for name in os.listdir(img_dir):
        match = re.fullmatch(r'(\d{6,})\.png', name)
        if match and int(match.group(1)) >= num_images:
            os.remove(osp.join(img_dir, name))


def _write_json(path, data):
    """Write ``data`` as compact, deterministic JSON (atomically, so a reader
    never sees a half-written file while a dataset is regenerated)."""
    tmp = f'{path}.tmp{os.getpid()}'
    with open(tmp, 'w', encoding='utf-8') as f:
        json.dump(data, f, separators=(',', ':'))
        f.write('\n')
    os.replace(tmp, path)


def _write_png(path, img):
    """Write ``img`` as PNG atomically (temporary name, then rename)."""
    tmp = f'{path[:-4]}.tmp{os.getpid()}.png'
    if not cv2.imwrite(tmp, img):
        raise OSError(f'could not write {path}')
    os.replace(tmp, path)


def _generate_split(out_dir, split, num_images, seed, size_range, progress):
    """Render one split and return its fully labelled COCO dict."""
    img_dir = osp.join(out_dir, split)
    os.makedirs(img_dir, exist_ok=True)
    _remove_stale(img_dir, num_images)
    images, annotations = [], []
    for index in _progress(range(num_images), num_images, split, progress):
        rng = image_rng(seed, split, index)
        width = int(rng.integers(size_range[0], size_range[1] + 1))
        height = int(rng.integers(size_range[0], size_range[1] + 1))
        img, objects = render_image(rng, width, height)
        file_name = f'{index:06d}.png'
        _write_png(osp.join(img_dir, file_name), img)
        image_id = index + 1
        images.append(
            dict(id=image_id, file_name=file_name, width=width,
                 height=height))
        for label, box in objects:
            x1, y1, x2, y2 = (round(v, 2) for v in box)
            w, h = round(x2 - x1, 2), round(y2 - y1, 2)
            annotations.append(
                dict(id=len(annotations) + 1, image_id=image_id,
                     category_id=label + 1, bbox=[x1, y1, w, h],
                     area=round(w * h, 2), iscrowd=0))
    info = dict(description=f'centerx_mm embedded shapes dataset ({split})',
                version='1.0', seed=seed)
    return dict(info=info, licenses=[], images=images,
                annotations=annotations, categories=_categories())


def _partial_subsets(num_images, num_parts, seed):
    """Split image ids ``1..num_images`` into ``num_parts`` disjoint, sorted,
    deterministic subsets whose sizes differ by at most one."""
    perm = image_rng(seed, 'partial_splits', num_parts).permutation(num_images)
    return [np.sort(part) + 1 for part in np.array_split(perm, num_parts)]


def generate_shapes_dataset(out_dir,
                            num_train=400,
                            num_val=100,
                            seed=0,
                            img_size_range=(160, 224),
                            partial_splits=None,
                            progress=False):
    """Generate the shapes dataset in COCO format.

    Writes ``out_dir/{train,val}/NNNNNN.png`` and
    ``out_dir/annotations/instances_{train,val}.json``; with
    ``partial_splits`` also ``annotations/instances_train_part{i}.json``:
    the train images are divided into ``len(partial_splits)`` disjoint,
    deterministic subsets (sizes differ by at most one) and subset ``i`` keeps
    only the annotations of the classes in group ``i`` (its images still show
    all classes). Every file has the same 4-class ``categories`` list; partial
    files add ``annotated_classes`` (in :data:`CLASSES` order).

    Args:
        out_dir (str): output directory (created if missing).
        num_train (int): number of train images.
        num_val (int): number of val images.
        seed (int): non-negative base seed.
        img_size_range (tuple[int, int]): inclusive range of image width and
            height (each drawn independently); min must be >= 32.
        partial_splits (sequence[sequence[str]] | str, optional): class-name
            groups, e.g. ``(('ring', 'star'), ('cross', 'triangle'))`` or
            ``"ring,star;cross,triangle"``.
        progress (bool): show a progress bar.

    Returns:
        dict: ``out_dir``, ``ann_files`` (split -> path), ``img_dirs``
        (split -> path), ``partial_ann_files`` (list of paths),
        ``num_images``, ``num_annotations``, ``num_empty_images`` and
        ``class_counts`` (split -> {class: count}); partial splits appear
        under the keys ``train_part{i}``.

    Raises:
        ValueError: on invalid arguments.
    """
    num_train = _check_int('num_train', num_train, 0)
    num_val = _check_int('num_val', num_val, 0)
    seed = _check_int('seed', seed, 0)
    size_range = _check_size_range(img_size_range)
    groups = None
    if partial_splits is not None:
        groups = validate_partial_splits(partial_splits)
        if num_train < len(groups):
            raise ValueError(f'num_train ({num_train}) must be >= the number '
                             f'of partial_splits groups ({len(groups)})')
    out_dir = os.fspath(out_dir)
    if osp.exists(out_dir) and not osp.isdir(out_dir):
        raise ValueError(f'out_dir {out_dir!r} exists and is not a directory')

    ann_dir = osp.join(out_dir, 'annotations')
    os.makedirs(ann_dir, exist_ok=True)
    for name in os.listdir(ann_dir):  # stale partial files of earlier runs
        if re.fullmatch(r'instances_train_part\d+\.json', name):
            os.remove(osp.join(ann_dir, name))

    result = dict(out_dir=out_dir, ann_files={}, img_dirs={},
                  partial_ann_files=[], num_images={}, num_annotations={},
                  num_empty_images={}, class_counts={})

    def record(key, path, coco):
        labelled = {a['image_id'] for a in coco['annotations']}
        result['ann_files'][key] = path
        result['num_images'][key] = len(coco['images'])
        result['num_annotations'][key] = len(coco['annotations'])
        result['num_empty_images'][key] = sum(
            im['id'] not in labelled for im in coco['images'])
        result['class_counts'][key] = class_counts(coco)

    for split, num in (('train', num_train), ('val', num_val)):
        coco = _generate_split(out_dir, split, num, seed, size_range,
                               progress)
        path = osp.join(ann_dir, f'instances_{split}.json')
        _write_json(path, coco)
        result['img_dirs'][split] = osp.join(out_dir, split)
        record(split, path, coco)
        if split == 'train':
            train_coco = coco

    if groups is not None:
        subsets = _partial_subsets(num_train, len(groups), seed)
        for i, (group, ids) in enumerate(zip(groups, subsets)):
            ids = set(ids.tolist())
            cat_ids = {CLASSES.index(name) + 1 for name in group}
            part = dict(
                info=dict(train_coco['info'],
                          description=f'{train_coco["info"]["description"]}'
                          f', partial labels part {i}'),
                licenses=[],
                images=[im for im in train_coco['images'] if im['id'] in ids],
                annotations=[
                    a for a in train_coco['annotations']
                    if a['image_id'] in ids and a['category_id'] in cat_ids
                ],
                categories=_categories(),
                annotated_classes=[c for c in CLASSES if c in group],
                partial_split=dict(index=i, num_parts=len(groups)))
            path = osp.join(ann_dir, f'instances_train_part{i}.json')
            _write_json(path, part)
            result['partial_ann_files'].append(path)
            record(f'train_part{i}', path, part)
    return result
