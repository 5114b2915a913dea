// Around the output map: its axes, its colour legend, and the picker of the class (or value) a
// clicked point gets.

import { classCss, divergingCss } from "./heatmap.js";

const SVG = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);

function svgElement(tag, attributes, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Round tick values inside [low, high], about `count` of them. */
function ticks(low, high, count = 5) {
  const raw = (high - low) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) || raw;
  const values = [];
  for (let v = Math.ceil(low / step) * step; v <= high + step * 1e-9; v += step) values.push(Number(v.toPrecision(10)));
  return values;
}

/** Tick marks along the bottom (x) and the left (y) of the output map. */
export function drawAxes(domain) {
  if (!domain) return;
  const [xmin, xmax, ymin, ymax] = domain;
  const size = $("output-map").clientWidth || 300;
  const xAxis = $("axis-x");
  xAxis.replaceChildren();
  xAxis.setAttribute("width", size + 20);
  xAxis.setAttribute("height", 18);
  for (const v of ticks(xmin, xmax)) {
    const x = ((v - xmin) / (xmax - xmin)) * size;
    xAxis.append(svgElement("line", { x1: x, x2: x, y1: 0, y2: 4, stroke: "#999" }));
    xAxis.append(svgElement("text", { x, y: 14, "text-anchor": "middle" }, formatTick(v)));
  }
  const yAxis = $("axis-y");
  yAxis.replaceChildren();
  yAxis.setAttribute("width", 28);
  yAxis.setAttribute("height", size);
  for (const v of ticks(ymin, ymax)) {
    const y = ((ymax - v) / (ymax - ymin)) * size;
    yAxis.append(svgElement("line", { x1: 24, x2: 28, y1: y, y2: y, stroke: "#999" }));
    yAxis.append(svgElement("text", { x: 21, y: y + 3.5, "text-anchor": "end" }, formatTick(v)));
  }
}

function formatTick(v) {
  return Math.abs(v) >= 1000 || (Math.abs(v) < 0.01 && v !== 0) ? v.toExponential(0) : String(v);
}

/** The classes (radio buttons, coloured) or, for regression, a number for new points. */
export function showClassPicker(state) {
  const options = $("class-options");
  const valueBox = $("value-option");
  const regression = state.problem === "regression";
  valueBox.hidden = !regression;
  options.hidden = regression;
  if (regression) return;
  const names = state.classes && state.classes.length ? state.classes : [0, 1];
  const key = JSON.stringify(names);
  if (options.dataset.key === key) return;
  const previous = chosenClass();
  options.dataset.key = key;
  // Own points may start one more class (up to six).
  const choices = names.length < 6 ? [...names, `new class ${names.length}`] : names;
  options.replaceChildren(...choices.map((name, k) => {
    const label = document.createElement("label");
    label.className = "class-option";
    const radio = document.createElement("input");
    radio.type = "radio";
    radio.name = "point-class";
    radio.value = String(k);
    radio.dataset.testid = `point-class-${k}`;
    radio.checked = k === (previous !== null && previous < choices.length ? previous : 0);
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.backgroundColor = classCss(k);
    label.append(radio, swatch, document.createTextNode(String(name)));
    return label;
  }));
}

function chosenClass() {
  const checked = document.querySelector('input[name="point-class"]:checked');
  return checked ? Number(checked.value) : null;
}

/** The label a new point gets: the chosen class index, or the value for regression. */
export function chosenLabel(state) {
  if (state && state.problem === "regression") {
    const value = Number($("point-value").value);
    return Number.isFinite(value) ? value : 0;
  }
  const k = chosenClass();
  return k === null ? 0 : k;
}

/** What the colours of the output map mean. */
export function showLegend(state, range) {
  const legend = $("output-legend");
  const names = state.classes || [];
  let key;
  let build;
  if (state.problem === "regression") {
    const [lo, hi] = range || [null, null];
    key = `r:${lo}:${hi}`;
    build = () => gradient(lo === null ? "low" : lo.toPrecision(3), hi === null ? "high" : hi.toPrecision(3));
  } else if (names.length > 2) {
    key = `c:${JSON.stringify(names)}`;
    build = () => names.map((name, k) => swatch(classCss(k), String(name)));
  } else {
    key = `b:${JSON.stringify(names)}`;
    build = () => gradient(String(names[0] ?? "class 0"), String(names[1] ?? "class 1"));
  }
  if (legend.dataset.key === key) return;
  legend.dataset.key = key;
  legend.replaceChildren(...[build()].flat());
}

function gradient(left, right) {
  const box = document.createElement("div");
  box.className = "legend-gradient";
  const bar = document.createElement("span");
  bar.className = "gradient-bar";
  bar.style.background = `linear-gradient(to right, ${divergingCss(-1)}, ${divergingCss(0)}, ${divergingCss(1)})`;
  const a = document.createElement("span");
  a.textContent = left;
  const b = document.createElement("span");
  b.textContent = right;
  box.append(a, bar, b);
  return box;
}

function swatch(colour, text) {
  const item = document.createElement("span");
  item.className = "legend-item";
  const s = document.createElement("span");
  s.className = "swatch";
  s.style.backgroundColor = colour;
  item.append(s, document.createTextNode(text));
  return item;
}
