"""The serving benchmark's anchor: the seeds' design, a Flask REST API, serving the same net as
mlpipe's bench (cnn-small: conv 8@5x5, pool, conv 16@5x5, pool, dense 10, softmax) in PyTorch.
Run by bench/serve/run.ts under gunicorn (one sync worker), with Debian's python3-flask,
python3-torch and gunicorn. Same request and answer as the gateway's POST /predict:
{"pixels": [784 numbers], "range": "unit" | "byte"} -> {"class", "probabilities"}.
Weights are seeded, not trained: the cost of a prediction does not depend on them."""

import torch
from flask import Flask, jsonify, request
from torch import nn


def create_app() -> Flask:
    torch.manual_seed(1)
    net = nn.Sequential(
        nn.Conv2d(1, 8, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(256, 10), nn.Softmax(dim=1),
    ).eval()
    app = Flask(__name__)

    @app.post("/predict")
    def predict():
        body = request.get_json(force=True, silent=True)
        pixels = body.get("pixels") if isinstance(body, dict) else None
        if not isinstance(pixels, list) or len(pixels) != 784:
            return jsonify(error="pixels must be 784 numbers"), 400
        scale = 255.0 if body.get("range") == "byte" else 1.0
        try:
            x = torch.tensor(pixels, dtype=torch.float32).view(1, 1, 28, 28) / scale
        except (TypeError, ValueError):
            return jsonify(error="pixels must be numbers"), 400
        with torch.inference_mode():
            p = net(x)[0]
        return jsonify({"class": int(p.argmax()), "probabilities": p.tolist()})

    @app.get("/healthz")
    def healthz():
        return jsonify(ok=True)

    return app


app = create_app()
