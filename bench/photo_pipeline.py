"""The field app's photo pipeline on a 12-megapixel camera JPEG, against bare Pillow.

Run: ``.venv/bin/python bench/photo_pipeline.py [--runs 10]``

The input is made in the run: 4000x3000, photograph-like content (colour fields and gradients,
detail and grain, hard edges; see ``_common.photo_like``), JPEG quality 92, with the EXIF a phone
writes (maker, model, time, GPS). Timed: ``mobile.core.photos.prepare`` on those bytes, the
function the app runs on every picked or camera photo (``save_photo`` adds only the file write);
it refuses, decodes, turns upright, shrinks to <= 1600 px and re-encodes at <= 400 KB without
metadata. The baseline, measured in the same run and interleaved with it: what a straightforward
implementation does, ``Image.open`` -> ``thumbnail((1600, 1600))`` -> ``save`` as JPEG at the
pipeline's first quality. Targets: every output <= 400 KB, no EXIF in any output, p50 ratio
<= 1.3x the baseline.
"""

import argparse
import hashlib
import io
import sys
import time

from _common import camera_jpegs, machine, percentile, verdict
from PIL import ExifTags, Image

from mobile.core.photos import MAX_OUTPUT_BYTES, MAX_SIDE, QUALITIES, prepare

SIZE = (4000, 3000)
INPUT_QUALITY = 92
TARGET_RATIO = 1.3
MAX_RUNS = 100


def bare_pillow(data: bytes) -> bytes:
    image = Image.open(io.BytesIO(data))
    image.thumbnail((MAX_SIDE, MAX_SIDE))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=QUALITIES[0])
    return out.getvalue()


def pipeline(data: bytes) -> bytes:
    return prepare(data).data


def timed(fn, data: bytes) -> tuple[float, bytes]:
    t0 = time.perf_counter()
    out = fn(data)
    return time.perf_counter() - t0, out


def metadata_left(data: bytes) -> list[str]:
    """What of the camera's metadata an output still carries (empty: clean)."""
    image = Image.open(io.BytesIO(data))
    left: list[str] = [
        key for key in ("exif", "icc_profile", "xmp", "comment") if key in image.info
    ]
    if image.getexif():
        left.append("EXIF tags")
    if b"Exif\0" in data or b"PhoneMaker" in data:
        left.append("EXIF bytes")
    return left


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="timed runs of each (default 10)")
    runs = max(1, min(parser.parse_args().runs, MAX_RUNS))
    print(machine())
    (data,) = camera_jpegs(SIZE, 1, quality=INPUT_QUALITY)
    source = Image.open(io.BytesIO(data))
    gps = source.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    width, height = source.size
    print(f"input:    {width}x{height} JPEG q{INPUT_QUALITY}, {len(data):,} bytes,")
    print(f"          EXIF with {len(source.getexif())} tags, GPS {'present' if gps else 'ABSENT'}")

    pipeline(data), bare_pillow(data)  # warm-up: imports, first allocations
    ours: list[float] = []
    bare: list[float] = []
    outputs: list[bytes] = []
    bare_out = b""
    for _ in range(runs):  # interleaved, so a busy moment on the machine hits both
        seconds, out = timed(pipeline, data)
        ours.append(seconds)
        outputs.append(out)
        seconds, bare_out = timed(bare_pillow, data)
        bare.append(seconds)

    p50, p95 = percentile(ours, 50), percentile(ours, 95)
    b50, b95 = percentile(bare, 50), percentile(bare, 95)
    ratio = p50 / b50
    largest = max(len(out) for out in outputs)
    leaks = sorted({leak for out in outputs for leak in metadata_left(out)})
    result = Image.open(io.BytesIO(outputs[0]))
    bare_image = Image.open(io.BytesIO(bare_out))
    hashes = {hashlib.sha256(out).hexdigest() for out in outputs}

    print(f"pipeline: prepare() x {runs}: p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms")
    print(f"          output {result.size[0]}x{result.size[1]} JPEG, {len(outputs[0]):,} bytes")
    print(
        f"baseline: open -> thumbnail((1600, 1600)) -> save q{QUALITIES[0]} x {runs}: "
        f"p50 {b50 * 1000:.0f} ms, p95 {b95 * 1000:.0f} ms"
    )
    print(f"          output {bare_image.size[0]}x{bare_image.size[1]}, {len(bare_out):,} bytes")
    print(f"ratio:    pipeline / bare p50 = {ratio:.2f}x")
    print(
        f"check:    {len(outputs)} outputs, largest {largest:,} bytes, {len(hashes)} distinct; "
        f"metadata left: {', '.join(leaks) or 'none'}"
    )
    print(
        f"targets:  <= {MAX_OUTPUT_BYTES:,} bytes (400 KB) {verdict(largest <= MAX_OUTPUT_BYTES)}; "
        f"no EXIF {verdict(not leaks)}; ratio <= {TARGET_RATIO} {verdict(ratio <= TARGET_RATIO)}"
    )
    sane = (
        len(data) > 2 * 1024 * 1024
        and gps
        and result.format == "JPEG"
        and max(result.size) == MAX_SIDE
        and bare_image.size == result.size
        and len(hashes) == 1  # the same photo must give the same file (stored once)
    )
    if not sane:
        print("FAILED: input or outputs are not what the benchmark expects", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
