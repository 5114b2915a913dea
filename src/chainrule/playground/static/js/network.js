// The network diagram: the feature column, the hidden layers, the output neurons, each a small
// heat map of what it computes over the plane; the weights as SVG links between them.

import {
  ACTIVATIONS, ACTIVATION_NAMES, FEATURES, MAX_LAYERS, MAX_NEURONS, classicNote,
} from "./settings.js";
import { divergingCss, paintBlank, paintFeature, paintSymmetric } from "./heatmap.js";
import { editNumber } from "./editor.js";

const SVG = "http://www.w3.org/2000/svg";

const FEATURE_LABELS = {
  x1: "X\u2081", x2: "X\u2082", x1sq: "X\u2081\u00B2", x2sq: "X\u2082\u00B2",
  x1x2: "X\u2081X\u2082", sinx1: "sin(X\u2081)", sinx2: "sin(X\u2082)",
};
const FEATURE_SPOKEN = {
  x1: "x1", x2: "x2", x1sq: "x1 squared", x2sq: "x2 squared", x1x2: "x1 times x2",
  sinx1: "sine of x1", sinx2: "sine of x2",
};

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function button(className, text, testid, label) {
  const node = element("button", className, text);
  node.type = "button";
  if (testid) node.dataset.testid = testid;
  if (label) node.setAttribute("aria-label", label);
  return node;
}

/** A number in a few characters (a δ label fits between two columns): 0.57, -4.5e-6. */
function shortNumber(v) {
  if (v === 0 || !Number.isFinite(v)) return String(v);
  return Math.abs(v) < 1e-2 || Math.abs(v) >= 1e3 ? v.toExponential(1) : String(Number(v.toPrecision(2)));
}

/** Stroke width for a weight, as TF Playground: 1 px at 0, 10 px at |w| >= 5. */
function linkWidth(weight) {
  return 1 + (9 * Math.min(Math.abs(weight), 5)) / 5;
}

export class NetworkView {
  /**
   * `actions` are the user's requests: toggleFeature(name), addNeuron(L), removeNeuron(L), layerActivation(L, name), neuron(L, I),
   * setWeight(layer, to, from, value), setBias(layer, to, value).
   */
  constructor(root, actions) {
    this.root = root;
    this.actions = actions;
    this.structureKey = "";
    this.columns = [];  // per column: [{node, canvas, bias, deltaLabel, mapName}]
    this.links = new Map();  // "l:to:from" -> {path, hit}
    this.network = null;
    this.domain = null;
    this.maps = null;
    this.preview = { source: null, caption: "" };

    this.svg = document.createElementNS(SVG, "svg");
    this.svg.classList.add("links");
    this.svg.setAttribute("aria-hidden", "true");
    this.body = element("div", "net-columns");
    root.append(this.svg, this.body);
    new ResizeObserver(() => this.placeLinks()).observe(root);
  }

  /** Show a configuration: rebuild the diagram when its shape changed, else update in place. */
  render(state) {
    const { settings, network, problem } = state;
    let sizes = network && network.sizes ? network.sizes
      : [settings.features.length, ...(settings.model === "mlp" ? settings.hidden : []), 1];
    // No model yet (e.g. a classic model without the data it needs): inputs and one output.
    if (sizes.length < 2) sizes = [sizes[0] ?? settings.features.length, 1];
    const key = JSON.stringify([settings.features, sizes, settings.model, problem, state.classes,
      Boolean(network && network.layers && network.layers.length)]);
    this.settings = settings;
    this.problem = problem;
    this.classNames = state.classes || [];
    this.network = network;
    if (key !== this.structureKey || this.domainKey !== JSON.stringify(state.domain)) {
      this.domain = state.domain;
      this.domainKey = JSON.stringify(state.domain);
      this.structureKey = key;
      this.build(sizes);
    }
    this.showHeads();
    this.setNetwork(network);
  }

  build(sizes) {
    this.sizes = sizes;
    this.body.replaceChildren();
    this.svg.replaceChildren();
    this.links.clear();
    this.columns = [];
    this.body.append(this.buildFeatures());
    const hiddenCount = sizes.length - 2;
    for (let layer = 1; layer <= hiddenCount; layer += 1) this.body.append(this.buildHidden(layer, sizes[layer]));
    this.body.append(this.buildOutput(sizes[sizes.length - 1]));
    this.buildLinks();
    if (this.maps) this.paintMaps(this.maps);
    else this.paintEmpty();
    requestAnimationFrame(() => this.placeLinks());
  }

  buildFeatures() {
    const column = element("div", "net-column features-column");
    const head = element("div", "column-head");
    head.append(element("div", "column-title", "Features"));
    head.append(element("div", "column-sub", "Which properties do you want to feed in?"));
    const nodes = element("div", "nodes");
    const entries = [];
    const enabled = this.settings.features;
    for (const name of FEATURES) {
      const on = enabled.includes(name);
      const wrap = element("div", "node-wrap feature-wrap");
      const toggle = button(`feature${on ? " on" : ""}`, undefined, `features-${name}`,
        `feature ${FEATURE_SPOKEN[name]}`);
      toggle.setAttribute("aria-pressed", String(on));
      toggle.title = on ? "Click to remove this input" : "Click to feed this input in";
      const label = element("span", "feature-label", FEATURE_LABELS[name]);
      const canvas = element("canvas", "node-map");
      canvas.width = 32;
      canvas.height = 32;
      toggle.append(label, canvas);
      toggle.addEventListener("click", () => this.actions.toggleFeature(name));
      this.addPreview(toggle, canvas, () => `input ${FEATURE_LABELS[name]}`);
      wrap.append(toggle);
      nodes.append(wrap);
      // Only switched-on features are network inputs; their order is the input order.
      if (on) entries.push({ node: canvas, canvas, mapName: `input-${name}`, feature: name, wrap });
      else entries.push({ node: canvas, canvas, mapName: null, feature: name, wrap, off: true });
    }
    column.append(head, nodes);
    this.featureEntries = entries;
    this.columns.push(entries.filter((e) => !e.off));
    return column;
  }

  buildHidden(layer, count) {
    const column = element("div", "net-column hidden-column");
    column.dataset.layer = String(layer);
    const head = element("div", "column-head");
    const buttons = element("div", "neuron-buttons");
    const add = button("round-button tiny", "+", `add-neuron-${layer}`, `add a neuron to layer ${layer}`);
    const remove = button("round-button tiny", "\u2212", `remove-neuron-${layer}`,
      `remove a neuron from layer ${layer}`);
    add.addEventListener("click", () => this.actions.addNeuron(layer));
    remove.addEventListener("click", () => this.actions.removeNeuron(layer));
    add.disabled = count >= MAX_NEURONS;
    remove.disabled = count <= 1;
    buttons.append(add, remove);
    const countText = element("div", "column-sub neuron-count", `${count} neuron${count === 1 ? "" : "s"}`);
    const select = element("select", "layer-activation");
    select.dataset.testid = `layer-activation-${layer}`;
    select.setAttribute("aria-label", `activation of layer ${layer}`);
    for (const name of ACTIVATIONS) {
      const option = element("option", "", ACTIVATION_NAMES[name]);
      option.value = name;
      select.append(option);
    }
    select.addEventListener("change", () => this.actions.layerActivation(layer, select.value));
    head.append(buttons, countText, select);
    const nodes = element("div", "nodes");
    const entries = [];
    for (let i = 1; i <= count; i += 1) {
      const entry = this.buildNeuron(`neuron-${layer}-${i}`, `layer ${layer} neuron ${i}`,
        `layer ${layer}, neuron ${i}`, () => this.actions.neuron(layer, i), `${layer}-${i}`);
      entry.bias.addEventListener("click", (event) => this.editBias(layer, i - 1, event));
      nodes.append(entry.wrap);
      entries.push(entry);
    }
    column.append(head, nodes);
    this.columns.push(entries);
    return column;
  }

  buildOutput(count) {
    const column = element("div", "net-column output-nodes-column");
    const head = element("div", "column-head");
    head.append(element("div", "column-title", "Output"));
    const several = this.problem !== "regression" && count > 1;
    head.append(element("div", "column-sub", several ? "one per class" : ""));
    // Two classes on two outputs: the server sends one `output` map (2p - 1 for class 1);
    // class 0's neuron shows it negated.
    const binaryPair = several && count === 2 && this.classNames.length <= 2;
    const nodes = element("div", "nodes");
    const entries = [];
    const layer = this.sizes.length - 1;  // the output neurons' Linear layer
    for (let k = 0; k < count; k += 1) {
      const mapName = several && !binaryPair ? `class-${k}` : "output";
      const className = String(this.classNames[k] ?? `class ${k}`);
      const caption = several ? `output ${k + 1}: ${className}` : "output";
      const entry = this.buildNeuron(`output-neuron-${k + 1}`, `output neuron ${k + 1}`, caption,
        () => this.actions.neuron(layer, k + 1), mapName);
      entry.negate = binaryPair && k === 0;
      entry.bias.addEventListener("click", (event) => this.editBias(layer, k, event));
      if (several) entry.wrap.append(element("span", "output-label", className));
      nodes.append(entry.wrap);
      entries.push(entry);
    }
    column.append(head, nodes);
    this.columns.push(entries);
    return column;
  }

  buildNeuron(testid, label, caption, onClick, mapName) {
    const wrap = element("div", "node-wrap");
    const node = button("neuron", undefined, testid, label);
    const canvas = element("canvas", "node-map");
    canvas.width = 32;
    canvas.height = 32;
    node.append(canvas);
    node.addEventListener("click", onClick);
    const bias = button("bias", undefined, undefined, `bias of ${label}`);
    bias.tabIndex = -1;  // reachable by keyboard through the neuron panel instead
    const deltaLabel = element("span", "delta-label");
    const deadLabel = element("span", "dead-label", "dead");
    wrap.append(node, bias, deltaLabel, deadLabel);
    this.addPreview(node, canvas, () => caption);
    return { wrap, node, canvas, bias, deltaLabel, mapName, label };
  }

  showHeads() {
    const { settings } = this;
    const mlp = settings.model === "mlp";
    const count = settings.hidden.length;
    const classic = { perceptron: "perceptron", "nearest-mean": "nearest mean" }[settings.model];
    document.getElementById("hidden-count").textContent = mlp
      ? `${count} hidden layer${count === 1 ? "" : "s"}`
      : `${classic}: no hidden layers`;
    const addLayer = document.getElementById("add-layer");
    const removeLayer = document.getElementById("remove-layer");
    addLayer.disabled = !mlp || count >= MAX_LAYERS;
    removeLayer.disabled = !mlp || count === 0;
    // The classic models have no hidden layers: the buttons say why they are off.
    const note = classicNote(settings.model);
    addLayer.title = note || (count >= MAX_LAYERS ? `At most ${MAX_LAYERS} hidden layers` : "Add a hidden layer");
    removeLayer.title = note || "Remove the last hidden layer";
    document.getElementById("hidden-count").title = note;
    this.body.querySelectorAll(".hidden-column").forEach((column) => {
      const layer = Number(column.dataset.layer);
      const select = column.querySelector("select");
      if (settings.activations[layer - 1]) select.value = settings.activations[layer - 1];
    });
  }

  /** Weights and biases: link widths and colours, bias squares. */
  setNetwork(network) {
    this.network = network;
    if (!network || !network.layers) return;
    network.layers.forEach((linear, index) => {
      const layer = index + 1;
      linear.weights.forEach((row, to) => row.forEach((w, from) => {
        const link = this.links.get(`${layer}:${to}:${from}`);
        if (!link) return;
        // Only what changed visibly: every attribute set makes the browser repaint the SVG.
        const width = linkWidth(w).toFixed(1);
        const colour = divergingCss(Math.round(w * 50) / 50);
        if (link.width !== width) link.path.setAttribute("stroke-width", (link.width = width));
        if (link.colour !== colour) link.path.setAttribute("stroke", (link.colour = colour));
      }));
      const targets = this.columns[layer] || [];
      linear.biases.forEach((b, to) => {
        if (targets[to]) targets[to].bias.style.backgroundColor = divergingCss(b);
      });
    });
  }

  buildLinks() {
    const linears = this.networkLayers();
    for (let layer = 1; layer < this.columns.length; layer += 1) {
      if (linears !== null && !linears[layer - 1]) continue;  // no weights there: no links
      const sources = this.columns[layer - 1];
      const targets = this.columns[layer];
      targets.forEach((target, to) => sources.forEach((source, from) => {
        const hit = document.createElementNS(SVG, "path");
        hit.classList.add("link-hit");
        const path = document.createElementNS(SVG, "path");
        path.classList.add("link");
        const title = document.createElementNS(SVG, "title");
        hit.append(title);
        hit.addEventListener("pointerenter", () => {
          title.textContent = `weight ${this.nodeName(layer - 1, from)} \u2192 ${this.nodeName(layer, to)}: `
            + `${this.weight(layer, to, from).toPrecision(4)} (click to edit)`;
          path.classList.add("hover");
        });
        hit.addEventListener("pointerleave", () => path.classList.remove("hover"));
        hit.addEventListener("click", (event) => this.editWeight(layer, to, from, event));
        this.svg.append(path, hit);
        this.links.set(`${layer}:${to}:${from}`, { path, hit, source, target });
      }));
    }
  }

  /** Lay the links out between the node canvases (after layout, and on resize). */
  placeLinks() {
    if (!this.links.size) return;
    const box = this.root.getBoundingClientRect();
    this.svg.setAttribute("width", String(this.root.scrollWidth));
    this.svg.setAttribute("height", String(this.root.scrollHeight));
    const anchor = new Map();
    const where = (node) => {
      if (!anchor.has(node)) {
        const r = node.getBoundingClientRect();
        anchor.set(node, {
          left: r.left - box.left + this.root.scrollLeft,
          right: r.right - box.left + this.root.scrollLeft,
          y: r.top - box.top + this.root.scrollTop + r.height / 2,
        });
      }
      return anchor.get(node);
    };
    for (const { path, hit, source, target } of this.links.values()) {
      const a = where(source.node);
      const b = where(target.node);
      const x1 = a.right + 2;
      const x2 = b.left - 2;
      const mid = (x1 + x2) / 2;
      const d = `M${x1},${a.y} C${mid},${a.y} ${mid},${b.y} ${x2},${b.y}`;
      path.setAttribute("d", d);
      hit.setAttribute("d", d);
    }
  }

  networkLayers() {
    return this.network && Array.isArray(this.network.layers) ? this.network.layers : null;
  }

  weight(layer, to, from) {
    const linear = this.network && this.network.layers && this.network.layers[layer - 1];
    return linear ? linear.weights[to][from] : NaN;
  }

  nodeName(column, index) {
    if (column === 0) return FEATURE_LABELS[this.columns[0][index].feature];
    if (column === this.columns.length - 1) return this.columns[column].length > 1 ? `output ${index + 1}` : "output";
    return `${column}.${index + 1}`;
  }

  editWeight(layer, to, from, event) {
    editNumber({
      x: event.clientX,
      y: event.clientY,
      label: `weight ${this.nodeName(layer - 1, from)} \u2192 ${this.nodeName(layer, to)}`,
      value: this.weight(layer, to, from),
      commit: (value) => this.actions.setWeight(layer, to, from, value),
      focusAfter: this.columns[layer][to].node,
    });
  }

  editBias(layer, to, event) {
    const linear = this.network && this.network.layers && this.network.layers[layer - 1];
    editNumber({
      x: event.clientX,
      y: event.clientY,
      label: `bias of ${this.nodeName(layer, to)}`,
      value: linear ? linear.biases[to] : NaN,
      commit: (value) => this.actions.setBias(layer, to, value),
      focusAfter: this.columns[layer][to].node,
    });
  }

  /** Draw a frame's maps into every node (features switched off: computed from the domain). */
  paintMaps(maps) {
    this.maps = maps;
    for (const entry of this.featureEntries) {
      const map = entry.mapName && maps.get(entry.mapName);
      if (map) paintSymmetric(entry.canvas, map);
      else if (!entry.painted) { paintFeature(entry.canvas, entry.feature, this.domain); entry.painted = true; }
    }
    for (let c = 1; c < this.columns.length; c += 1) {
      for (const entry of this.columns[c]) {
        const map = maps.get(entry.mapName);
        if (map) paintSymmetric(entry.canvas, map, entry.negate);
        else paintBlank(entry.canvas);
      }
    }
    this.refreshPreview();
  }

  paintEmpty() {
    for (const entry of this.featureEntries) paintFeature(entry.canvas, entry.feature, this.domain);
    for (let c = 1; c < this.columns.length; c += 1) this.columns[c].forEach((e) => paintBlank(e.canvas));
  }

  /** Mark dead units: `dead` lists [hidden layer from 1, neuron from 1]. */
  markDead(dead) {
    const set = new Set((dead || []).map(([l, i]) => `${l}:${i}`));
    for (let c = 1; c < this.columns.length - 1; c += 1) {
      this.columns[c].forEach((entry, i) => {
        const isDead = set.has(`${c}:${i + 1}`);
        entry.wrap.classList.toggle("dead", isDead);
        entry.node.setAttribute("aria-label", `${entry.label}${isDead ? " (dead: never active)" : ""}`);
      });
    }
  }

  /** Mark the neuron whose panel is shown. */
  markSelected(layer, neuron) {
    this.body.querySelectorAll(".neuron.selected").forEach((n) => n.classList.remove("selected"));
    const entry = this.columns[layer] && this.columns[layer][neuron - 1];
    if (entry) entry.node.classList.add("selected");
  }

  // ---- backprop animation support: columns counted from 0 (features) to the output ----

  columnCount() {
    return this.columns.length;
  }

  lightColumn(column, on) {
    (this.columns[column] || []).forEach((entry) => entry.wrap.classList.toggle("lit", on));
  }

  showDeltas(column, deltas) {
    const entries = this.columns[column] || [];
    const largest = Math.max(1e-12, ...deltas.map((d) => Math.abs(d)));
    entries.forEach((entry, i) => {
      const d = deltas[i];
      if (d === undefined) return;
      const label = entry.deltaLabel;
      label.textContent = `\u03B4 ${shortNumber(d).replace(/^-/, "\u2212")}`;
      label.title = `\u03B4 = \u2202E/\u2202z = ${d}`;
      label.style.color = d < 0 ? "#b05e00" : d > 0 ? "#0a5e96" : "#666";
      // Size by magnitude relative to the layer's largest, so the spread reads at a glance
      // (within a range that keeps the label inside the gap to the next column).
      label.style.fontSize = `${(9.5 + 3 * Math.sqrt(Math.abs(d) / largest)).toFixed(1)}px`;
      label.classList.add("shown");
    });
    // The links fade while δ's are shown, so the labels on top of them read clearly.
    this.root.classList.add("showing-deltas");
  }

  clearDeltas() {
    this.root.classList.remove("showing-deltas");
    this.columns.forEach((entries) => entries.forEach((entry) => {
      if (!entry.deltaLabel) return;
      entry.deltaLabel.classList.remove("shown");
      entry.wrap.classList.remove("lit");
    }));
  }

  // ---- hover / focus preview ----

  addPreview(target, canvas, caption) {
    const show = () => {
      this.preview = { source: canvas, caption: caption(), anchor: target };
      this.refreshPreview();
    };
    const hide = () => {
      if (this.preview.source !== canvas) return;
      this.preview = { source: null };
      document.getElementById("preview").hidden = true;
    };
    target.addEventListener("pointerenter", show);
    target.addEventListener("focus", show);
    target.addEventListener("pointerleave", hide);
    target.addEventListener("blur", hide);
  }

  refreshPreview() {
    const { source, caption, anchor } = this.preview;
    const box = document.getElementById("preview");
    if (!source || !document.contains(source)) { box.hidden = true; return; }
    const canvas = document.getElementById("preview-canvas");
    const context = canvas.getContext("2d");
    context.imageSmoothingEnabled = true;
    context.clearRect(0, 0, canvas.width, canvas.height);
    context.drawImage(source, 0, 0, canvas.width, canvas.height);
    document.getElementById("preview-caption").textContent = caption;
    box.hidden = false;
    const r = anchor.getBoundingClientRect();
    const width = box.offsetWidth;
    const left = r.right + 12 + width > window.innerWidth ? r.left - width - 12 : r.right + 12;
    box.style.left = `${left + window.scrollX}px`;
    box.style.top = `${Math.max(4, r.top + r.height / 2 - box.offsetHeight / 2) + window.scrollY}px`;
  }
}
