// Colour scales and the drawing of the server's uint8 maps onto canvases.
// The scale is TF Playground's: orange for -1 (class 0), near-white at 0, blue for +1 (class 1).

const ORANGE = [245, 147, 34];
const MIDDLE = [232, 234, 235];
const BLUE = [8, 119, 189];
const WHITE = [255, 255, 255];

/** Six distinguishable class colours; the first two are the binary scale's ends. */
export const CLASS_COLORS = [
  [245, 147, 34], [8, 119, 189], [49, 163, 84], [117, 107, 177], [231, 41, 138], [140, 109, 49],
];

function mix(a, b, t) {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
}

// 256 colours for t in [-1, 1], so a pixel costs one table look-up.
const DIVERGING = Array.from({ length: 256 }, (_, i) => {
  const t = (i / 255) * 2 - 1;
  return t < 0 ? mix(MIDDLE, ORANGE, -t) : mix(MIDDLE, BLUE, t);
});

function lutIndex(t) {
  const clamped = Math.max(-1, Math.min(1, Number.isFinite(t) ? t : 0));
  return Math.round((clamped + 1) * 127.5);
}

/** The colour of t in [-1, 1] as [r, g, b]. */
export function divergingRgb(t) {
  return DIVERGING[lutIndex(t)];
}

/** The colour of t in [-1, 1] as a CSS colour. */
export function divergingCss(t) {
  const [r, g, b] = divergingRgb(t);
  return `rgb(${r | 0},${g | 0},${b | 0})`;
}

export function classCss(k, alpha = 1) {
  const [r, g, b] = CLASS_COLORS[k % CLASS_COLORS.length];
  return alpha === 1 ? `rgb(${r},${g},${b})` : `rgba(${r},${g},${b},${alpha})`;
}

/** The maps of a frame by name: {name, lo, hi, grid, data (G*G uint8, row 0 = largest y)}. */
export function decodeMaps(header, payload) {
  const grid = header.grid;
  const size = grid * grid;
  const maps = new Map();
  (header.maps || []).forEach((info, k) => {
    const data = payload.subarray(k * size, (k + 1) * size);
    if (data.length === size) maps.set(info.name, { ...info, grid, data });
  });
  return maps;
}

/** The real value of one quantised cell. */
export function mapValue(map, q) {
  return map.lo + (q / 255) * (map.hi - map.lo);
}

function imageFor(canvas, grid) {
  if (canvas.width !== grid || canvas.height !== grid) {
    canvas.width = grid;
    canvas.height = grid;
  }
  const context = canvas.getContext("2d");
  return { context, image: context.createImageData(grid, grid) };
}

function fill(image, pixel, rgb) {
  const o = pixel * 4;
  image.data[o] = rgb[0];
  image.data[o + 1] = rgb[1];
  image.data[o + 2] = rgb[2];
  image.data[o + 3] = 255;
}

/**
 * A neuron's or a feature's map on its own canvas (canvas size = grid): coloured by
 * value / max(|lo|, |hi|), so the sign of the activation reads as orange or blue.
 */
export function paintSymmetric(canvas, map, negate = false) {
  const { context, image } = imageFor(canvas, map.grid);
  const scale = (Math.max(Math.abs(map.lo), Math.abs(map.hi)) || 1) * (negate ? -1 : 1);
  // The colour of each of the 256 levels, computed once per map.
  const levels = Array.from({ length: 256 }, (_, q) => divergingRgb(mapValue(map, q) / scale));
  for (let i = 0; i < map.data.length; i += 1) fill(image, i, levels[map.data[i]]);
  context.putImageData(image, 0, 0);
}

/** Blank a canvas (a map the last frame did not have). */
export function paintBlank(canvas) {
  const context = canvas.getContext("2d");
  context.fillStyle = "#f3f4f5";
  context.fillRect(0, 0, canvas.width, canvas.height);
}

/**
 * The output picture (canvas size = grid). Binary classification: the `output` map's value in
 * [-1, 1]; regression: the value over `range` (the targets' [min, max], so that the map and the
 * points share one scale; without it the map's own [lo, hi]); several classes: the `class-K`
 * maps, each pixel the most probable class's colour, paler where that probability is low.
 * `lighten` mixes in white so the points on top stay visible.
 */
export function paintOutput(canvas, maps, problem, { discretise = false, lighten = 0, range = null } = {}) {
  const classMaps = [];
  for (let k = 0; maps.has(`class-${k}`); k += 1) classMaps.push(maps.get(`class-${k}`));
  if (problem !== "regression" && classMaps.length > 2) {
    paintClasses(canvas, classMaps, discretise, lighten);
    return true;
  }
  const output = maps.get("output") || binaryFromClasses(classMaps);
  if (!output) return false;
  const { context, image } = imageFor(canvas, output.grid);
  const [low, high] = range && range[1] > range[0] ? range : [output.lo, output.hi];
  const levels = Array.from({ length: 256 }, (_, q) => {
    let t = problem === "regression"
      ? (high > low ? ((mapValue(output, q) - low) / (high - low)) * 2 - 1 : 0)
      : mapValue(output, q);
    if (discretise) t = problem === "regression" ? Math.round(t * 5) / 5 : (t < 0 ? -1 : 1);
    return mix(divergingRgb(t), WHITE, lighten);
  });
  for (let i = 0; i < output.data.length; i += 1) fill(image, i, levels[output.data[i]]);
  context.putImageData(image, 0, 0);
  return true;
}

// Two class maps without an `output` map: 2p - 1 from class 1's probability.
function binaryFromClasses(classMaps) {
  if (classMaps.length !== 2) return null;
  const p = classMaps[1];
  return { ...p, lo: 2 * p.lo - 1, hi: 2 * p.hi - 1 };
}

function paintClasses(canvas, classMaps, discretise, lighten) {
  const { grid } = classMaps[0];
  const { context, image } = imageFor(canvas, grid);
  const count = classMaps.length;
  const chance = 1 / count;
  for (let i = 0; i < grid * grid; i += 1) {
    let best = 0;
    let bestP = -Infinity;
    for (let k = 0; k < count; k += 1) {
      const p = mapValue(classMaps[k], classMaps[k].data[i]);
      if (p > bestP) { bestP = p; best = k; }
    }
    // Confidence 0 at chance level, 1 at certainty.
    const confidence = discretise ? 0.85 : Math.max(0, Math.min(1, (bestP - chance) / (1 - chance)));
    const colour = mix(WHITE, CLASS_COLORS[best % CLASS_COLORS.length], 0.15 + 0.85 * confidence);
    fill(image, i, mix(colour, WHITE, lighten));
  }
  context.putImageData(image, 0, 0);
}

/**
 * A feature's picture computed in the page from the domain, for a feature that is switched off
 * (the server sends maps only of the network's inputs). Same layout as the server's maps.
 */
export function paintFeature(canvas, name, domain, grid = 32) {
  const f = FEATURE_FUNCTIONS[name];
  if (!f || !domain) { paintBlank(canvas); return; }
  const [xmin, xmax, ymin, ymax] = domain;
  const values = new Float32Array(grid * grid);
  let scale = 0;
  for (let row = 0; row < grid; row += 1) {
    const y = ymax - ((row + 0.5) / grid) * (ymax - ymin);
    for (let col = 0; col < grid; col += 1) {
      const x = xmin + ((col + 0.5) / grid) * (xmax - xmin);
      const v = f(x, y);
      values[row * grid + col] = v;
      scale = Math.max(scale, Math.abs(v));
    }
  }
  const { context, image } = imageFor(canvas, grid);
  for (let i = 0; i < values.length; i += 1) fill(image, i, divergingRgb(values[i] / (scale || 1)));
  context.putImageData(image, 0, 0);
}

const FEATURE_FUNCTIONS = {
  x1: (x) => x,
  x2: (x, y) => y,
  x1sq: (x) => x * x,
  x2sq: (x, y) => y * y,
  x1x2: (x, y) => x * y,
  sinx1: (x) => Math.sin(x),
  sinx2: (x, y) => Math.sin(y),
};
