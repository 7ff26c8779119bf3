#!/usr/bin/python3
"""Reference PatchCore training in plain PyTorch, written to follow anomalib's code path.

Used by bench/train_vs_pytorch.sh as the yardstick for `patchcore train`. Run it with Debian's
/usr/bin/python3 and python3-torch / python3-torchvision (1.13 / 0.14, the same LibTorch version
the C++ project links):

    /usr/bin/python3 bench/reference_patchcore.py --data-dir DIR --threads 2 [--json OUT.json]

What it mirrors (anomalib PatchcoreModel / Patchcore lightning module / KCenterGreedy /
SparseRandomProjection):
  * backbone: torchvision wide_resnet50_2(weights=None) in eval mode, run stem + layer1..layer3
    only (anomalib's TimmFeatureExtractor builds timm's features_only net, which stops after the
    deepest requested layer);
  * embedding: AvgPool2d(3, 1, 1) on each layer, bilinear interpolate of layer3 to layer2's grid
    (F.interpolate(mode="bilinear"), align_corners default), cat on channels,
    permute(0, 2, 3, 1).reshape(-1, C);
  * training_step appends each batch embedding to a list; fit() does torch.vstack(list) and then
    KCenterGreedy(embedding, ratio).sample_coreset();
  * SparseRandomProjection(eps=0.9): JL dimension 4 ln(n) / (eps^2/2 - eps^3/3), float64 sparse
    matrix built row by row (Binomial nnz, +-1 * sqrt(1/density)/sqrt(k)), projection as a dense
    `embedding @ matrix.T.float()`. The only change: sklearn's sample_without_replacement is
    replaced by torch.randperm()[:nnz] (same distribution, no sklearn dependency);
  * KCenterGreedy: random first index, then per step F.pairwise_distance(features, center) and
    torch.minimum with the running min-distance column, argmax, min_distances[idx] = 0.
Images: decoded with cv2 (IMREAD_COLOR) when available, else PIL; resized to 224x224 (cv2
INTER_LINEAR / PIL bilinear), BGR->RGB, /255, ImageNet mean/std. Decoding happens in the
training loop, in the main process (no DataLoader workers), as in `patchcore train`.

Prints one JSON line with wall time, phases and peak RSS (ru_maxrss); progress goes to stderr.
"""
import argparse
import json
import math
import os
import resource
import sys
import time

T_START = time.perf_counter()

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import torchvision  # noqa: E402

try:
    import cv2  # noqa: E402
except ImportError:  # pragma: no cover
    cv2 = None

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp")


def log(msg):
    print(f"[reference {time.perf_counter() - T_START:7.1f}s] {msg}", file=sys.stderr, flush=True)


def peak_rss_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def load_image(path, size):
    if cv2 is not None:
        bgr = cv2.imread(path, cv2.IMREAD_COLOR)
        bgr = cv2.resize(bgr, (size, size), interpolation=cv2.INTER_LINEAR)
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    else:
        from PIL import Image
        rgb = np.asarray(Image.open(path).convert("RGB").resize((size, size), Image.BILINEAR))
    x = rgb.astype(np.float32) / 255.0
    x = (x - IMAGENET_MEAN) / IMAGENET_STD
    return torch.from_numpy(x.transpose(2, 0, 1).copy())


class FeatureExtractor(torch.nn.Module):
    """torchvision wide_resnet50_2 cut after layer3, returning layer2 and layer3."""

    def __init__(self):
        super().__init__()
        m = torchvision.models.wide_resnet50_2(weights=None)
        self.stem = torch.nn.Sequential(m.conv1, m.bn1, m.relu, m.maxpool)
        self.layer1, self.layer2, self.layer3 = m.layer1, m.layer2, m.layer3

    def forward(self, x):
        x = self.layer1(self.stem(x))
        l2 = self.layer2(x)
        l3 = self.layer3(l2)
        return {"layer2": l2, "layer3": l3}


class PatchcoreModel(torch.nn.Module):
    def __init__(self, layers=("layer2", "layer3")):
        super().__init__()
        self.layers = list(layers)
        self.feature_extractor = FeatureExtractor().eval()
        self.feature_pooler = torch.nn.AvgPool2d(3, 1, 1)

    def generate_embedding(self, features):
        embeddings = features[self.layers[0]]
        for layer in self.layers[1:]:
            layer_embedding = F.interpolate(features[layer], size=embeddings.shape[-2:], mode="bilinear")
            embeddings = torch.cat((embeddings, layer_embedding), 1)
        return embeddings

    @staticmethod
    def reshape_embedding(embedding):
        return embedding.permute(0, 2, 3, 1).reshape(-1, embedding.size(1))

    def forward(self, x):
        with torch.no_grad():
            features = self.feature_extractor(x)
        features = {k: self.feature_pooler(v) for k, v in features.items()}
        return self.reshape_embedding(self.generate_embedding(features))


class SparseRandomProjection:
    def __init__(self, eps=0.1):
        self.eps = eps

    @staticmethod
    def johnson_lindenstrauss_min_dim(n_samples, eps):
        denominator = (eps ** 2 / 2) - (eps ** 3 / 3)
        return int(4 * np.log(n_samples) / denominator)

    def _sparse_random_matrix(self, n_features):
        density = 1 / np.sqrt(n_features)
        components = torch.zeros((self.n_components, n_features), dtype=torch.float64)
        for i in range(self.n_components):
            nnz = int(torch.distributions.Binomial(total_count=n_features, probs=density).sample())
            c_idx = torch.randperm(n_features)[:nnz]
            data = torch.randint(0, 2, size=(c_idx.shape[0],), dtype=torch.float64) * 2 - 1
            components[i, c_idx] = data
        components *= np.sqrt(1 / density) / np.sqrt(self.n_components)
        return components

    def fit(self, embedding):
        n_samples, n_features = embedding.shape
        self.n_components = self.johnson_lindenstrauss_min_dim(n_samples, self.eps)
        self.sparse_random_matrix = self._sparse_random_matrix(n_features).to(embedding.device)
        return self

    def transform(self, embedding):
        return embedding @ self.sparse_random_matrix.T.float()


class KCenterGreedy:
    def __init__(self, embedding, sampling_ratio, timings):
        self.embedding = embedding
        self.coreset_size = int(embedding.shape[0] * sampling_ratio)
        self.model = SparseRandomProjection(eps=0.9)
        self.min_distances = None
        self.n_observations = embedding.shape[0]
        self.timings = timings

    def update_distances(self, cluster_centers):
        if cluster_centers:
            centers = self.features[cluster_centers]
            distance = F.pairwise_distance(self.features, centers, p=2).reshape(-1, 1)
            if self.min_distances is None:
                self.min_distances = distance
            else:
                self.min_distances = torch.minimum(self.min_distances, distance)

    def get_new_idx(self):
        return int(torch.argmax(self.min_distances).item())

    def select_coreset_idxs(self):
        t = time.perf_counter()
        self.model.fit(self.embedding)
        self.features = self.model.transform(self.embedding)
        self.min_distances = None
        self.timings["projection"] = time.perf_counter() - t
        log(f"projection {tuple(self.embedding.shape)} -> {tuple(self.features.shape)} in "
            f"{self.timings['projection']:.1f}s; greedy {self.coreset_size} steps")
        t = time.perf_counter()
        selected = []
        idx = int(torch.randint(high=self.n_observations, size=(1,)).item())
        for step in range(self.coreset_size):
            self.update_distances(cluster_centers=[idx])
            idx = self.get_new_idx()
            self.min_distances[idx] = 0
            selected.append(idx)
            if (step + 1) % 100 == 0:
                el = time.perf_counter() - t
                log(f"greedy step {step + 1}/{self.coreset_size} {el:.1f}s "
                    f"(~{el / (step + 1) * self.coreset_size:.0f}s total)")
        self.timings["greedy"] = time.perf_counter() - t
        return selected

    def sample_coreset(self):
        return self.embedding[self.select_coreset_idxs()]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data-dir", required=True)
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--coreset-ratio", type=float, default=0.001)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="also write the result here")
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    timings = {"import": time.perf_counter() - T_START}
    files = sorted(os.path.join(a.data_dir, f) for f in os.listdir(a.data_dir)
                   if f.lower().endswith(EXTENSIONS))
    if not files:
        sys.exit(f"no images in {a.data_dir}")

    t = time.perf_counter()
    model = PatchcoreModel()
    model.feature_extractor.eval()
    timings["model"] = time.perf_counter() - t

    t = time.perf_counter()
    embeddings = []
    for first in range(0, len(files), a.batch_size):
        batch = torch.stack([load_image(f, a.image_size) for f in files[first:first + a.batch_size]])
        embeddings.append(model(batch))
        done = min(first + a.batch_size, len(files))
        log(f"features {done}/{len(files)} images {time.perf_counter() - t:.1f}s")
    timings["features"] = time.perf_counter() - t

    t = time.perf_counter()
    embedding = torch.vstack(embeddings)  # anomalib Patchcore.fit()
    timings["vstack"] = time.perf_counter() - t
    t = time.perf_counter()
    memory_bank = KCenterGreedy(embedding, a.coreset_ratio, timings).sample_coreset()
    timings["coreset"] = time.perf_counter() - t

    result = {
        "images": len(files), "patches": int(embedding.shape[0]), "features": int(embedding.shape[1]),
        "memory_bank": int(memory_bank.shape[0]), "threads": a.threads,
        "torch": torch.__version__, "torchvision": torchvision.__version__,
        "decoder": "cv2" if cv2 is not None else "PIL",
        "timings_s": {k: round(v, 3) for k, v in timings.items()},
        "wall_s_in_process": round(time.perf_counter() - T_START, 3),
        "peak_rss_bytes": peak_rss_bytes(),
    }
    line = json.dumps(result)
    print(line, flush=True)
    if a.json:
        with open(a.json, "w") as fh:
            fh.write(line + "\n")


if __name__ == "__main__":
    main()
