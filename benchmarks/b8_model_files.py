"""B8: model files: the safetensors route against the first format's .npz, and the peers' loads.

For MLPs of three sizes (the digits run's 64-64-32-10, B1's 784-256-128-10, and a wide
784-2048-2048-10), in this process: the file's size, ``cr.save`` and ``cr.load`` (header
checks, digest, building the model) for a ``.safetensors`` and a ``.npz`` path, interleaved
over rounds, median; beside them ``safetensors.torch.load_file`` into a ``torch.nn.Sequential``
(``load_state_dict``) where torch is installed, and the export to ONNX with an onnxruntime
session's start where onnx is.

Run: python benchmarks/b8_model_files.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _harness import versions  # noqa: E402

SIZES = {
    "digits 64-64-32-10": (64, [64, 32], 10),
    "B1 784-256-128-10": (784, [256, 128], 10),
    "wide 784-2048-2048-10": (784, [2048, 2048], 10),
}


def _seconds(function: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    import chainrule as cr
    from chainrule import nn

    peers: dict[str, str] = {}
    for name in ("safetensors", "torch", "onnx", "onnxruntime"):
        try:
            module = __import__(name)
            peers[name] = module.__version__
        except ImportError:
            pass
    print(versions(peers))
    folder = Path(tempfile.mkdtemp(prefix="b8-"))
    print(f"{'model':<24} {'format':<12} {'size KB':>9} {'save ms':>9} {'load ms':>9}")
    for label, (inputs, hidden, outputs) in SIZES.items():
        cr.manual_seed(0)
        model = nn.mlp(inputs, hidden, outputs, "relu")
        for suffix in (".safetensors", ".npz"):
            path = folder / f"model{suffix}"
            save = _seconds(lambda model=model, path=path: cr.save(model, path), args.rounds)
            load = _seconds(lambda path=path: cr.load(path), args.rounds)
            size = path.stat().st_size / 1024
            print(
                f"{label:<24} {suffix[1:]:<12} {size:>9.1f} {save * 1e3:>9.2f} {load * 1e3:>9.2f}"
            )
        if "torch" in peers:
            import torch
            from safetensors.torch import load_file

            layers: list[torch.nn.Module] = []
            widths = [inputs, *hidden, outputs]
            for position, (a, b) in enumerate(zip(widths, widths[1:])):
                layers.append(torch.nn.Linear(a, b))
                if position < len(widths) - 2:
                    layers.append(torch.nn.ReLU())
            twin = torch.nn.Sequential(*layers)
            path = folder / "model.safetensors"
            load = _seconds(
                lambda twin=twin, path=path: twin.load_state_dict(load_file(path)), args.rounds
            )
            print(f"{label:<24} {'-> torch':<12} {'':>9} {'':>9} {load * 1e3:>9.2f}")
        if "onnx" in peers and "onnxruntime" in peers:
            import onnxruntime

            from chainrule.export import to_onnx

            path = folder / "model.onnx"
            save = _seconds(lambda model=model, path=path: to_onnx(model, path), args.rounds)
            load = _seconds(lambda path=path: onnxruntime.InferenceSession(str(path)), args.rounds)
            size = path.stat().st_size / 1024
            print(f"{label:<24} {'onnx':<12} {size:>9.1f} {save * 1e3:>9.2f} {load * 1e3:>9.2f}")


if __name__ == "__main__":
    main()
