# %% [markdown]
# # Export a model to PyTorch and ONNX
#
# **You have** a network trained with chainrule. **You want** to run it somewhere chainrule
# is not installed: in a PyTorch program, or in any ONNX runtime (a C++ service, a phone,
# a browser).
#
# The shortest paths:
#
# ```python
# cr.save(model, "model.safetensors")          # PyTorch reads this file as it is
# torch_model.load_state_dict(safetensors.torch.load_file("model.safetensors"))
# ```
#
# ```bash
# chainrule export model.safetensors --out model.onnx
# ```
#
# This recipe takes both paths and checks that the outputs agree with chainrule's, to
# float32 rounding. It then exports a table model, whose ONNX graph holds the
# preprocessing too, and ends with the errors you can meet. The file format and the ONNX
# graph's layout are described in [the model files guide](../model-files.md).

# %%
import numpy as np
import onnxruntime
import pandas as pd
import torch
from palmerpenguins import load_penguins
from safetensors.torch import load_file

import chainrule as cr
from chainrule import nn, optim
from chainrule.export import ExportError, to_onnx
from chainrule.train import fit, predict_outputs

# %% [markdown]
# ## A model to export
#
# A small network on the 8×8 digits that ship with chainrule. We mix two activations,
# `Tanh` and `LeakyReLU(0.1)`, so that the comparison also checks the LeakyReLU's slope.
# The model returns logits; the softmax is part of the loss.

# %%
cr.manual_seed(0)
images, labels = cr.data.load_digits()
X = images.reshape(len(images), -1).astype(np.float32) / 16  # pixels 0-16 -> 0-1
X_train, X_test, y_train, y_test = X[:1400], X[1400:], labels[:1400], labels[1400:]

model = nn.Sequential(
    nn.Linear(64, 32),
    nn.Tanh(),
    nn.Linear(32, 16),
    nn.LeakyReLU(0.1),
    nn.Linear(16, 10),
)
optimizer = optim.Adam(model.parameters(), lr=1e-2)
fit(model, nn.CrossEntropyLoss(), optimizer, (X_train, y_train), epochs=10, progress=False)

logits = predict_outputs(model, X_test)  # chainrule's outputs, the reference below
print(f"test accuracy {np.mean(logits.argmax(axis=1) == y_test):.3f}")
cr.save(model, "digits.safetensors")

# %% [markdown]
# ## PyTorch
#
# The file is [safetensors](https://github.com/huggingface/safetensors). Its tensors are
# named as in `state_dict()`: layer index, then `weight` or `bias`. A `Linear` weight is
# stored as (out, in), which is PyTorch's layout too. `safetensors.torch.load_file` reads
# the tensors without chainrule:

# %%
state = load_file("digits.safetensors")
for name, tensor in state.items():
    print(f"{name:9} {tuple(tensor.shape)} {tensor.dtype}")

# %% [markdown]
# Build the same layers in `torch.nn`, in the same order, and load the tensors. You don't
# need to write this by hand: `chainrule info` prints the PyTorch code for a saved model.

# %%
# !chainrule info digits.safetensors

# %%
torch_model = torch.nn.Sequential(
    torch.nn.Linear(64, 32),
    torch.nn.Tanh(),
    torch.nn.Linear(32, 16),
    torch.nn.LeakyReLU(negative_slope=0.1),
    torch.nn.Linear(16, 10),
)
print(torch_model.load_state_dict(state))
torch_model.eval()

with torch.no_grad():
    torch_logits = torch_model(torch.from_numpy(X_test)).numpy()

print("largest difference of the logits:", np.abs(torch_logits - logits).max())
print("same predicted class for every row:", (torch_logits.argmax(1) == logits.argmax(1)).all())

# %% [markdown]
# The logits differ by a few millionths: both compute in float32, and the two libraries
# add up the matrix products in different orders. The predicted classes are the same.
#
# `load_state_dict` is strict by default. If the PyTorch model is not the same network
# (a layer missing, a width wrong), it refuses and lists every key that does not fit:

# %%
wrong = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.Tanh(), torch.nn.Linear(32, 10))
try:
    wrong.load_state_dict(state)
except RuntimeError as error:
    print(error)

# %% [markdown]
# ## ONNX
#
# `chainrule export` writes the model as an ONNX graph (opset 17, standard operators only).
# `onnxruntime` runs it:

# %%
# !chainrule export digits.safetensors --out digits.onnx

# %%
session = onnxruntime.InferenceSession("digits.onnx")
for node in session.get_inputs() + session.get_outputs():
    print(f"{node.name:7} {node.type:14} {node.shape}")

(onnx_logits,) = session.run(None, {"input": X_test})
print("largest difference of the logits:", np.abs(onnx_logits - logits).max())

# %% [markdown]
# The batch size is dynamic (`N`), so one session serves any number of rows. A model saved
# from Python returns the network's raw `output`. In Python, `to_onnx(...,
# classification=True)` adds the softmax and the argmax to the graph, as `label` and
# `probabilities` outputs. (A model trained by `chainrule train` on a built-in data set
# gets them without asking.)

# %%
to_onnx(model, "digits-labels.onnx", classification=True)
session = onnxruntime.InferenceSession("digits-labels.onnx")
predicted, probabilities = session.run(None, {"input": X_test})
print("labels:", predicted[:10], " true:", y_test[:10])
print("agrees with chainrule on every row:", (predicted == logits.argmax(1)).all())
print("probabilities sum to 1:", np.allclose(probabilities.sum(axis=1), 1, atol=1e-6))

# %% [markdown]
# ## A table model: the preprocessing goes along
#
# A model trained on your own CSV (see [the CSV recipe](01-own-csv.md)) does not take raw
# rows: its network sees standardised numbers and one-hot columns. The PyTorch model gets
# exactly that matrix, and `chainrule info` lists the steps that make it. The ONNX export
# goes further and puts the steps into the graph. The graph then takes **one input per raw
# column**, by name: numbers as `double` (NaN for missing), text as `string` (`""` for
# missing).

# %%
penguins = load_penguins()
penguins.to_csv("penguins.csv", index=False)
new_rows = penguins.drop(columns="species").sample(6, random_state=2)
new_rows.to_csv("new_penguins.csv", index=False)

# !chainrule train --data penguins.csv --target species --epochs 40 --quiet --no-plots --out run
# !chainrule export run/model.safetensors --out penguins.onnx

# %% [markdown]
# To feed the graph, each column becomes an (N, 1) array of the type the input declares:

# %%
session = onnxruntime.InferenceSession("penguins.onnx")
feeds = {}
for node in session.get_inputs():
    column = new_rows[node.name]
    if node.type == "tensor(double)":
        feeds[node.name] = column.to_numpy(dtype=np.float64).reshape(-1, 1)
    else:  # tensor(string): missing text is the empty string
        feeds[node.name] = column.fillna("").astype(str).to_numpy(dtype=object).reshape(-1, 1)
onnx_labels, onnx_probabilities = session.run(None, feeds)

# !chainrule predict run/model.safetensors new_penguins.csv --out predictions.csv
predictions = pd.read_csv("predictions.csv")
predictions.insert(1, "onnx label", onnx_labels)
print(predictions.round(4).to_string(index=False))
difference = np.abs(onnx_probabilities - predictions.filter(like="proba_").to_numpy()).max()
print("largest difference of the probabilities:", f"{difference:.1e}")

# %% [markdown]
# The ONNX graph and `chainrule predict` give the same labels. The probabilities agree to
# the six decimals that `predict` writes. The graph holds every step: the training median
# for a missing number, the standardisation, the one-hot columns, and the `(other)` column
# that an island never seen in training would go to. A program that runs it needs only the
# raw columns.

# %% [markdown]
# ## What can go wrong
#
# **Wrong input type.** The digits graph declares `float` (float32) input. NumPy arrays are
# float64 unless you say otherwise, and onnxruntime does not convert:

# %%
session = onnxruntime.InferenceSession("digits.onnx")
try:
    session.run(None, {"input": X_test.astype(np.float64)})
except Exception as error:  # onnxruntime's InvalidArgument
    print(type(error).__name__, error)

# %% [markdown]
# **A Module of your own.** A model whose `forward` is your own Python code has no
# layers that ONNX or `torch.nn` can name. The export refuses it and writes no file:


# %%
class Doubled(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(64, 10)

    def forward(self, x):
        return 2 * self.linear(x)


try:
    to_onnx(Doubled(), "doubled.onnx")
except ExportError as error:
    print("ExportError:", error)

# %% [markdown]
# Its safetensors file still loads into PyTorch with `load_state_dict`, into a torch module
# that you write with the same parameter names. `cr.load(path, model=Doubled())` loads it
# back into chainrule.
#
# **Layers PyTorch has no module for.** chainrule's `nn.Sign` (the threshold unit of the
# lectures) exports to ONNX, but `torch.nn` has nothing to map it to. `chainrule info` says
# so in place of the code.
#
# **A damaged or edited file.** chainrule keeps a SHA-256 digest of header and tensors in
# the file, and `cr.load` refuses a file that does not match. PyTorch's `load_file` does
# not check that digest: it only checks the safetensors structure. To catch damage before
# PyTorch uses a file, load it once with `cr.load`. (The digest finds damage and
# accidental edits. It is not a signature: whoever edits the file on purpose can rewrite
# it.)

# %%
data = bytearray(open("digits.safetensors", "rb").read())
data[-10] ^= 1  # flip one bit of the last tensor
open("edited.safetensors", "wb").write(bytes(data))

try:
    cr.load("edited.safetensors")
except cr.io.ModelFileError as error:
    print("ModelFileError:", error)
print("PyTorch loads it anyway:", len(load_file("edited.safetensors")), "tensors")
