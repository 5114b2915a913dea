// The explaining panels: one neuron's forward and backward pass for one point, the animated
// backward pass through all layers, the gradient check, and the export box.

const p6 = (v) => (typeof v === "number" && Number.isFinite(v) ? v.toPrecision(6) : String(v));
/** A number in few characters: exponent notation for the very small and the very large. */
function compact(v, digits) {
  if (typeof v !== "number" || !Number.isFinite(v)) return String(v ?? "\u2013");
  const text = v !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e6)
    ? v.toExponential(digits - 1) : String(Number(v.toPrecision(digits)));
  return text.replace(/^-/, "\u2212");
}
const p4 = (v) => (typeof v === "number" && Number.isFinite(v) ? v.toPrecision(4) : String(v));

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function valueRow(label, testid, value, note) {
  const row = element("div", "panel-value");
  row.append(element("span", "panel-name", label));
  const number = element("span", `panel-number ${value < 0 ? "negative" : value > 0 ? "positive" : ""}`, p6(value));
  number.dataset.testid = testid;
  row.append(number);
  if (note) row.append(element("span", "panel-note", note));
  return row;
}

function table(headings, rows) {
  const t = element("table", "panel-table");
  const head = element("tr");
  headings.forEach((h) => head.append(element("th", "", h)));
  t.append(element("thead"));
  t.tHead.append(head);
  const body = element("tbody");
  rows.forEach((cells) => {
    const tr = element("tr");
    cells.forEach((cell) => {
      const td = element("td");
      if (cell instanceof Node) td.append(cell);
      else td.textContent = cell;
      tr.append(td);
    });
    body.append(tr);
  });
  t.append(body);
  return t;
}

export class NeuronPanel {
  /** `names.node(column, index)` names a unit; `actions.setWeight`, `actions.setBias` edit. */
  constructor(root, names, actions) {
    this.root = root;
    this.names = names;
    this.actions = actions;
  }

  waiting(unit, pointText, note) {
    this.root.replaceChildren();
    if (note) this.root.append(element("p", "panel-notice", note));
    this.root.append(element("p", "panel-title", `${unit}: ${pointText}`));
    this.root.append(element("p", "hint", "asking the server\u2026"));
  }

  show(panel, pointText, note, bias) {
    const root = this.root;
    root.replaceChildren();
    const { layer, neuron } = panel;
    const unit = panel.output ? `output neuron ${neuron}` : `layer ${layer} neuron ${neuron}`;
    if (note) root.append(element("p", "panel-notice", note));
    root.append(element("p", "panel-title", `${unit[0].toUpperCase()}${unit.slice(1)}: ${pointText}`));

    const forward = element("div", "panel-block");
    forward.append(element("h3", "", "Forward"));
    forward.append(valueRow("z", "panel-z", panel.z, "= \u03A3 w\u00B7a + b"));
    forward.append(valueRow("a", "panel-a", panel.a, panel.output ? "= z (the output's score)" : "= g(z)"));
    root.append(forward);

    const backward = element("div", "panel-block");
    backward.append(element("h3", "", "Backward"));
    backward.append(this.sumLine(panel));
    backward.append(valueRow("g\u2032(z)", "panel-gprime", panel.gprime));
    backward.append(valueRow("\u03B4", "panel-delta", panel.delta, "= \u2202E/\u2202z = \u2202E/\u2202a \u00B7 g\u2032(z)"));
    root.append(backward);

    if (panel.formula) {
      const formula = element("pre", "panel-formula", panel.formula);
      formula.dataset.testid = "panel-formula";
      root.append(formula);
    }
    if (panel.sumTerms && panel.sumTerms.length) {
      root.append(element("h3", "", "Where \u2202E/\u2202a comes from (next layer)"));
      // Rows are in the next layer's neuron order; the position names the neuron (the `to`
      // field's numbering is not relied on).
      root.append(table(["to", "w", "\u03B4 next", "g\u2032 next", "w\u00B7\u03B4"], panel.sumTerms.map((t, k) => [
        this.names.node(layer + 1, k), p4(t.w), p4(t.delta), p4(t.gprime), p4(t.product),
      ])));
    }
    if (panel.incoming && panel.incoming.length) {
      root.append(element("h3", "", "Incoming weights: \u2202E/\u2202w = \u03B4 \u00B7 a"));
      // Row i is input i of the layer (set-weight's 0-based `from`).
      root.append(table(["from", "weight", "a", "\u2202E/\u2202w"], panel.incoming.map((w, i) => [
        this.names.node(layer - 1, i),
        this.weightInput(`weight from ${this.names.node(layer - 1, i)} to ${unit}`,
          w.weight, (value) => this.actions.setWeight(layer, neuron - 1, i, value)),
        p4(w.a), p4(w.grad),
      ])));
      const biasRow = element("div", "panel-bias");
      biasRow.append(element("span", "panel-name", "bias"));
      biasRow.append(this.weightInput(`bias of ${unit}`, bias,
        (value) => this.actions.setBias(layer, neuron - 1, value)));
      biasRow.append(element("span", "panel-note", `\u2202E/\u2202b = \u03B4 = ${p4(panel.biasGrad)}`));
      root.append(biasRow);
    }
  }

  // "∂E/∂a = Σ w·δ = t1 + t2 + … = dEda", the numbers filled in.
  sumLine(panel) {
    const row = element("div", "panel-value");
    row.append(element("span", "panel-name", "\u2202E/\u2202a"));
    const terms = (panel.sumTerms || []).map((t) => p4(t.product));
    const shown = terms.length > 6 ? [...terms.slice(0, 6), "\u2026"] : terms;
    const text = terms.length ? `= \u03A3 w\u00B7\u03B4 = ${shown.join(" + ").replace(/\+ -/g, "\u2212 ")} = ${p6(panel.dEda)}`
      : `= ${p6(panel.dEda)}`;
    const number = element("span", "panel-sum", text);
    number.dataset.testid = "panel-dEda";
    row.append(number);
    return row;
  }

  // An editable number; Enter (change) sends it.
  weightInput(label, value, commit) {
    const input = element("input", "panel-input");
    input.type = "number";
    input.step = "any";
    input.setAttribute("aria-label", label);
    input.value = Number.isFinite(value) ? String(Number(value.toPrecision(6))) : "";
    input.title = "Enter a new value and press Enter";
    input.addEventListener("keydown", (event) => {
      if (event.key !== "Enter") return;
      const number = Number(input.value);
      if (input.value.trim() !== "" && Number.isFinite(number)) commit(number);
    });
    return input;
  }
}

/**
 * The backward pass of one point, layer by layer from the output down: each layer's neurons
 * light up in turn with their δ written beside them.
 */
export class BackpropAnimation {
  constructor(view, status) {
    this.view = view;
    this.status = status;
    this.timers = [];
  }

  stop() {
    this.timers.forEach(clearTimeout);
    this.timers = [];
    this.view.clearDeltas();
  }

  play(reply, pointText) {
    this.stop();
    const layers = reply.layers || [];
    const last = this.view.columnCount() - 1;
    // Linear layer n feeds column n (column 0: the inputs); layers[0] is the output layer.
    const columns = layers.map((layer, j) => (Number.isInteger(layer.layer) ? layer.layer : last - j));
    const reduced = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    const stepMs = reduced ? 0 : 400;
    this.status.textContent = `Backward pass of ${pointText}: `
      + layers.map((l, j) => `${columns[j] === last ? "output" : `layer ${columns[j]}`} `
        + `\u2016\u2207W\u2016 = ${p4(l.gradNorm)}`).join(", ");
    layers.forEach((layer, j) => {
      this.timers.push(setTimeout(() => {
        if (j > 0) this.view.lightColumn(columns[j - 1], false);
        this.view.lightColumn(columns[j], true);
        this.view.showDeltas(columns[j], layer.delta || []);
      }, j * stepMs));
    });
    // Leave the δ's a while to be read, then clear them.
    const end = layers.length * stepMs;
    if (layers.length) this.timers.push(setTimeout(() => this.view.lightColumn(columns[columns.length - 1], false), end + 400));
    this.timers.push(setTimeout(() => this.view.clearDeltas(), end + 8000));
  }
}

export function showGradcheck(root, reply) {
  root.replaceChildren();
  const verdict = element("p", `verdict ${reply.passed ? "pass" : "fail"}`,
    reply.passed ? "pass: the analytic gradients match the finite differences" : "fail: a gradient differs from its finite difference");
  root.append(verdict);
  const worst = reply.worst || {};
  const index = Array.isArray(worst.index) ? worst.index.join(", ") : worst.index;
  // One row per quantity (name, then value): each fits on one line in the narrow card.
  const rows = [
    ["worst parameter", `${worst.parameter ?? "?"}${index !== undefined && index !== null ? ` [${index}]` : ""}`],
    ["analytic", compact(worst.analytic, 6)],
    ["numerical", compact(worst.numerical, 6)],
    ["error", compact(worst.error, 3)],
  ];
  const t = element("table", "panel-table gradcheck-table");
  const body = element("tbody");
  for (const [name, value] of rows) {
    const tr = element("tr");
    const th = element("th", "", name);
    th.scope = "row";
    const td = element("td", "", value);
    td.title = value;
    tr.append(th, td);
    body.append(tr);
  }
  t.append(body);
  root.append(t);
  if (reply.parameters && reply.parameters.length) {
    const details = element("details", "gradcheck-details");
    details.append(element("summary", "", `every parameter (${reply.parameters.length})`));
    details.append(element("pre", "", reply.parameters.join("\n")));
    root.append(details);
  }
}

/** An accuracy as a percentage (the server may send a fraction or a percentage). */
export function percent(value) {
  if (typeof value !== "number" || !Number.isFinite(value)) return "\u2013";
  return `${(value <= 1 ? value * 100 : value).toFixed(1)}%`;
}

export function showExport(reply) {
  document.getElementById("export-box").hidden = false;
  showCommand(document.getElementById("export-command"), reply.command || "");
  document.getElementById("export-python").textContent = reply.python || "";
  const accuracy = typeof reply.accuracy === "number" ? `, accuracy ${percent(reply.accuracy)}` : "";
  document.getElementById("export-info").textContent = `${reply.filename || "model"}${accuracy}`;
}

/**
 * A shell command that wraps between its options, never inside one ("--lr 0.01" stays whole):
 * each option is a span that does not break. The element's text is the command unchanged.
 */
function showCommand(pre, command) {
  pre.replaceChildren();
  command.split("\n").forEach((line, k) => {
    if (k > 0) pre.append("\n");
    if (line.startsWith("#")) {
      pre.append(line);
      return;
    }
    line.split(/ (?=--)/).forEach((part, j) => {
      if (j > 0) pre.append(" ");
      pre.append(element("span", "unbroken", part));
    });
  });
}

/** The export box's copy buttons: each copies the text of the element its data-copy names. */
export function setUpCopyButtons() {
  document.querySelectorAll("button[data-copy]").forEach((copyButton) => {
    const label = copyButton.textContent;
    let timer = null;
    copyButton.addEventListener("click", async () => {
      const source = document.getElementById(copyButton.dataset.copy);
      const copied = await copyText(source.textContent || "", source);
      copyButton.textContent = copied ? "Copied" : "Press Ctrl+C";
      copyButton.classList.toggle("done", copied);
      clearTimeout(timer);
      timer = setTimeout(() => {
        copyButton.textContent = label;
        copyButton.classList.remove("done");
      }, 2000);
    });
  });
}

/**
 * Put text on the clipboard: the Clipboard API, else the selection and the old copy command.
 * When neither works the text stays selected for the user to copy. True if copied.
 */
async function copyText(text, source) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // No permission, or the document has no focus: try the selection instead.
    }
  }
  const range = document.createRange();
  range.selectNodeContents(source);
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
  let copied = false;
  try {
    copied = document.execCommand("copy");
  } catch {
    copied = false;
  }
  if (copied) selection.removeAllRanges();
  return copied;
}

/** Save bytes from the server as a file (the browser's download). */
export function downloadBytes(filename, bytes, type = "application/octet-stream") {
  downloadBlob(filename, new Blob([bytes], { type }));
}

export function downloadBlob(filename, blob) {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
