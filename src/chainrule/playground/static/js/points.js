// The output map: the network's picture of the plane with the data points on top, and the
// user's own points (click to add or select, shift-click to delete, drag to move; by keyboard,
// the arrow keys move a crosshair and Enter adds a point there).

import { classCss, divergingCss } from "./heatmap.js";

const RADIUS = 3.5;  // CSS px
const PICK = 6;      // CSS px: a click this close to a point is on the point
const DRAG = 3;      // CSS px of movement that turn a click into a drag
const KEY_STEPS = 40; // arrow-key presses across the map (Shift: five times larger steps)

export class OutputMap {
  /**
   * `actions`: select(i), add(x, y), move(i, x, y), remove(i); label() (optional) the label a
   * new point gets, to colour the keyboard crosshair.
   */
  constructor(canvas, actions) {
    this.canvas = canvas;
    this.actions = actions;
    this.image = null;       // a grid-sized canvas of the output
    this.points = [];
    this.domain = [-6, 6, -6, 6];
    this.problem = "classification";
    this.valueRange = [-1, 1];
    this.showTest = false;
    this.selected = null;
    this.drag = null;
    this.cursor = null;      // the keyboard crosshair [px, py] in CSS px, or null
    this.cursorText = document.getElementById("output-map-cursor");
    this.resize();
    canvas.addEventListener("pointerdown", (event) => this.pointerDown(event));
    canvas.addEventListener("pointermove", (event) => this.pointerMove(event));
    canvas.addEventListener("pointerup", (event) => this.pointerUp(event));
    canvas.addEventListener("pointercancel", () => { this.drag = null; this.draw(); });
    canvas.addEventListener("keydown", (event) => this.keyDown(event));
    // Reached by Tab: show the crosshair at once (a click focuses without it).
    canvas.addEventListener("focus", () => {
      if (!this.cursor && canvas.matches(":focus-visible")) this.moveCursor(0, 0);
    });
    canvas.addEventListener("blur", () => this.hideCursor());
  }

  // The drawing buffer at the screen's pixel density, so points stay crisp.
  resize() {
    const ratio = window.devicePixelRatio || 1;
    const size = this.canvas.clientWidth || 300;
    this.scale = ratio;
    this.canvas.width = Math.round(size * ratio);
    this.canvas.height = Math.round(size * ratio);
  }

  setData({ points, domain, problem }) {
    this.points = points || [];
    this.domain = domain || this.domain;
    this.problem = problem;
    if (this.selected !== null && this.selected >= this.points.length) this.selected = null;
    if (problem === "regression" && this.points.length) {
      // The targets' range: the output map is coloured on the same scale.
      this.valueRange = this.points.reduce(([lo, hi], p) => [Math.min(lo, p[2]), Math.max(hi, p[2])],
        [Infinity, -Infinity]);
    }
    this.draw();
  }

  setImage(image) {
    this.image = image;
    this.draw();
  }

  select(index) {
    this.selected = index;
    this.draw();
  }

  // ---- coordinates: CSS px on the canvas <-> data ----

  toData(px, py) {
    const [xmin, xmax, ymin, ymax] = this.domain;
    const size = this.canvas.clientWidth;
    return [xmin + (px / size) * (xmax - xmin), ymax - (py / size) * (ymax - ymin)];
  }

  toPixel(x, y) {
    const [xmin, xmax, ymin, ymax] = this.domain;
    const size = this.canvas.clientWidth;
    return [((x - xmin) / (xmax - xmin)) * size, ((ymax - y) / (ymax - ymin)) * size];
  }

  visible(point) {
    return point[3] === 0 || this.showTest;
  }

  /** The index of the visible point nearest (px, py) within PICK, or null. */
  pick(px, py) {
    let best = null;
    let bestDistance = PICK;
    this.points.forEach((point, i) => {
      if (!this.visible(point)) return;
      const [qx, qy] = this.toPixel(point[0], point[1]);
      const distance = Math.hypot(qx - px, qy - py);
      if (distance <= bestDistance) { best = i; bestDistance = distance; }
    });
    return best;
  }

  // ---- pointer handling ----

  pointerDown(event) {
    if (event.button !== 0) return;
    this.hideCursor();
    const { offsetX: px, offsetY: py } = event;
    this.drag = { index: this.pick(px, py), startX: px, startY: py, x: px, y: py, moved: false };
    this.canvas.setPointerCapture(event.pointerId);
  }

  pointerMove(event) {
    if (!this.drag) {
      this.canvas.style.cursor = this.pick(event.offsetX, event.offsetY) !== null ? "pointer" : "crosshair";
      return;
    }
    const drag = this.drag;
    drag.x = Math.max(0, Math.min(this.canvas.clientWidth, event.offsetX));
    drag.y = Math.max(0, Math.min(this.canvas.clientHeight, event.offsetY));
    if (Math.hypot(drag.x - drag.startX, drag.y - drag.startY) > DRAG) drag.moved = true;
    if (drag.moved && drag.index !== null) {
      this.canvas.style.cursor = "grabbing";
      this.draw();
    }
  }

  pointerUp(event) {
    const drag = this.drag;
    this.drag = null;
    if (!drag) return;
    if (drag.index !== null) {
      if (drag.moved) {
        const [x, y] = this.toData(drag.x, drag.y);
        this.actions.move(drag.index, x, y);
      } else if (event.shiftKey) {
        this.selected = null;
        this.actions.remove(drag.index);
      } else {
        this.selected = drag.index;
        this.actions.select(drag.index);
      }
    } else if (!drag.moved) {
      const [x, y] = this.toData(drag.startX, drag.startY);
      this.actions.add(x, y);
    }
    this.draw();
  }

  // ---- keyboard: a crosshair moved by the arrow keys, Enter (or Space) adds a point ----

  keyDown(event) {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    const moves = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
    if (event.key in moves) {
      event.preventDefault();
      const [dx, dy] = moves[event.key];
      const step = event.shiftKey ? 5 : 1;
      this.moveCursor(dx * step, dy * step);
    } else if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      if (!this.cursor) {
        this.moveCursor(0, 0);  // first show where the point would go
        return;
      }
      const [x, y] = this.toData(...this.cursor);
      this.actions.add(x, y);
      if (this.cursorText) this.cursorText.textContent = `point added at (${x.toFixed(2)}, ${y.toFixed(2)})`;
    } else if (event.key === "Escape" && this.cursor) {
      event.preventDefault();
      this.hideCursor();
    }
  }

  /** Move the crosshair by steps of 1/KEY_STEPS of the map (from the centre when hidden). */
  moveCursor(dx, dy) {
    const size = this.canvas.clientWidth || 300;
    const step = size / KEY_STEPS;
    const [px, py] = this.cursor || [size / 2, size / 2];
    const clamp = (v) => Math.max(0, Math.min(size, v));
    this.cursor = [clamp(px + dx * step), clamp(py + dy * step)];
    const [x, y] = this.toData(...this.cursor);
    if (this.cursorText) this.cursorText.textContent = `crosshair at (${x.toFixed(2)}, ${y.toFixed(2)})`;
    this.draw();
  }

  hideCursor() {
    if (!this.cursor) return;
    this.cursor = null;
    if (this.cursorText) this.cursorText.textContent = "";
    this.draw();
  }

  // ---- drawing ----

  pointColour(label) {
    if (this.problem === "regression") {
      const [lo, hi] = this.valueRange;
      return divergingCss(hi > lo ? ((label - lo) / (hi - lo)) * 2 - 1 : 0);
    }
    return classCss(label);
  }

  draw() {
    const context = this.canvas.getContext("2d");
    const { width, height } = this.canvas;
    context.setTransform(1, 0, 0, 1, 0, 0);
    context.clearRect(0, 0, width, height);
    if (this.image) {
      context.imageSmoothingEnabled = true;
      context.drawImage(this.image, 0, 0, width, height);
    } else {
      context.fillStyle = "#f3f4f5";
      context.fillRect(0, 0, width, height);
    }
    context.setTransform(this.scale, 0, 0, this.scale, 0, 0);
    // Test points first, so training points (the ones learnt from) lie on top.
    const order = [...this.points.keys()].sort((a, b) => this.points[b][3] - this.points[a][3]);
    for (const i of order) {
      const point = this.points[i];
      if (!this.visible(point)) continue;
      let [px, py] = this.toPixel(point[0], point[1]);
      if (this.drag && this.drag.moved && this.drag.index === i) [px, py] = [this.drag.x, this.drag.y];
      // A faint dark halo keeps pale points (regression values near the middle) visible.
      context.beginPath();
      context.arc(px, py, RADIUS + 1, 0, 2 * Math.PI);
      context.fillStyle = "rgba(0, 0, 0, 0.28)";
      context.fill();
      context.beginPath();
      context.arc(px, py, RADIUS, 0, 2 * Math.PI);
      context.fillStyle = this.pointColour(point[2]);
      context.fill();
      context.lineWidth = 1;
      context.strokeStyle = point[3] === 0 ? "#ffffff" : "#000000";
      context.stroke();
    }
    this.drawSelection(context);
    this.drawCursor(context);
  }

  drawCursor(context) {
    if (!this.cursor) return;
    const [px, py] = this.cursor;
    const size = this.canvas.clientWidth;
    context.save();
    // Dashed lines across the map, white under black so they show on any colour.
    const cross = (colour, width) => {
      context.beginPath();
      context.moveTo(0, Math.round(py) + 0.5);
      context.lineTo(size, Math.round(py) + 0.5);
      context.moveTo(Math.round(px) + 0.5, 0);
      context.lineTo(Math.round(px) + 0.5, size);
      context.strokeStyle = colour;
      context.lineWidth = width;
      context.stroke();
    };
    cross("rgba(255, 255, 255, 0.8)", 3);
    context.setLineDash([4, 3]);
    cross("rgba(0, 0, 0, 0.7)", 1);
    context.setLineDash([]);
    // The point to be added: the chosen class's colour in a ring.
    const label = this.actions.label ? this.actions.label() : null;
    context.beginPath();
    context.arc(px, py, RADIUS + 1.5, 0, 2 * Math.PI);
    context.fillStyle = label === null ? "#fff" : this.pointColour(label);
    context.fill();
    context.lineWidth = 2;
    context.strokeStyle = "#111";
    context.stroke();
    // Its coordinates, on a white tag placed away from the map's edges.
    const [x, y] = this.toData(px, py);
    const text = `(${x.toFixed(2)}, ${y.toFixed(2)})  Enter adds`;
    context.font = "11px system-ui, sans-serif";
    const width = context.measureText(text).width + 8;
    const tx = px + 10 + width > size ? px - 10 - width : px + 10;
    const ty = py - 24 < 0 ? py + 8 : py - 24;
    context.fillStyle = "rgba(255, 255, 255, 0.92)";
    context.fillRect(tx, ty, width, 16);
    context.strokeStyle = "rgba(0, 0, 0, 0.35)";
    context.lineWidth = 1;
    context.strokeRect(tx + 0.5, ty + 0.5, width - 1, 15);
    context.fillStyle = "#222";
    context.textBaseline = "middle";
    context.fillText(text, tx + 4, ty + 8.5);
    context.restore();
  }

  drawSelection(context) {
    const point = this.selected !== null ? this.points[this.selected] : null;
    if (!point) return;
    const [px, py] = this.toPixel(point[0], point[1]);
    context.beginPath();
    context.arc(px, py, RADIUS + 4, 0, 2 * Math.PI);
    context.lineWidth = 2;
    context.strokeStyle = "#111";
    context.stroke();
    context.beginPath();
    context.arc(px, py, RADIUS + 6, 0, 2 * Math.PI);
    context.lineWidth = 1.5;
    context.strokeStyle = "#fff";
    context.stroke();
  }

  /** "training point 3 at (1.20, -0.50), class 1" (the class's name when there is one). */
  describe(index, classNames = []) {
    const point = this.points[index];
    if (!point) return "";
    const part = point[3] === 0 ? "training" : "test";
    const name = classNames[point[2]];
    const label = this.problem === "regression" ? `value ${Number(point[2]).toPrecision(4)}`
      : (name !== undefined ? String(name) : `class ${point[2]}`);
    return `${part} point ${index} at (${point[0].toFixed(2)}, ${point[1].toFixed(2)}), ${label}`;
  }
}
