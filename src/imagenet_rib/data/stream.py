"""Stream dataset rows through a model's transform: decode on the fly, never materialise.

A `datasets.Dataset` part holds the encoded image bytes (memory-mapped Arrow). The datasets
below read them raw (``Image(decode=False)``), so an image is decoded where its item is
built: in a `torch.utils.data.DataLoader` worker process. Decoding is PIL's, exactly as
`datasets.Image` does it (``load()``, then the EXIF orientation); `ImageTransform.geometry`
then gives uint8 (3, crop, crop). Batches travel as uint8 (pinned when they go to a GPU) and
are normalised, (x / 255 - mean) / std, on the device. Memory is
O(batch x workers x prefetch), never O(N).

- `ImageRows`: sample i -> ``{"pixel_values": uint8 (3, H, W), "labels": target}`` for the
  Trainer and the EWC Fisher (a sampler orders and shards it; `__getitems__` reads a whole
  batch of rows with one Arrow query);
- `PartBatches`: batch k -> consecutive rows of one part's shard, for the evaluation (one
  DataLoader, hence one set of workers, serves every part of an evaluation). With
  ``encoded=True`` it hands the JPEG bytes over for decoding on the GPU (`decode_on_device`,
  nvJPEG + resize/crop on the device: close to, not bit-equal to, the PIL path); images
  nvJPEG cannot take as they are (other formats, CMYK, an EXIF orientation) are decoded on
  the CPU in the worker, exactly.

This module imports torch: import it inside functions (`import imagenet_rib` stays light).
"""

from __future__ import annotations

import io
import logging
import os
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..errors import ConfigError, DatasetError

if TYPE_CHECKING:
    import datasets
    from PIL import Image

    from ..transforms import ImageTransform

logger = logging.getLogger(__name__)

_JPEG_MAGIC = b"\xff\xd8\xff"
_ORIENTATION = 0x0112  # EXIF tag


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask, not the machine's count)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


#: an automatic worker count (``num_workers=-1``) decodes a part of fewer rows in process:
#: starting a loader worker (a fresh interpreter importing torch) costs seconds, more than
#: decoding a few thousand small images; a user-given count is always used as given
AUTO_IN_PROCESS_ROWS = 4096


def loader_workers(requested: int, resolved: int, rows: int) -> int:
    """The loader workers for `rows` rows: `resolved` (the count `requested` resolves to),
    or 0 when the count is automatic (`requested` < 0) and `rows` < AUTO_IN_PROCESS_ROWS."""
    return 0 if requested < 0 and rows < AUTO_IN_PROCESS_ROWS else resolved


def default_workers(cap: int) -> int:
    """Loader workers per process: this process's share of the cores, at most `cap`.

    Processes of one launch on one node (``LOCAL_WORLD_SIZE``) split the cores between them.
    """
    local = max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    return max(1, min(cap, available_cores() // local))


def raw_images(ds: datasets.Dataset) -> datasets.Dataset:
    """The image column of `ds`, undecoded: row -> ``{"image": {"bytes", "path"}}``."""
    import datasets

    if "image" not in ds.column_names:
        raise DatasetError(
            f"dataset has no 'image' column (columns: {ds.column_names}); convert it with "
            f"`rib datasets build` to the shared schema"
        )
    return ds.select_columns(["image"]).cast_column("image", datasets.Image(decode=False))


def read_bytes(value: dict[str, Any]) -> bytes:
    """The encoded bytes of one raw image value (embedded bytes, else a local file)."""
    data = value.get("bytes")
    if data is not None:
        return data
    path = value.get("path")
    try:
        with open(path, "rb") as fh:  # type: ignore[arg-type]
            return fh.read()
    except (OSError, TypeError) as err:
        raise DatasetError(
            f"cannot read image {path!r} ({err}); rows must embed their bytes or name a "
            f"local file: convert the download with `rib datasets build`"
        ) from None


def decode_image(data: bytes) -> Image.Image:
    """PIL image of encoded bytes, decoded exactly as `datasets.Image` decodes them."""
    from PIL import Image, ImageOps

    image = Image.open(io.BytesIO(data))
    image.load()
    if image.getexif().get(_ORIENTATION) is not None:
        image = ImageOps.exif_transpose(image)
    return image


def _pixels(transform: ImageTransform, data: bytes) -> np.ndarray:
    return transform.geometry(decode_image(data))  # (3, crop, crop) uint8


class ImageRows(torch.utils.data.Dataset):
    """Rows of `ds` as samples ``{"pixel_values": (3, crop, crop), "labels": int}``.

    `pixel_values` is uint8 (normalise on the device: `ImageTransform.normalize`), or the
    normalised float32 tensor with ``normalize=True`` (for a plain `transformers.Trainer`).
    `targets` (N,) are the label-protocol targets (`SplitPart.targets`); without them the
    samples carry no ``labels``.
    """

    def __init__(
        self,
        ds: datasets.Dataset,
        transform: ImageTransform,
        targets: Sequence[int] | np.ndarray | None = None,
        *,
        normalize: bool = False,
    ) -> None:
        if targets is not None and len(targets) != len(ds):
            raise DatasetError(f"{len(ds)} rows but {len(targets)} targets")
        self.raw = raw_images(ds)
        self.transform = transform
        self.targets = None if targets is None else np.asarray(targets, dtype=np.int64)
        self.normalize = normalize

    def __len__(self) -> int:
        return len(self.raw)

    def _item(self, i: int, value: dict[str, Any]) -> dict[str, Any]:
        x = torch.from_numpy(_pixels(self.transform, read_bytes(value)))
        item: dict[str, Any] = {
            "pixel_values": self.transform.normalize(x) if self.normalize else x
        }
        if self.targets is not None:
            item["labels"] = int(self.targets[i])
        return item

    def __getitem__(self, i: int) -> dict[str, Any]:
        i = int(i)
        return self._item(i, self.raw[i]["image"])

    def __getitems__(self, indices: Sequence[int]) -> list[dict[str, Any]]:
        """A batch of samples with one Arrow query (the DataLoader calls this when present)."""
        idx = [int(i) for i in indices]
        values = self.raw[idx]["image"]
        return [self._item(i, v) for i, v in zip(idx, values)]


def collate_samples(samples: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
    """Samples of `ImageRows` -> ``{"pixel_values": (B, 3, H, W), "labels": (B,) int64}``."""
    out = {"pixel_values": torch.stack([s["pixel_values"] for s in samples])}
    if samples and "labels" in samples[0]:
        out["labels"] = torch.tensor([s["labels"] for s in samples], dtype=torch.int64)
    return out


def make_loader(
    rows: ImageRows,
    *,
    batch_size: int,
    num_workers: int,
    pin_memory: bool = False,
    prefetch_factor: int = 2,
) -> torch.utils.data.DataLoader:
    """A sequential (unshuffled) loader of `rows` in batches (`collate_samples`)."""
    workers = min(num_workers, -(-len(rows) // batch_size)) if len(rows) else 0
    return torch.utils.data.DataLoader(
        rows,
        batch_size=batch_size,
        shuffle=False,
        num_workers=workers,
        collate_fn=collate_samples,
        pin_memory=pin_memory,
        prefetch_factor=prefetch_factor if workers else None,
    )


def _nvjpeg_ready(data: bytes) -> bool:
    """JPEG that nvJPEG decodes to the PIL path's RGB: 3-channel or grey, no EXIF rotation."""
    if not data.startswith(_JPEG_MAGIC):
        return False
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:  # reads the header only
            return img.mode in ("RGB", "L") and img.getexif().get(_ORIENTATION, 1) == 1
    except Exception:  # noqa: BLE001 - let the exact CPU path raise its own error
        return False


class PartBatches(torch.utils.data.Dataset):
    """Item k = batch k of consecutive rows of one shard; use with ``batch_size=None``.

    `shards` lists ``(dataset, lo, hi)``: rows [lo, hi) of each dataset part. Batches never
    span two parts; `plan` holds ``(part, offset in the shard, rows)`` per batch. An item is
    ``{"part", "offset", "pixel_values": uint8 (B, 3, crop, crop)}``, or with ``encoded=True``
    ``{"part", "offset", "jpeg": [B_j bytes tensors], "jpeg_pos": (B_j,), "pixels":
    (B_c, 3, crop, crop), "pixels_pos": (B_c,)}`` (see `decode_on_device`).
    """

    def __init__(
        self,
        shards: Sequence[tuple[datasets.Dataset, int, int]],
        transform: ImageTransform,
        batch_size: int,
        *,
        encoded: bool = False,
    ) -> None:
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        self.raws = [raw_images(ds) for ds, _, _ in shards]
        self.starts = [lo for _, lo, _ in shards]
        self.transform, self.encoded = transform, encoded
        self.plan = [
            (p, off, min(batch_size, hi - lo - off))
            for p, (_, lo, hi) in enumerate(shards)
            for off in range(0, hi - lo, batch_size)
        ]

    def __len__(self) -> int:
        return len(self.plan)

    def __getitem__(self, k: int) -> dict[str, Any]:
        part, off, n = self.plan[k]
        lo = self.starts[part] + off
        values = self.raws[part][lo : lo + n]["image"]
        out: dict[str, Any] = {"part": part, "offset": off}
        crop = self.transform.crop
        if not self.encoded:
            px = np.stack([_pixels(self.transform, read_bytes(v)) for v in values])
            out["pixel_values"] = torch.from_numpy(px)
            return out
        jpeg, jpeg_pos, px, px_pos = [], [], [], []
        for j, v in enumerate(values):
            data = read_bytes(v)
            if _nvjpeg_ready(data):
                jpeg.append(torch.frombuffer(bytearray(data), dtype=torch.uint8))
                jpeg_pos.append(j)
            else:
                px.append(_pixels(self.transform, data))
                px_pos.append(j)
        out["jpeg"], out["jpeg_pos"] = jpeg, torch.tensor(jpeg_pos, dtype=torch.int64)
        out["pixels"] = torch.from_numpy(
            np.stack(px) if px else np.zeros((0, 3, crop, crop), dtype=np.uint8)
        )
        out["pixels_pos"] = torch.tensor(px_pos, dtype=torch.int64)
        return out


# ------------------------------------------------------------------------ decoding on device

_MODES = {"bilinear": "BILINEAR", "bicubic": "BICUBIC", "nearest": "NEAREST"}


def check_device_transform(transform: ImageTransform) -> None:
    """Raise if `device_geometry` cannot reproduce `transform` (lanczos has no tensor kernel)."""
    if transform.interpolation not in _MODES:
        raise ConfigError(
            f"decode='gpu' cannot resize with {transform.interpolation!r} interpolation "
            f"(torchvision has no {transform.interpolation} kernel for tensors); use decode='cpu'"
        )


def device_geometry(image: torch.Tensor, transform: ImageTransform) -> torch.Tensor:
    """`ImageTransform.geometry` on a decoded uint8 (3, h, w) tensor, on its own device.

    Same output size and crop box as the PIL path; the resampling is torchvision's
    (antialiased), so pixels differ from PIL's by a few levels at most.
    """
    from torchvision.transforms.v2 import InterpolationMode
    from torchvision.transforms.v2 import functional as F

    h, w = image.shape[-2:]
    nw, nh = transform.resized_size(int(w), int(h))
    if (nw, nh) != (w, h):
        mode = getattr(InterpolationMode, _MODES[transform.interpolation])
        image = F.resize(image, [nh, nw], interpolation=mode, antialias=True)
    c = transform.crop
    left, top = transform.crop_offsets(nw, nh)
    return image[:, top : top + c, left : left + c]


def _decode_jpegs(data: list[torch.Tensor], device: torch.device) -> list[torch.Tensor]:
    """Batched decode (nvJPEG on CUDA); an image the batch call rejects is retried alone,
    then decoded on the CPU with PIL."""
    from torchvision.io import ImageReadMode, decode_jpeg

    with warnings.catch_warnings():  # torchvision 0.29 flags its image codecs as deprecated
        warnings.simplefilter("ignore")
        try:
            return list(decode_jpeg(data, mode=ImageReadMode.RGB, device=device))
        except RuntimeError as err:
            logger.warning("batched JPEG decode failed (%s); decoding one by one", err)
        out = []
        for d in data:
            try:
                out.append(decode_jpeg(d, mode=ImageReadMode.RGB, device=device))
            except RuntimeError:
                rgb = np.asarray(decode_image(d.numpy().tobytes()).convert("RGB"))
                out.append(torch.from_numpy(rgb.transpose(2, 0, 1).copy()).to(device))
        return out


def decode_on_device(
    batch: dict[str, Any], transform: ImageTransform, device: torch.device
) -> torch.Tensor:
    """uint8 (B, 3, crop, crop) on `device` from an ``encoded=True`` `PartBatches` item."""
    c = transform.crop
    n = len(batch["jpeg"]) + len(batch["pixels"])
    out = torch.empty((n, 3, c, c), dtype=torch.uint8, device=device)
    if len(batch["pixels"]):
        out[batch["pixels_pos"].to(device)] = batch["pixels"].to(device, non_blocking=True)
    if batch["jpeg"]:
        images = _decode_jpegs(batch["jpeg"], device)
        out[batch["jpeg_pos"].to(device)] = torch.stack(
            [device_geometry(im, transform) for im in images]
        )
    return out
