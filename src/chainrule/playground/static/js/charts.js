// The loss curve (training and test) and the per-layer gradient-norm bars.

const MAX_HISTORY = 5000;  // points kept; older ones thinned so a long run stays cheap

export class LossChart {
  constructor(canvas) {
    this.canvas = canvas;
    this.history = [];  // [epoch, train, test]
    this.fit();
    // The drawing buffer follows the canvas's CSS size (the layout changes with the window).
    new ResizeObserver(() => { if (this.fit()) this.draw(); }).observe(canvas);
  }

  fit() {
    const { canvas } = this;
    const ratio = window.devicePixelRatio || 1;
    const width = Math.round(canvas.clientWidth * ratio);
    const height = Math.round(canvas.clientHeight * ratio);
    this.ratio = ratio;
    if (!width || !height || (width === canvas.width && height === canvas.height)) return false;
    canvas.width = width;
    canvas.height = height;
    return true;
  }

  setHistory(history) {
    this.history = (history || []).map((row) => [...row]);
    this.draw();
  }

  /** Add one frame's numbers; an epoch not after the last one (a reset) restarts the curve. */
  add(epoch, train, test) {
    const last = this.history[this.history.length - 1];
    if (last && epoch < last[0]) this.history = [];
    if (last && epoch === last[0]) this.history[this.history.length - 1] = [epoch, train, test];
    else this.history.push([epoch, train, test]);
    if (this.history.length > MAX_HISTORY) this.history = this.history.filter((_, i) => i % 2 === 0);
    this.draw();
  }

  draw() {
    const { canvas, history, ratio } = this;
    const context = canvas.getContext("2d");
    const width = canvas.width / ratio;
    const height = canvas.height / ratio;
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.clearRect(0, 0, width, height);
    context.lineWidth = 1;
    const finite = (v) => typeof v === "number" && Number.isFinite(v);
    const values = history.flatMap((row) => [row[1], row[2]]).filter(finite);
    if (history.length < 2 || !values.length) {
      context.strokeStyle = "#e2e4e6";
      context.strokeRect(0.5, 0.5, width - 1, height - 1);
      return;
    }
    const top = Math.max(...values) * 1.05 || 1;
    // The scale's values live in a gutter left of the plot, never on the curves.
    context.font = "10px system-ui, sans-serif";
    const topLabel = top.toPrecision(3);
    const gutter = Math.ceil(Math.max(context.measureText(topLabel).width, context.measureText("0").width)) + 8;
    const left = gutter;
    const plotTop = 6;
    const plotBottom = height - 6;
    context.strokeStyle = "#e2e4e6";
    context.strokeRect(left + 0.5, 0.5, width - left - 1, height - 1);
    context.fillStyle = "#666";
    context.textAlign = "right";
    context.textBaseline = "middle";
    context.fillText(topLabel, left - 4, plotTop);
    context.fillText("0", left - 4, plotBottom);
    context.strokeStyle = "#b9bec3";
    context.beginPath();
    for (const y of [plotTop, plotBottom]) {
      context.moveTo(left - 2, Math.round(y) + 0.5);
      context.lineTo(left + 2, Math.round(y) + 0.5);
    }
    context.stroke();
    const first = history[0][0];
    const span = history[history.length - 1][0] - first || 1;
    const line = (column, colour) => {
      context.beginPath();
      let started = false;
      for (const row of history) {
        if (!finite(row[column])) { started = false; continue; }
        const x = left + 2 + ((row[0] - first) / span) * (width - left - 4);
        const y = plotBottom - (row[column] / top) * (plotBottom - plotTop);
        if (started) context.lineTo(x, y);
        else context.moveTo(x, y);
        started = true;
      }
      context.strokeStyle = colour;
      context.lineWidth = 1.5;
      context.stroke();
    };
    line(1, "#888888");
    line(2, "#111111");
  }
}

/**
 * One bar per Linear layer, its height the log of the gradient's norm, so gradients that
 * vanish towards the input show as shrinking bars.
 */
export class GradNormChart {
  constructor(root) {
    this.root = root;
  }

  update(norms) {
    const root = this.root;
    if (!norms || !norms.length) {
      // The classic models (and untrainable data) have no gradients.
      const note = document.createElement("p");
      note.className = "hint";
      note.textContent = "no gradients: the network is not trained by backpropagation here";
      root.replaceChildren(note);
      return;
    }
    // null: the server had no finite number (JSON has no NaN).
    const logs = norms.map((n) => (typeof n === "number" && n > 0 && Number.isFinite(n) ? Math.log10(n) : null));
    const present = logs.filter((v) => v !== null);
    const high = present.length ? Math.ceil(Math.max(...present)) : 0;
    const low = Math.min(high - 3, present.length ? Math.floor(Math.min(...present)) : high - 3);
    if (root.querySelectorAll(".bar-column").length !== norms.length) this.build(norms.length);
    [...root.children].forEach((column, i) => {
      const bar = column.querySelector(".bar");
      const value = column.querySelector(".bar-value");
      const share = logs[i] === null ? 0 : (logs[i] - low) / (high - low || 1);
      bar.style.height = `${Math.max(2, Math.round(share * 100))}%`;
      value.textContent = typeof norms[i] === "number" && Number.isFinite(norms[i]) ? norms[i].toExponential(1) : "\u2013";
      column.title = `layer ${i + 1} (${i === norms.length - 1 ? "output" : `into hidden layer ${i + 1}`}): `
        + `gradient norm ${norms[i]}`;
    });
    this.root.dataset.range = `1e${low} to 1e${high}`;
    this.root.setAttribute("aria-label", `gradient norms per layer: ${norms.map((n) => (n === null ? "none" : Number(n).toExponential(1))).join(", ")}`);
  }

  build(count) {
    this.root.replaceChildren();
    for (let i = 0; i < count; i += 1) {
      const column = document.createElement("div");
      column.className = "bar-column";
      const track = document.createElement("div");
      track.className = "bar-track";
      const bar = document.createElement("div");
      bar.className = "bar";
      track.append(bar);
      const value = document.createElement("div");
      value.className = "bar-value";
      const name = document.createElement("div");
      name.className = "bar-name";
      name.textContent = `W${i + 1}`;
      column.append(value, track, name);
      this.root.append(column);
    }
  }
}
