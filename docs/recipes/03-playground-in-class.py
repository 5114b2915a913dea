# %% [markdown]
# # The playground in class
#
# **You have** a lecture on neural networks, a projector, and maybe students with laptops.
# **You want** the playground running for everyone to watch or to use, perhaps on a table of
# your own, and afterwards a model from it that you can predict with.
#
# The shortest path, on the computer at the projector:
#
# ```bash
# pip install "chainrule[cli]"
# chainrule playground
# ```
#
# This opens the browser on the page. What the page shows and how it talks to the server is
# in [the playground guide](../playground.md). This recipe covers the options that matter
# in a classroom, checks the server's access control from Python, and takes an exported model
# to `chainrule predict`.

# %% [markdown]
# ## The options
#
# | option | what it does |
# | --- | --- |
# | `--no-browser` | print the address, open no browser |
# | `--port N` | listen on port N (default: 8765, or the next free one) |
# | `--host H` | listen on address H (default: 127.0.0.1, this computer only) |
# | `--data FILE` | start every new tab on your table (CSV, TSV, Parquet) |
# | `--target COL` | the table's label column, the points' colour |
# | `--features A,B` | the two numeric columns for the axes (default: the first two) |
#
# The first line the server prints is the address **with a secret token**:
# `playground: http://127.0.0.1:8765/?token=...`. Every request without the token is refused,
# so copy the whole line. The page stores the token in a cookie, so reloading the page
# works. After a restart the server has a new token, and you need the new address.

# %%
import json
import signal
import struct
import subprocess
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from palmerpenguins import load_penguins
from websockets.sync.client import connect

# %% [markdown]
# ## Start it on your own table
#
# We use the Palmer penguins: bill length and flipper length as the two axes, the species
# as the colour. Three classes that two measurements separate almost, but not quite.
#
# The cell starts the server as a subprocess, which is what you do in a terminal, and
# reads its first line. We print the line with the token hidden, because a token in a
# screenshot or on a slide is a token given away.

# %%
load_penguins().to_csv("penguins.csv", index=False)

server = subprocess.Popen(
    [
        "chainrule", "playground", "--no-browser",
        "--data", "penguins.csv", "--target", "species",
        "--features", "bill_length_mm,flipper_length_mm",
    ],
    stdout=subprocess.PIPE,
    stderr=subprocess.PIPE,
    text=True,
)  # fmt: skip
first_line = server.stdout.readline().strip()
url = first_line.removeprefix("playground: ")
address = urlsplit(url)
token = address.query.removeprefix("token=")
print(first_line.replace(token, "<token>"))

# %% [markdown]
# ## It answers with the token, and only with it
#
# The page itself, fetched with the address as printed:

# %%
with urllib.request.urlopen(url, timeout=10) as response:
    page = response.read().decode()
print(response.status, response.headers["content-type"])
print(page[page.index("<title>") : page.index("</title>") + 8])

# %% [markdown]
# The same address without the token gets `401 Unauthorized`. This is the answer a student
# gets who copied only the first part of the address:


# %%
def status_of(request):
    """The HTTP status and message the server answers `request` with."""
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, "OK"
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode().strip()


print(status_of(f"http://{address.netloc}/"))
print(status_of(f"http://{address.netloc}/?token=wrong"))

# %% [markdown]
# The server also checks the `Host` header, which must name the address it listens on. The
# check stops *DNS rebinding*: a web page on another site that makes your browser talk to a
# server on your machine under the site's own name. Even with the right token, such a
# request gets `403 Forbidden`:

# %%
print(status_of(urllib.request.Request(url, headers={"Host": "attacker.example"})))

# %% [markdown]
# ## Export a model, and predict with it
#
# The page's **Export** button sends the message `{"type": "export"}` over the page's
# WebSocket. The server answers with an `export` message (the nearest `chainrule train`
# command, a Python snippet, the accuracy) and the model file. We do here what the page
# does, without a browser: choose a network, train it for 30 epochs, export it. The
# messages are those of the [protocol](../playground.md#protocol-between-page-and-server).


# %%
def wait_for(socket, wanted):
    """Read the server's messages until one of type `wanted`; its header and payload."""
    while True:
        message = socket.recv(timeout=30)
        if isinstance(message, bytes):  # [uint32 n][n bytes of JSON][padding to 4][payload]
            (length,) = struct.unpack("<I", message[:4])
            header = json.loads(message[4 : 4 + length])
            payload = message[4 + length + (-(4 + length)) % 4 :]
        else:
            header, payload = json.loads(message), b""
        if header["type"] == "error":
            raise RuntimeError(header["message"])
        if header["type"] == wanted:
            return header, payload


socket_url = f"ws://{address.netloc}/ws?{address.query}"
with connect(socket_url) as socket:
    socket.send(json.dumps({"type": "settings", "settings": {"hidden": [6], "lr": 0.03}}))
    state, _ = wait_for(socket, "state")  # the settings as the server took them
    wait_for(socket, "frame")  # and the first picture of the untrained network
    print("data:", state["settings"]["dataset"], state["classes"], len(state["points"]), "points")
    for _ in range(30):  # the "one epoch" button, 30 times
        socket.send(json.dumps({"type": "step"}))
        frame, _ = wait_for(socket, "frame")
    socket.send(json.dumps({"type": "export"}))
    export, _ = wait_for(socket, "export")
    header, model_file = wait_for(socket, "model-file")

with open(header["filename"], "wb") as file:
    file.write(model_file)
print(f"epoch {frame['epoch']}, test accuracy {export['accuracy']:.3f}")
print("wrote", header["filename"])

# %% [markdown]
# The file is an ordinary chainrule model. `chainrule info` shows the network and what
# the playground stored with it. The `inputs` are the page's features, here `x1` and `x2`,
# and the `classes` are in the order of the network's outputs:

# %%
# !chainrule info playground-own-epoch30.safetensors | head -12

# %% [markdown]
# **The inputs are the page's coordinates, not millimetres.** On the page, each axis is
# the column standardised as `chainrule train --data` does it (minus its mean, divided by
# its standard deviation, a missing value replaced by the median), then times two. The file
# does not record the column names or their means, so you must convert new rows yourself
# before `chainrule predict`. We convert five penguins:

# %%
penguins = load_penguins()
axes = ["bill_length_mm", "flipper_length_mm"]
mean, std = penguins[axes].mean(), penguins[axes].std(ddof=0)
new_rows = penguins.dropna(subset=axes).sample(5, random_state=3)
page_coordinates = 2 * (new_rows[axes] - mean) / std
page_coordinates.to_csv("points.csv", index=False, header=["x1", "x2"])

# !chainrule predict playground-own-epoch30.safetensors points.csv --out classes.txt

# %% [markdown]
# For a model that is not a table model, `chainrule predict` writes one class number per
# line: the position in the `classes` list above. (These are the coordinates the page
# draws, to float32 rounding: the mean and the population standard deviation of all the
# table's rows.)

# %%
numbers = [int(line) for line in open("classes.txt")]
result = new_rows[["species", *axes]].assign(predicted=[state["classes"][k] for k in numbers])
print(result.to_string(index=False))

# %% [markdown]
# To predict raw rows of the table directly, train the same network on the same two
# columns from the command line. That model keeps its preprocessing and takes raw
# millimetres. The [CSV recipe](01-own-csv.md) shows the whole path:
#
# ```bash
# chainrule train --data penguins.csv --target species \
#     --features bill_length_mm,flipper_length_mm --hidden 6 --activation tanh
# ```

# %% [markdown]
# ## Stop it
#
# Ctrl-C in the terminal stops the server; here we send the same signal. The server says
# so on standard error. Its log lines also show the refused requests from above, each with
# its reason:

# %%
server.send_signal(signal.SIGINT)
_, log = server.communicate(timeout=30)
print("exit status", server.returncode)
print(log)

# %% [markdown]
# ## A classroom network: `--host` and its risk
#
# By default, only the computer running the server can open the page. That is right for a
# projector. If the students should open the page on their own laptops, there are two ways:
#
# - **Each student runs their own server** (`pip install "chainrule[cli]"`, then
#   `chainrule playground`). Nothing is exposed, and every laptop trains its own networks.
#   This is the way to prefer.
# - **Everyone uses your server.** Start it with your computer's address on the classroom
#   network, `chainrule playground --host 192.168.1.20` (find yours with `ip addr` or
#   `ipconfig`), and share the printed address, token included. Every tab gets its own
#   session, trained on *your* CPU, so thirty students cost thirty trainings.
#
# `--host` prints a warning, for good reason:
#
# - Anyone who has the address, token included, can use the server: the token is the only
#   key. Share it as you would share a password: in the room, not in a public chat.
# - The page is plain HTTP. Anyone on the same Wi-Fi who can read the traffic can read the
#   token. On a network you don't trust, don't do this.
# - `--host 0.0.0.0` listens on every interface of the machine. The address it prints then
#   starts with `http://0.0.0.0:`, which students cannot open, and the `Host` check above is
#   off, because any name may reach such a server. Give the one address instead.
#
# When the lesson is over, stop the server: a new start makes a new token, and the old
# address stops working.

# %% [markdown]
# ## What can go wrong
#
# - **`401 missing or wrong token`**: the address was copied without `?token=...`, or the
#   server was restarted since. Copy the new first line.
# - **`403 Host '...' is not this server's address`**: the page was opened under a name
#   the server does not listen on. The server knows `127.0.0.1`, `localhost` and the
#   address given to `--host`. Other names for the same machine are refused.
# - **`cannot listen on 127.0.0.1 port N: Address already in use`**: a `--port` that is
#   taken, maybe by the playground of an earlier lesson. Without `--port`, the server takes
#   the next free port by itself. `--port 0` is refused: leave the option out to get a free
#   port.
# - **`--data FILE needs --target COL`**: a table needs its label column. Other problems with
#   the table (a column that is not numeric, a missing file) are reported in one line before
#   the server starts.
# - **Predictions that make no sense** from an exported model: the rows were in the table's
#   units rather than the page's coordinates (see above).
