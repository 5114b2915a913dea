// The settings: the keys of docs/playground.md, the controls that show them, and the URL hash
// that carries them (so a link restores a configuration).

export const KEYS = [
  "model", "dataset", "classes", "points", "noise", "trainRatio", "batch", "features",
  "hidden", "activations", "lr", "optimizer", "loss", "init", "reg", "regRate", "maxNorm", "seed",
];
export const FEATURES = ["x1", "x2", "x1sq", "x2sq", "x1x2", "sinx1", "sinx2"];
export const ACTIVATIONS = ["tanh", "relu", "leaky_relu", "sigmoid", "identity", "step", "sign"];
export const ACTIVATION_NAMES = {
  tanh: "Tanh", relu: "ReLU", leaky_relu: "Leaky ReLU", sigmoid: "Sigmoid",
  identity: "Linear", step: "Step", sign: "Sign",
};
export const MAX_LAYERS = 8;
export const MAX_NEURONS = 16;

const LIST_KEYS = new Set(["features", "hidden", "activations"]);
const NUMBER_KEYS = new Set([
  "classes", "points", "noise", "trainRatio", "batch", "lr", "regRate", "maxNorm", "seed",
]);

// Controls that show exactly one key: element id -> key.
const SIMPLE_CONTROLS = {
  model: "model", dataset: "dataset", classes: "classes", points: "points", noise: "noise",
  "train-ratio": "trainRatio", "batch-size": "batch", lr: "lr", optimizer: "optimizer",
  loss: "loss", init: "init", reg: "reg", "reg-rate": "regRate", "max-norm": "maxNorm",
  seed: "seed",
};

/** Settings from a hash such as "#dataset=xor&hidden=4,2": only the keys present. */
export function parseHash(hash) {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  const settings = {};
  for (const [key, raw] of params) {
    if (!KEYS.includes(key)) continue;  // a stale or mistyped key would only be refused
    settings[key] = parseValue(key, raw);
  }
  return settings;
}

function parseValue(key, raw) {
  if (LIST_KEYS.has(key)) {
    const items = raw.trim() === "" ? [] : raw.split(",").map((s) => s.trim());
    return key === "hidden" ? items.map(numberOrText) : items;
  }
  return NUMBER_KEYS.has(key) ? numberOrText(raw) : raw;
}

// A number when the text is one; otherwise the text, so the server names the bad value.
function numberOrText(text) {
  const number = Number(text);
  return text.trim() !== "" && Number.isFinite(number) ? number : text;
}

/** The hash for a whole configuration, keys in the documented order. */
export function formatHash(settings) {
  const parts = [];
  for (const key of KEYS) {
    if (!(key in settings)) continue;
    const value = settings[key];
    const text = Array.isArray(value) ? value.join(",") : String(value);
    parts.push(`${key}=${encodeURIComponent(text).replace(/%2C/g, ",")}`);
  }
  return parts.join("&");
}

/** Keep the whole configuration in the URL without adding history entries (keeps ?token). */
export function writeHash(settings) {
  const url = `${location.pathname}${location.search}#${formatHash(settings)}`;
  history.replaceState(null, "", url);
}

/** Bind the one-key controls: `onChange(changes)` gets {key: value} when the user changes one. */
export function bindControls(onChange) {
  for (const [id, key] of Object.entries(SIMPLE_CONTROLS)) {
    const element = document.getElementById(id);
    const output = document.getElementById(`${id}-value`);
    if (output) element.addEventListener("input", () => { output.textContent = element.value; });
    element.addEventListener("change", () => {
      const value = NUMBER_KEYS.has(key) ? Number(element.value) : element.value;
      if (key === "seed" && !Number.isInteger(value)) return;
      onChange({ [key]: value });
    });
  }
}

/** Show a normalised configuration in the one-key controls. */
export function showSettings(settings) {
  for (const [id, key] of Object.entries(SIMPLE_CONTROLS)) {
    if (!(key in settings)) continue;
    const element = document.getElementById(id);
    setControlValue(element, settings[key]);
    const output = document.getElementById(`${id}-value`);
    if (output) output.textContent = String(settings[key]);  // the value, not the slider's rounding
  }
  const global = document.getElementById("activation");
  const acts = settings.activations || [];
  const same = acts.length > 0 && acts.every((a) => a === acts[0]);
  setControlValue(global, same ? acts[0] : "mixed");
  document.getElementById("classes-field").hidden = !["blobs", "spiral"].includes(settings.dataset);
}

// Set a control's value; a select gains an option for a value it does not list (e.g. from a URL).
function setControlValue(element, value) {
  const text = String(value);
  if (element === document.activeElement && element.type === "number") return;  // being typed in
  if (element.tagName === "SELECT" && ![...element.options].some((o) => o.value === text)) {
    const option = document.createElement("option");
    option.value = text;
    option.textContent = text;
    element.append(option);
  }
  element.value = text;
}

// The controls only the network (MLP) uses: the classic models neither descend a gradient nor
// have hidden layers.
const MLP_ONLY = ["lr", "activation", "optimizer", "loss", "reg", "reg-rate", "max-norm", "init", "batch-size"];
const CLASSIC_NAMES = { perceptron: "perceptron", "nearest-mean": "nearest-mean classifier" };

/** Why an MLP-only control is off for a classic model ("" for the network). */
export function classicNote(model) {
  const name = CLASSIC_NAMES[model];
  if (!name) return "";
  const how = model === "perceptron" ? "learns by its own mistake rule" : "only computes the class means";
  return `Not used by the ${name} (it ${how}): this setting applies to Model \u201cNetwork (MLP)\u201d only`;
}

/** Disable the MLP-only controls while a classic model is chosen, saying why in their tooltip. */
export function showModelControls(settings) {
  const note = classicNote(settings.model);
  for (const id of MLP_ONLY) {
    const control = document.getElementById(id);
    control.disabled = Boolean(note);
    if (note) control.title = note;
    else control.removeAttribute("title");
    // The wrapper too: a disabled control gets no pointer events in some browsers.
    const wrap = control.closest(".control, .field");
    if (wrap) {
      wrap.classList.toggle("not-applicable", Boolean(note));
      if (note) wrap.title = note;
      else wrap.removeAttribute("title");
    }
  }
}

// What the generated data sets' sliders say, and why they are off for own data.
const OWN_DATA_NOTE = "Your own points or table: the number of points and the noise apply only "
  + "to the generated data sets";

/**
 * Own data (clicked points or an uploaded table): the points slider shows how many points
 * there are, and it and the noise slider are disabled (they only shape generated data).
 */
export function showDataSize(settings, count) {
  const own = settings.dataset === "own";
  const points = document.getElementById("points");
  document.getElementById("points-note").hidden = !own;
  for (const id of ["points", "noise"]) {
    const input = document.getElementById(id);
    input.disabled = own;
    if (own) input.title = OWN_DATA_NOTE;
    else input.removeAttribute("title");
    const field = document.getElementById(`${id}-field`);
    field.classList.toggle("not-applicable", own);
    if (own) field.title = OWN_DATA_NOTE;
    else field.removeAttribute("title");
  }
  if (own) {
    document.getElementById("points-value").textContent = String(count);
    // The thumb where the count would be (the slider's range, clamped).
    points.value = String(Math.max(Number(points.min), Math.min(Number(points.max), count)));
  }
}

/**
 * Which losses make sense: regression takes squared; bce needs two classes. (Hinge stays: the
 * server trains several classes with a multi-class margin loss.)
 */
export function showLossChoices(problem, classCount) {
  const select = document.getElementById("loss");
  for (const option of select.options) {
    let usable = true;
    if (problem === "regression") usable = option.value === "squared";
    else if (classCount > 2) usable = option.value !== "bce";
    option.disabled = !usable;
  }
}
