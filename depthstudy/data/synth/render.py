"""Vectorised ray casting of SynthRooms scenes (numpy, CPU).

Per view, all rays are cast at once. The room box is intersected from inside by every ray (exit
distance of three slabs). Furniture is intersected only where it can be seen: the bounding box
of each primitive is clipped at the near plane and projected into the view, and all (ray,
primitive) pairs inside those pixel rectangles are tested in one flat batch: slab test for boxes
(axis-aligned ones directly, yawed ones in their own frame), quadratic plus the facing cap for
vertical cylinders. The nearest hit per ray is kept with ``np.minimum.at`` (then ``np.maximum.at`` of the
primitive id among a ray's winners, so ties resolve deterministically). The work is thus
proportional to the pixels each object covers, not to (rays x primitives).

Ray directions are (u, v, 1) in camera coordinates, so the ray parameter t is the z-depth
(distance along the optical axis), not the ray length.

Work is done one view at a time on 1-D per-component float32 arrays (numpy, single-threaded).
At these sizes the arrays stay in cache; torch's multi-threaded CPU ops were measured 10-30x
slower on a busy 2-core machine because OpenMP worker threads spin at barriers while other
processes hold the cores. numpy leaves torch's thread settings untouched.

Shading is Lambertian from one point light and one directional "daylight" plus ambient, without
shadows (a second ray cast per pixel would halve generation speed; the study needs depth cues,
not shadows).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from .layout import ROOM_FACES, Scene
from .materials import BANDS, CHECKER, HSTRIPES, NOISE, STRIPES

FOCAL_FRACTION = 0.81
"""fx = fy = 0.81 * width, NYU-like (NYU: 518.8 px at 640 px width)."""
NEAR = 0.05          # metres; near plane for the projected bounding rectangles
PAIR_CHUNK = 65536   # (ray, primitive) pairs per batch, to bound temporary memory
_EPS = 1e-4
_INF = np.float32(np.inf)
_F = np.float32
_FACE_NORMALS = np.array([[0, 0, 1], [0, 0, -1], [1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0]], _F).T.copy()
_CORNERS = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], _F)
_EDGES = np.array([(a, b) for a in range(8) for b in range(a + 1, 8) if bin(a ^ b).count("1") == 1])
Vec = list  # three float32 arrays (x, y, z)


def intrinsics(height: int, width: int) -> tuple[float, float, float, float]:
    """(fx, fy, cx, cy) in pixels; pixel (i, j) has its centre at (j + 0.5, i + 0.5)."""
    f = FOCAL_FRACTION * width
    return f, f, width / 2, height / 2


class _Prims:
    """Scene primitive attributes as 1-D arrays (one entry per primitive), split into ray-casting groups."""

    def __init__(self, scene: Scene):
        f = lambda a: np.ascontiguousarray(a, dtype=_F)  # noqa: E731
        self.kind = scene.kind
        self.cx, self.cy, self.cz = (f(scene.center[:, i]) for i in range(3))
        self.hx, self.hy, self.hz = (f(scene.half[:, i]) for i in range(3))
        safe = np.where(scene.half > 0, scene.half, 1.0)
        self.ihx, self.ihy, self.ihz = (f(1.0 / safe[:, i]) for i in range(3))
        self.cos, self.sin = f(np.cos(scene.yaw)), f(np.sin(scene.yaw))
        self.r, self.g, self.b = (f(scene.color[:, i]) for i in range(3))
        self.pattern = scene.pattern
        self.iscale = f(1.0 / scene.pscale)
        self.contrast, self.phase = f(scene.contrast), f(scene.phase)
        self.emissive, self.ir_drop = f(scene.emissive), f(scene.ir_drop)
        self.tag, self.label = scene.tag, scene.label
        self.major_x = scene.half[:, 0] >= scene.half[:, 1]
        yawed = (scene.kind == 1) & (scene.yaw != 0)
        self.groups = [(np.flatnonzero(m), name) for m, name in (
            ((scene.kind == 1) & ~yawed, "box"), (yawed, "yawed"), (scene.kind == 2, "cylinder")) if m.any()]


def render(scene: Scene, origins: np.ndarray, rotations: np.ndarray, height: int, width: int,
           view_seeds: Sequence[int]) -> dict[str, np.ndarray]:
    """Render V views of ``scene``.

    Args:
        origins: [V,3] camera centres (world, metres); rotations: [V,3,3] camera-to-world.
        view_seeds: one integer per view seeding its sensor noise, exposure and depth holes.
    Returns:
        ``rgb`` uint8 [V,H,W,3]; ``depth`` float32 [V,H,W] z-depth in metres (not clipped);
        ``raw_depth`` float32 [V,H,W] with holes (0); ``label40`` uint8 [V,H,W] 1-based NYU-40.
    """
    prims = _Prims(scene)
    k = intrinsics(height, width)
    u = np.tile(((np.arange(width) + 0.5 - k[2]) / k[0]).astype(_F), height)
    v = np.repeat(((np.arange(height) + 0.5 - k[3]) / k[1]).astype(_F), width)
    vignette = 1 - _F(0.09) * (np.tile(np.linspace(-1, 1, width, dtype=_F), height) ** 2
                               + np.repeat(np.linspace(-1, 1, height, dtype=_F), width) ** 2)
    n = len(origins)
    out = {"rgb": np.empty((n, height, width, 3), np.uint8), "depth": np.empty((n, height, width), _F),
           "raw_depth": np.empty((n, height, width), _F), "label40": np.empty((n, height, width), np.uint8)}
    for i in range(n):
        view = _render_view(scene, prims, np.asarray(origins[i], float), np.asarray(rotations[i], float),
                            u, v, vignette, height, width, k, np.random.default_rng(int(view_seeds[i])))
        for key, value in view.items():
            out[key][i] = value
    return out


def _render_view(scene: Scene, prims: _Prims, o: np.ndarray, rot: np.ndarray, u: np.ndarray, v: np.ndarray,
                 vignette: np.ndarray, h: int, w: int, k: tuple[float, float, float, float],
                 rng: np.random.Generator) -> dict[str, np.ndarray]:
    d = [float(rot[i, 0]) * u + float(rot[i, 1]) * v + _F(rot[i, 2]) for i in range(3)]
    with np.errstate(divide="ignore", invalid="ignore"):
        t, prim = _room_hit(scene.size, o, d)
        inv = [_F(1.0) / di for di in d]
        for ids, name in prims.groups:
            _cast_group(prims, ids, name, o, rot, d, inv, t, prim, h, w, k)
    p = [float(o[i]) + t * d[i] for i in range(3)]
    normal, albedo = _surface(prims, prim, p)
    rgb = _shade(scene, prims, p, normal, albedo, prim, h, w, vignette, rng)
    depth = t.reshape(h, w)
    raw = _raw_depth(prims, depth, normal, d, albedo, prim, rng)
    return {"rgb": rgb, "depth": depth, "raw_depth": raw, "label40": prims.label[prim].reshape(h, w)}


def _room_hit(size: np.ndarray, o: np.ndarray, d: Vec) -> tuple[np.ndarray, np.ndarray]:
    """Exit distance of each ray from the room box and the face it hits (0 floor, 1 ceiling,
    2 wall x=0, 3 wall x=W, 4 wall y=0, 5 wall y=D)."""
    ts = [np.maximum(_F(size[i] - o[i]) / d[i], _F(-o[i]) / d[i]) for i in range(3)]
    t = np.minimum(np.minimum(ts[0], ts[1]), ts[2])
    face = np.where(ts[0] == t, (d[0] > 0) + 2, np.where(ts[1] == t, (d[1] > 0) + 4, (d[2] > 0) + 0))
    return t, face.astype(np.int64)


def _cast_group(prims: _Prims, ids: np.ndarray, name: str, o: np.ndarray, rot: np.ndarray, d: Vec, inv: Vec,
                t: np.ndarray, prim: np.ndarray, h: int, w: int, k: tuple[float, float, float, float]) -> None:
    """Intersect the rays with one group of primitives; update ``t`` and ``prim`` in place."""
    ray, local = _candidate_pairs(prims, ids, o, rot, h, w, k)
    rel = [_F(o[0]) - prims.cx[ids], _F(o[1]) - prims.cy[ids], _F(o[2]) - prims.cz[ids]]     # [B] each
    half = [prims.hx[ids], prims.hy[ids], prims.hz[ids]]
    for start in range(0, len(ray), PAIR_CHUNK):
        r, b = ray[start:start + PAIR_CHUNK], local[start:start + PAIR_CHUNK]
        if name == "box":
            tp = _box_t([x[b] for x in rel], [x[b] for x in half], [x[r] for x in inv])
        elif name == "yawed":
            c, s = prims.cos[ids][b], prims.sin[ids][b]
            rx, ry = rel[0][b], rel[1][b]
            dx, dy = d[0][r], d[1][r]
            dl = [c * dx + s * dy, c * dy - s * dx, d[2][r]]
            tp = _box_t([c * rx + s * ry, c * ry - s * rx, rel[2][b]], [x[b] for x in half], [1 / x for x in dl])
        else:
            tp = _cylinder_t([x[b] for x in rel], half[0][b], half[2][b], [x[r] for x in d])
        hit = np.flatnonzero(tp < _INF)
        r, tp, gid = r[hit], tp[hit], ids[b[hit]]
        np.minimum.at(t, r, tp)
        win = tp == t[r]
        np.maximum.at(prim, r[win], gid[win])


def _candidate_pairs(prims: _Prims, ids: np.ndarray, o: np.ndarray, rot: np.ndarray, h: int, w: int,
                     k: tuple[float, float, float, float]) -> tuple[np.ndarray, np.ndarray]:
    """(ray index, primitive index within ``ids``) for every pixel inside each primitive's projected bounds."""
    fx, fy, cx, cy = k
    half = np.stack([prims.hx[ids], prims.hy[ids], prims.hz[ids]], 1).astype(float)
    cs, sn = prims.cos[ids][:, None], prims.sin[ids][:, None]
    loc = _CORNERS[None] * half[:, None]                                    # [B,8,3]
    world = np.stack([cs * loc[..., 0] - sn * loc[..., 1] + prims.cx[ids][:, None],
                      sn * loc[..., 0] + cs * loc[..., 1] + prims.cy[ids][:, None],
                      loc[..., 2] + prims.cz[ids][:, None]], -1)
    cam = (world - o) @ rot                                                 # [B,8,3] camera coordinates
    a, b = cam[:, _EDGES[:, 0]], cam[:, _EDGES[:, 1]]
    za, zb = a[..., 2:], b[..., 2:]
    with np.errstate(divide="ignore", invalid="ignore"):
        cut = a + np.clip((NEAR - za) / (zb - za), 0, 1) * (b - a)           # edges clipped at the near plane
    pts = np.concatenate([cam, cut], 1)
    valid = np.concatenate([cam[..., 2] >= NEAR, ((za - NEAR) * (zb - NEAR) < 0)[..., 0]], 1)
    z = np.maximum(pts[..., 2], NEAR)
    uu = np.clip(fx * pts[..., 0] / z + cx, -1e6, 1e6)
    vv = np.clip(fy * pts[..., 1] / z + cy, -1e6, 1e6)
    c0 = np.clip(np.ceil(np.where(valid, uu, np.inf).min(1) - 0.5) - 1, 0, w - 1)
    c1 = np.clip(np.floor(np.where(valid, uu, -np.inf).max(1) - 0.5) + 1, -1, w - 1)
    r0 = np.clip(np.ceil(np.where(valid, vv, np.inf).min(1) - 0.5) - 1, 0, h - 1)
    r1 = np.clip(np.floor(np.where(valid, vv, -np.inf).max(1) - 0.5) + 1, -1, h - 1)
    seen = valid.any(1)
    nw = np.where(seen, np.maximum(c1 - c0 + 1, 0), 0).astype(np.int64)
    nh = np.where(seen, np.maximum(r1 - r0 + 1, 0), 0).astype(np.int64)
    counts = nw * nh
    local = np.repeat(np.arange(len(counts)), counts)
    offset = np.arange(len(local)) - (np.cumsum(counts) - counts)[local]
    width = nw[local]
    row = r0.astype(np.int64)[local] + offset // width
    col = c0.astype(np.int64)[local] + offset % width
    return row * w + col, local


def _box_t(rel: Vec, half: Vec, inv: Vec) -> np.ndarray:
    """Slab test. rel = origin - centre in the box frame, half extents, 1/direction; t per pair (inf = miss)."""
    t1 = [(-half[i] - rel[i]) * inv[i] for i in range(3)]
    t2 = [(half[i] - rel[i]) * inv[i] for i in range(3)]
    near = np.maximum(np.maximum(np.minimum(t1[0], t2[0]), np.minimum(t1[1], t2[1])), np.minimum(t1[2], t2[2]))
    far = np.minimum(np.minimum(np.maximum(t1[0], t2[0]), np.maximum(t1[1], t2[1])), np.maximum(t1[2], t2[2]))
    return np.where((near <= far) & (near > _EPS), near, _INF)


def _cylinder_t(rel: Vec, r: np.ndarray, hz: np.ndarray, d: Vec) -> np.ndarray:
    """Vertical cylinders: side by the quadratic, the cap facing the camera by a plane test; t per pair."""
    ox, oy, oz = rel
    a = d[0] * d[0] + d[1] * d[1]
    bh = ox * d[0] + oy * d[1]
    disc = bh * bh - a * (ox * ox + oy * oy - r * r)
    ts = (-bh - np.sqrt(np.maximum(disc, 0))) / a
    side = (disc >= 0) & (ts > _EPS) & (np.abs(oz + ts * d[2]) <= hz)
    tc = (np.where(oz > 0, hz, -hz) - oz) / d[2]
    px, py = ox + tc * d[0], oy + tc * d[1]
    cap = (tc > _EPS) & (px * px + py * py <= r * r) & (np.abs(oz) > hz)
    return np.minimum(np.where(side, ts, _INF), np.where(cap, tc, _INF))


def _surface(prims: _Prims, prim: np.ndarray, p: Vec) -> tuple[Vec, Vec]:
    """World normals and textured albedo (three arrays [N] each) at hit points ``p``."""
    kind = prims.kind[prim]
    c, s = prims.cos[prim], prims.sin[prim]
    rx, ry = p[0] - prims.cx[prim], p[1] - prims.cy[prim]
    q = [c * rx + s * ry, c * ry - s * rx, p[2] - prims.cz[prim]]
    n = _local_normal(prims, kind, prim, q)
    normal = [c * n[0] - s * n[1], s * n[0] + c * n[1], n[2]]
    dot = q[0] * n[0] + q[1] * n[1] + q[2] * n[2]
    return normal, _albedo(prims, prim, [q[i] - dot * n[i] for i in range(3)])


def _local_normal(prims: _Prims, kind: np.ndarray, prim: np.ndarray, q: Vec) -> Vec:
    """Outward normal in the primitive's frame: room faces from a table (pointing into the room),
    box face of largest |q|/half, cylinder cap or side (computed on the furniture rays only)."""
    n = [row[np.minimum(prim, ROOM_FACES - 1)] for row in _FACE_NORMALS]
    sub = np.flatnonzero(kind > 0)
    if len(sub) == 0:
        return n
    ps, qs = prim[sub], [qi[sub] for qi in q]
    ax, ay, az = np.abs(qs[0]) * prims.ihx[ps], np.abs(qs[1]) * prims.ihy[ps], np.abs(qs[2]) * prims.ihz[ps]
    is_x = (ax >= ay) & (ax >= az)
    is_y = ~is_x & (ay >= az)
    is_cyl = kind[sub] == 2
    cap = is_cyl & (az >= 1 - 1e-3)
    side = is_cyl & ~cap
    zero = _F(0)
    n[0][sub] = np.where(side, qs[0] * prims.ihx[ps], np.where(is_x & ~cap, np.sign(qs[0]), zero))
    n[1][sub] = np.where(side, qs[1] * prims.ihx[ps], np.where(is_y & ~cap & ~is_cyl, np.sign(qs[1]), zero))
    n[2][sub] = np.where(side, zero, np.where((~(is_x | is_y) & ~is_cyl) | cap, np.sign(qs[2]), zero))
    return n


def _albedo(prims: _Prims, prim: np.ndarray, q: Vec) -> Vec:
    """Base colour times the primitive's procedural pattern at surface coordinates ``q`` (metres).

    STRIPES and BANDS vary along the primitive's longer horizontal axis, HSTRIPES along height,
    CHECKER and NOISE over all three coordinates (the normal component removed).
    """
    pattern = prims.pattern[prim]
    iscale, phase = prims.iscale[prim], prims.phase[prim]
    x, y, z = (qi * iscale for qi in q)
    tau = _F(2 * math.pi)
    major = np.where(prims.major_x[prim], x, y)
    value = np.sin(tau * np.where(pattern == HSTRIPES, z, major) + phase)
    noise = (np.sin(tau * (_F(0.8) * x + _F(0.6) * y + _F(0.3) * z) + phase)
             * np.sin(tau * (_F(-0.5) * x + _F(0.9) * y + _F(0.7) * z) + 2 * phase))
    value = np.where(pattern == NOISE, noise, value)
    checker = 2 * ((np.floor(x) + np.floor(y) + np.floor(z)) % 2) - 1
    value = np.where(pattern == CHECKER, checker, value)
    textured = (pattern == STRIPES) | (pattern == HSTRIPES) | (pattern == NOISE) | (pattern == CHECKER)
    factor = 1 + prims.contrast[prim] * np.where(textured, value, _F(0))
    albedo = [np.clip(col[prim] * factor, 0, 1) for col in (prims.r, prims.g, prims.b)]
    books = np.flatnonzero(pattern == BANDS)
    if len(books):
        rgb = _band_colors(np.floor(major[books]).astype(np.int64), prims.tag[prim[books]])
        for i, col in enumerate((prims.r, prims.g, prims.b)):
            albedo[i][books] = np.clip(col[prim[books]] * (_F(0.4) + _F(1.2) * rgb[i]), 0, 1)
    return albedo


def _band_colors(band: np.ndarray, tag: np.ndarray) -> Vec:
    """Integer hash of (band index, primitive tag) to RGB factors in [0, 1] (exact, platform-independent)."""
    mask = 0xFFFFFFFF
    hsh = ((band * 73856093) ^ (tag * 19349663)) & mask
    for _ in range(2):
        hsh = (((hsh >> 16) ^ hsh) * 0x45D9F3B) & mask
    return [((hsh >> s) & 255).astype(_F) / _F(255) for s in (0, 8, 16)]


def _shade(scene: Scene, prims: _Prims, p: Vec, normal: Vec, albedo: Vec, prim: np.ndarray, h: int, w: int,
           vignette: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Lambertian point light + daylight + ambient, exposure, tint, ``vignette`` [N], sensor noise; uint8 [H,W,3]."""
    lx, ly, lz = (_F(scene.light[i]) - p[i] for i in range(3))
    dist2 = lx * lx + ly * ly + lz * lz
    lambert = np.maximum((normal[0] * lx + normal[1] * ly + normal[2] * lz) / np.sqrt(dist2), 0)
    sx, sy, sz = (-_F(x) for x in scene.sun)
    sun = np.maximum(normal[0] * sx + normal[1] * sy + normal[2] * sz, 0)
    shade = _F(0.32) + _F(0.85) * lambert / (1 + dist2 / _F(12)) + _F(0.22) * sun
    emissive = prims.emissive[prim]
    light = shade * (1 - emissive) + emissive
    light *= vignette * _F(0.95 + 0.35 * rng.random())
    tint = 1 + 0.06 * (rng.random(3) - 0.5)
    rgb = np.empty((h * w, 3), np.uint8)
    for i in range(3):
        value = albedo[i] * light * _F(tint[i]) + _F(0.012) * rng.standard_normal(h * w, dtype=_F)
        rgb[:, i] = np.rint(np.clip(value, 0, 1) * 255)
    return rgb.reshape(h, w, 3)


def _raw_depth(prims: _Prims, depth: np.ndarray, normal: Vec, d: Vec, albedo: Vec, prim: np.ndarray,
               rng: np.random.Generator) -> np.ndarray:
    """Depth [H,W] with Kinect-like holes (0).

    Holes: (1) depth discontinuities (a 4-neighbour step > 3 cm + 4 % of depth), widened one pixel
    horizontally (projector/camera baseline shadow), 85 % of them; (2) oblique surfaces (|cos| below
    0.2, always below 0.05); (3) IR-defeating materials (glass, mirror, screens) and dark albedo
    (luminance < 0.1); (4) 0-3 random elliptical blobs; (5) range: nearer than 0.5 m or farther than a
    per-view limit drawn in [8, 9] m.
    """
    h, w = depth.shape
    pad = np.pad(depth, 1, mode="edge")
    step = np.maximum(np.maximum(np.abs(pad[1:-1, :-2] - depth), np.abs(pad[1:-1, 2:] - depth)),
                      np.maximum(np.abs(pad[:-2, 1:-1] - depth), np.abs(pad[2:, 1:-1] - depth)))
    edge = step > _F(0.03) + _F(0.04) * depth
    edge[:, 1:] |= edge[:, :-1].copy()
    edge[:, :-1] |= edge[:, 1:].copy()
    dot = normal[0] * d[0] + normal[1] * d[1] + normal[2] * d[2]
    cos = (np.abs(dot) / np.sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2])).reshape(h, w)
    lum = (_F(0.299) * albedo[0] + _F(0.587) * albedo[1] + _F(0.114) * albedo[2]).reshape(h, w)
    p_ir = np.maximum(prims.ir_drop[prim].reshape(h, w), np.clip((_F(0.1) - lum) / _F(0.08), 0, 1) * _F(0.8))
    r = rng.random((3, h, w), dtype=_F)
    hole = (edge & (r[0] < 0.85)) | (r[1] < np.clip((_F(0.2) - cos) / _F(0.15), 0, 1)) | (r[2] < p_ir)
    yy = np.arange(h, dtype=_F)[:, None]
    xx = np.arange(w, dtype=_F)[None, :]
    for b in rng.random((int(rng.integers(0, 4)), 4)):
        ry, rx = (0.02 + 0.06 * b[2]) * w, (0.02 + 0.06 * b[3]) * w
        hole |= ((yy - _F(b[0] * h)) / _F(ry)) ** 2 + ((xx - _F(b[1] * w)) / _F(rx)) ** 2 <= 1
    hole |= (depth > 8.0 + rng.random()) | (depth < 0.5)
    return np.where(hole, _F(0), depth)
