"""micrograd's own demo step, timed: MLP(2, [16, 16, 1]) on the 100 two-moons points of
demo.json, from the same starting parameters as the Rust benchmarks, max-margin loss +
1e-4 L2, full batch, micrograd's schedule lr = 1 - 0.9 k / 100. Prints the median step with
Python's garbage collector on and off, and checks each step's loss against the hand-written
Rust step's (demo.json's "losses").

    pip install -r requirements.txt && python3 demo_step.py [steps per setting, default 10]
"""

import gc
import json
import statistics
import sys
import time
from pathlib import Path

from micrograd.engine import Value
from micrograd.nn import MLP


def step(model, xs, ys, lr):
    """One step as micrograd's demo notebook writes it; returns the loss before the update."""
    inputs = [list(map(Value, x)) for x in xs]
    scores = list(map(model, inputs))
    losses = [(1 + -y * score).relu() for y, score in zip(ys, scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    reg_loss = 1e-4 * sum(p * p for p in model.parameters())
    total_loss = data_loss + reg_loss
    model.zero_grad()
    total_loss.backward()
    for p in model.parameters():
        p.data -= lr * p.grad
    return total_loss.data


def main():
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    demo = json.loads((Path(__file__).parent / "demo.json").read_text())
    for collector in ("on", "off"):
        model = MLP(2, [16, 16, 1])
        for p, v in zip(model.parameters(), demo["start"], strict=True):
            p.data = v
        gc.enable() if collector == "on" else gc.disable()
        times = []
        for k in range(steps):
            start = time.perf_counter()
            loss = step(model, demo["xs"], demo["ys"], 1.0 - 0.9 * k / 100)
            times.append(time.perf_counter() - start)
            want = demo["losses"][k]
            assert abs(loss - want) <= 1e-9 * abs(want), f"step {k}: loss {loss}, Rust {want}"
        gc.enable()
        print(
            f"garbage collector {collector}: median step {statistics.median(times) * 1e3:.0f} ms "
            f"over {steps} steps (min {min(times) * 1e3:.0f}, max {max(times) * 1e3:.0f})"
        )


if __name__ == "__main__":
    main()
