// The small floating box that edits one number (a weight or a bias): Enter sets, Esc cancels.

const box = () => document.getElementById("edit-box");

let onCommit = null;
let returnFocus = null;

/** Open the box near (x, y) (viewport px) showing `value`; `commit(number)` on Enter. */
export function editNumber({ x, y, label, value, commit, focusAfter }) {
  const form = box();
  const input = document.getElementById("edit-value");
  document.getElementById("edit-label").textContent = label;
  input.value = formatForInput(value);
  onCommit = commit;
  returnFocus = focusAfter || document.activeElement;
  form.hidden = false;
  // Keep the box inside the window.
  const width = form.offsetWidth;
  const height = form.offsetHeight;
  form.style.left = `${Math.max(4, Math.min(x + 8, window.innerWidth - width - 4)) + window.scrollX}px`;
  form.style.top = `${Math.max(4, Math.min(y + 8, window.innerHeight - height - 4)) + window.scrollY}px`;
  input.focus();
  input.select();
}

function formatForInput(value) {
  return Number.isFinite(value) ? String(Number(value.toPrecision(6))) : "";
}

function close(restoreFocus) {
  const form = box();
  if (form.hidden) return;
  form.hidden = true;
  onCommit = null;
  if (restoreFocus && returnFocus && document.contains(returnFocus)) returnFocus.focus();
  returnFocus = null;
}

/** Wire the box's keys once at start. */
export function setUpEditor() {
  const form = box();
  const input = document.getElementById("edit-value");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const number = Number(input.value);
    if (input.value.trim() === "" || !Number.isFinite(number)) {
      input.setCustomValidity("a number, please");
      input.reportValidity();
      return;
    }
    input.setCustomValidity("");
    const commit = onCommit;
    close(true);
    if (commit) commit(number);
  });
  input.addEventListener("input", () => input.setCustomValidity(""));
  form.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      close(true);
    }
  });
  // Clicking elsewhere cancels; focus moving elsewhere by Tab cancels too.
  form.addEventListener("focusout", (event) => {
    if (!form.contains(event.relatedTarget)) close(false);
  });
}
