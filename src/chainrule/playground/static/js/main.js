// The page's wiring: the connection's messages to the views, the user's actions to messages.
// Every number shown comes from the server; the page keeps only what it needs to draw.

import { Connection, socketUrl } from "./connection.js";
import {
  bindControls, parseHash, showDataSize, showLossChoices, showModelControls, showSettings, writeHash,
} from "./settings.js";
import { decodeMaps, paintOutput } from "./heatmap.js";
import { NetworkView } from "./network.js";
import { OutputMap } from "./points.js";
import { GradNormChart, LossChart } from "./charts.js";
import {
  BackpropAnimation, NeuronPanel, downloadBlob, downloadBytes, percent, setUpCopyButtons, showExport,
  showGradcheck,
} from "./panels.js";
import { Upload } from "./upload.js";
import { setUpEditor } from "./editor.js";
import { drawAxes, showClassPicker, chosenLabel, showLegend } from "./output.js";

const $ = (id) => document.getElementById(id);

const app = {
  state: null,        // the last `state` message
  settings: null,     // its normalised settings
  maps: null,         // the last frame's maps by name
  outputImage: document.createElement("canvas"),
  playing: false,
  pendingFrame: null, // a frame waiting for the next animation frame
  closed: false,
};

// ---- the message line ----

function say(text, isError = false) {
  const line = $("message");
  line.textContent = text;
  line.classList.toggle("error", Boolean(isError) && text !== "");
}

// ---- the connection ----

const token = new URLSearchParams(location.search).get("token");
const connection = new Connection(socketUrl(token), {
  state: onState,
  frame: onFrame,
  "neuron-panel": onNeuronPanel,
  backprop: onBackprop,
  gradcheck: (reply) => showGradcheck($("gradcheck-result"), reply),
  export: showExport,
  "model-file": (header, payload) => downloadBytes(header.filename || "model.safetensors", payload),
  columns: (reply) => upload.showColumns(reply),
  notice: (reply) => say(reply.message, false),
  error: onError,
}, () => {
  app.closed = true;
  setPlaying(false);
  say("disconnected from the server", true);
});

function send(message) {
  if (app.closed) {
    say("disconnected from the server", true);
    return;
  }
  connection.send(message);
}

function sendSettings(changes) {
  send({ type: "settings", settings: changes });
}

// ---- views ----

const view = new NetworkView($("network"), {
  toggleFeature,
  addNeuron: (layer) => changeHidden((hidden) => hidden.map((n, i) => (i === layer - 1 ? n + 1 : n))),
  removeNeuron: (layer) => changeHidden((hidden) => hidden.map((n, i) => (i === layer - 1 ? n - 1 : n))),
  layerActivation: (layer, name) => {
    const activations = app.settings.activations.map((a, i) => (i === layer - 1 ? name : a));
    sendSettings({ activations });
  },
  neuron: askNeuron,
  setWeight,
  setBias,
});

const outputMap = new OutputMap($("output-map"), {
  select: (index) => say(`selected ${describePoint(index)}; click a neuron to see its numbers`),
  add: (x, y) => {
    const label = chosenLabel(app.state);
    if (label === null) return;
    send({ type: "add-point", x, y, label });
  },
  move: (point, x, y) => send({ type: "move-point", point, x, y }),
  remove: (point) => send({ type: "delete-point", point }),
  label: () => chosenLabel(app.state),
});

const lossChart = new LossChart($("loss-curve"));
const gradNorms = new GradNormChart($("gradnorms"));
const names = { node: (column, index) => view.nodeName(column, index) };
const panel = new NeuronPanel($("neuron-panel"), names, { setWeight, setBias });
const backpropStatus = document.createElement("p");
backpropStatus.className = "hint backprop-status";
$("backprop").after(backpropStatus);
const animation = new BackpropAnimation(view, backpropStatus);
const upload = new Upload({
  send: (header, bytes) => connection.sendBinary(header, bytes),
  sendJson: send,
  say,
});

// ---- server messages ----

function onState(state) {
  const structureChanged = !app.state
    || JSON.stringify(app.state.network && app.state.network.sizes) !== JSON.stringify(state.network && state.network.sizes)
    || app.state.problem !== state.problem;
  // The panels explain one point of one configuration: other points or settings make them stale.
  const dataKey = JSON.stringify([state.settings, state.points.length]);
  if (dataKey !== app.dataKey) {
    // Other data (not one point added): the selected index would name another point.
    const added = app.state && state.points.length === app.state.points.length + 1;
    if (app.state && (JSON.stringify(app.state.settings) !== JSON.stringify(state.settings) || !added)) {
      outputMap.selected = null;
    }
    app.dataKey = dataKey;
    clearExplanations(structureChanged);
  } else if (app.refreshPanel && app.neuronRequest) {
    const { layer, neuron, point } = app.neuronRequest;
    send({ type: "neuron", point, layer, neuron });
  }
  app.refreshPanel = false;
  app.state = state;
  app.settings = state.settings;
  say(app.keepMessage || "", Boolean(app.keepMessage));
  app.keepMessage = null;
  app.lastNotice = "";
  showNotice(state.notice || state.trainable);
  showSettings(state.settings);
  showDataSize(state.settings, state.points.length);
  showModelControls(state.settings);
  writeHash(state.settings);
  showLossChoices(state.problem, (state.classes || []).length);
  view.render(state);
  outputMap.setData(state);
  drawAxes(state.domain);
  showClassPicker(state);
  showLegend(state, targetRange(state));
  lossChart.setHistory(state.history);
  showNumbers(state);
  setPlaying(Boolean(state.playing));
}

function onFrame(header, payload) {
  // Draw at the next animation frame; a newer frame replaces one not drawn yet.
  const scheduled = app.pendingFrame !== null;
  // The frame replaced is never drawn: acknowledge it, or the server would wait for it.
  if (scheduled) send({ type: "drawn" });
  app.pendingFrame = { header, payload };
  if (!scheduled) requestAnimationFrame(drawPendingFrame);
}

function drawPendingFrame() {
  const frame = app.pendingFrame;
  app.pendingFrame = null;
  if (!frame) return;
  // Ask for the next frame as this one is taken to be drawn: the server computes it while the
  // browser draws and paints this one, and never more than one waits here (a newer frame
  // replaces an undrawn one).
  send({ type: "drawn" });
  try {
    drawFrame(frame.header, frame.payload);
  } catch (error) {
    console.error("could not draw the frame", error);
  }
}

function drawFrame(header, payload) {
  app.maps = decodeMaps(header, payload);
  if (header.network) view.setNetwork(header.network);
  view.paintMaps(app.maps);
  view.markDead(header.dead);
  redrawOutput();
  lossChart.add(header.epoch, header.trainLoss, header.testLoss);
  gradNorms.update(header.gradNorms);
  showNumbers(header);
  if (app.state) {
    if (header.network) app.state.network = header.network;
    showLegend(app.state, targetRange(app.state));
  }
  if (header.playing !== undefined) setPlaying(Boolean(header.playing));
  app.awaitingPlay = false;
  showNotice(header.notice);
}

// A notice (training stopped, the perceptron converged, ...) is said once, not every frame.
function showNotice(notice) {
  if (!notice) {
    app.lastNotice = "";
    return;
  }
  if (notice === app.lastNotice) return;
  app.lastNotice = notice;
  say(notice, false);
}

function redrawOutput() {
  if (!app.maps || !app.state) return;
  const drawn = paintOutput(app.outputImage, app.maps, app.state.problem, {
    discretise: $("discretise").checked,
    lighten: 0.25,
    range: targetRange(app.state),
  });
  outputMap.setImage(drawn ? app.outputImage : null);
}

/** Regression: the targets' [min, max], the one colour scale of the map and the points. */
function targetRange(state) {
  if (state.problem !== "regression" || !state.points.length) return null;
  let low = Infinity;
  let high = -Infinity;
  for (const point of state.points) {
    low = Math.min(low, point[2]);
    high = Math.max(high, point[2]);
  }
  return [low, high];
}

function showNumbers(data) {
  if (data.lossName !== undefined) {
    // The classic models have no loss; the server reports their error rate instead.
    const what = data.lossName === "error rate" ? "error rate" : "loss";
    $("test-loss-name").textContent = `Test ${what}`;
    $("train-loss-name").textContent = `Training ${what}`;
    $("train-loss-name").title = $("test-loss-name").title = data.lossName;
  }
  if (data.epoch !== undefined) $("epoch").textContent = String(data.epoch);
  const loss = (v) => (typeof v === "number" ? v.toFixed(4) : "\u2013");
  if ("trainLoss" in data) $("train-loss").textContent = loss(data.trainLoss);
  if ("testLoss" in data) $("test-loss").textContent = loss(data.testLoss);
  if ("trainAccuracy" in data) $("train-accuracy").textContent = percent(data.trainAccuracy);
  if ("testAccuracy" in data) $("test-accuracy").textContent = percent(data.testAccuracy);
}

function onError(reply) {
  say(reply.message || "error", true);
  // "play" has no reply of its own: an error before the first frame means it was refused.
  if (app.awaitingPlay) setPlaying(false);
  app.awaitingPlay = false;
  // A link whose settings were refused leaves the page with nothing to draw: ask for the
  // server's own configuration (the error stays shown until then).
  if (!app.state && !app.askedDefaults) {
    app.askedDefaults = true;
    const message = reply.message;
    send({ type: "settings", settings: {} });
    app.keepMessage = message;
  }
  // A refused setting leaves the previous configuration: show it again in the controls.
  if (app.settings) {
    showSettings(app.settings);
    if (app.state) showDataSize(app.settings, app.state.points.length);
    showModelControls(app.settings);
    view.showHeads();
  }
}

function onNeuronPanel(reply) {
  const request = app.neuronRequest || {};
  view.markSelected(reply.layer, reply.neuron);
  const linear = app.state && app.state.network && app.state.network.layers
    ? app.state.network.layers[reply.layer - 1] : null;
  const bias = linear ? linear.biases[reply.neuron - 1] : NaN;
  panel.show(reply, describePoint(reply.point), request.note, bias);
}

function onBackprop(reply) {
  animation.play(reply, describePoint(reply.point));
}

// ---- the user's actions ----

function toggleFeature(name) {
  const features = app.settings.features.includes(name)
    ? app.settings.features.filter((f) => f !== name)
    : [...app.settings.features, name];
  if (!features.length) {
    say("the network needs at least one input feature", true);
    return;
  }
  sendSettings({ features });
}

function changeHidden(change) {
  const hidden = change([...app.settings.hidden]);
  sendSettings({ hidden });
}

/** The point the panels explain: the selected one, else the first training point. */
function explainedPoint() {
  if (outputMap.selected !== null && app.state.points[outputMap.selected]) {
    return { point: outputMap.selected, note: null };
  }
  const first = app.state.points.findIndex((p) => p[3] === 0);
  if (first < 0) return { point: null, note: null };
  outputMap.select(first);
  return { point: first, note: `No point was selected: showing training point ${first}. Click a point on the output to choose another.` };
}

function askNeuron(layer, neuron) {
  if (!app.state) return;
  const { point, note } = explainedPoint();
  if (point === null) {
    say("there are no training points to explain", true);
    return;
  }
  app.neuronRequest = { layer, neuron, point, note };
  const unit = layer === view.columnCount() - 1 ? `Output neuron ${neuron}` : `Layer ${layer}, neuron ${neuron}`;
  panel.waiting(unit, describePoint(point), note);
  send({ type: "neuron", point, layer, neuron });
}

function setWeight(layer, to, from, value) {
  app.refreshPanel = true;  // the panel shows the weight: ask for it again after the change
  send({ type: "set-weight", layer, to, from, value });
}

function setBias(layer, to, value) {
  app.refreshPanel = true;
  send({ type: "set-bias", layer, to, value });
}

function clearExplanations(structureChanged) {
  app.neuronRequest = null;
  $("neuron-panel").replaceChildren();
  view.markSelected(0, 0);
  backpropStatus.textContent = "";
  animation.stop();
  if (structureChanged) $("gradcheck-result").replaceChildren();
  $("export-box").hidden = true;
}

function describePoint(index) {
  return outputMap.describe(index, app.state && app.state.classes) || `point ${index}`;
}

function setPlaying(playing) {
  app.playing = playing;
  const button = $("play");
  button.textContent = playing ? "\u275A\u275A" : "\u25B6";
  button.setAttribute("aria-pressed", String(playing));
  button.setAttribute("aria-label", playing ? "pause" : "play");
  button.classList.toggle("playing", playing);
}

function bindButtons() {
  $("play").addEventListener("click", () => {
    const playing = !app.playing;
    app.awaitingPlay = playing;
    send({ type: playing ? "play" : "pause" });
    setPlaying(playing);
  });
  $("step").addEventListener("click", () => send({ type: "step" }));
  $("add-layer").addEventListener("click", () => changeHidden((hidden) => [...hidden, hidden.length ? hidden[hidden.length - 1] : 4]));
  $("remove-layer").addEventListener("click", () => changeHidden((hidden) => hidden.slice(0, -1)));
  $("reset").addEventListener("click", () => send({ type: "reset" }));
  $("regenerate").addEventListener("click", () => {
    sendSettings({ seed: Math.floor(Math.random() * 2147483647) });
  });
  $("activation").addEventListener("change", () => {
    const name = $("activation").value;
    const count = app.settings ? app.settings.hidden.length : 0;
    sendSettings({ activations: Array(count).fill(name) });
  });
  $("backprop").addEventListener("click", () => {
    if (!app.state) return;
    const { point, note } = explainedPoint();
    if (point === null) return;
    if (note) say(note);
    send({ type: "backprop", point });
  });
  $("gradcheck").addEventListener("click", () => {
    $("gradcheck-result").textContent = "checking\u2026";
    send({ type: "gradcheck" });
  });
  $("export-model").addEventListener("click", () => send({ type: "export" }));
  $("download-png").addEventListener("click", () => {
    $("output-map").toBlob((blob) => {
      if (blob) downloadBlob("chainrule-playground-output.png", blob);
    }, "image/png");
  });
  $("show-test").addEventListener("change", () => {
    outputMap.showTest = $("show-test").checked;
    outputMap.draw();
  });
  $("discretise").addEventListener("change", redrawOutput);
}

function start() {
  setUpEditor();
  setUpCopyButtons();
  bindControls(sendSettings);
  bindButtons();
  // Someone pasting a link with a new hash into this tab: apply it.
  window.addEventListener("hashchange", () => sendSettings(parseHash(location.hash)));
  if (!token) say("this address has no ?token=...: open the link the server printed", true);
  sendSettings(parseHash(location.hash));
}

start();
