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
