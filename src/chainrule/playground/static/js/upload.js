// Uploading a table: the file goes to the server as one binary message; its `columns` reply
// fills three selects (x1, x2, label), and "use" asks for those columns as the data.

export const MAX_UPLOAD_BYTES = 5 * 1024 * 1024;

export class Upload {
  /** `send(header, bytes)` sends a binary message, `sendJson(message)` a text one, `say(text, isError)`. */
  constructor({ send, sendJson, say }) {
    this.send = send;
    this.sendJson = sendJson;
    this.say = say;
    this.input = document.getElementById("upload");
    this.box = document.getElementById("columns-box");
    this.selects = {
      x1: document.getElementById("column-x1"),
      x2: document.getElementById("column-x2"),
      label: document.getElementById("column-label"),
    };
    this.input.addEventListener("change", () => this.read());
    document.getElementById("use-columns").addEventListener("click", () => this.use());
  }

  async read() {
    const file = this.input.files && this.input.files[0];
    if (!file) return;
    this.box.hidden = true;
    if (file.size > MAX_UPLOAD_BYTES) {
      this.say(`${file.name} is ${(file.size / 1048576).toFixed(1)} MB; the playground takes files up to 5 MB`, true);
      return;
    }
    let bytes;
    try {
      bytes = await file.arrayBuffer();
    } catch (error) {
      this.say(`could not read ${file.name}: ${error.message}`, true);
      return;
    }
    this.say(`uploading ${file.name}\u2026`, false);
    this.send({ type: "upload", name: file.name }, bytes);
  }

  /** The server read the table: offer its columns (axes must be numeric). */
  showColumns(reply) {
    const numeric = reply.numeric || [];
    const columns = reply.columns || [];
    fill(this.selects.x1, numeric, numeric[0]);
    fill(this.selects.x2, numeric, numeric[1] ?? numeric[0]);
    // The label: by default the last column that is not an axis.
    const others = columns.filter((c) => c !== numeric[0] && c !== numeric[1]);
    fill(this.selects.label, columns, others[others.length - 1] ?? columns[columns.length - 1]);
    this.box.hidden = false;
    this.say(`${columns.length} columns read; choose the two axes and the label`, false);
    this.selects.x1.focus();
  }

  use() {
    const { x1, x2, label } = this.selects;
    if (!x1.value || !x2.value || !label.value) return;
    this.sendJson({ type: "use-columns", x1: x1.value, x2: x2.value, label: label.value });
  }
}

function fill(select, names, chosen) {
  select.replaceChildren(...names.map((name) => {
    const option = document.createElement("option");
    option.value = name;
    option.textContent = name;
    return option;
  }));
  if (chosen !== undefined) select.value = chosen;
}
