"""Small, valid media files written from scratch: what the local server's output URLs serve.

A client under test downloads, decodes and saves outputs, so the bytes behind a synthesised
``Image``/``Video``/``Audio``/``File`` must be real files of the type they claim: PNG, baseline
JPEG and lossless WebP images, MP4 (ISO BMFF with Motion-JPEG frames), WAV and MP3 audio, glTF
binary, safetensors, zip and text.
Every file is a pure function of its :class:`MediaSpec`, so outputs are deterministic.
"""

from __future__ import annotations

import io
import json
import math
import struct
import wave
import zipfile
import zlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

__all__ = ["Media", "MediaSpec", "kind_for_content_type", "kind_for_extension", "make_media"]

MAX_SIDE: Final = 2048
"""Images and video frames are clamped to this many pixels a side (the output reports the truth)."""

_KINDS: Final[dict[str, tuple[str, str]]] = {
    # kind: (content type, file extension)
    "png": ("image/png", "png"),
    "jpeg": ("image/jpeg", "jpg"),
    "webp": ("image/webp", "webp"),
    "svg": ("image/svg+xml", "svg"),
    "mp4": ("video/mp4", "mp4"),
    "wav": ("audio/wav", "wav"),
    "mp3": ("audio/mpeg", "mp3"),
    "glb": ("model/gltf-binary", "glb"),
    "obj": ("model/obj", "obj"),
    "json": ("application/json", "json"),
    "text": ("text/plain", "txt"),
    "safetensors": ("application/octet-stream", "safetensors"),
    "zip": ("application/zip", "zip"),
    "bin": ("application/octet-stream", "bin"),
}

_EXTENSIONS: Final[dict[str, str]] = {
    **dict.fromkeys(("png", "gif", "bmp", "tif", "tiff", "avif", "heic"), "png"),
    **dict.fromkeys(("jpg", "jpeg", "jfif"), "jpeg"),
    "webp": "webp",
    "svg": "svg",
    **dict.fromkeys(("mp4", "webm", "mov", "avi", "mkv", "m4v"), "mp4"),
    **dict.fromkeys(("wav", "m4a", "flac", "ogg", "aac", "opus", "pcm"), "wav"),
    "mp3": "mp3",
    **dict.fromkeys(("glb", "gltf", "fbx", "usdz", "ply", "stl", "3mf"), "glb"),
    "obj": "obj",
    "json": "json",
    **dict.fromkeys(("txt", "srt", "vtt", "md", "mtl", "csv"), "text"),
    **dict.fromkeys(("safetensors", "ckpt", "pt", "bin_weights"), "safetensors"),
    **dict.fromkeys(("zip", "gz", "tar", "tgz"), "zip"),
}


def kind_for_extension(extension: str) -> str | None:
    """The media kind written for a file extension (``"webp"`` -> ``"png"``), if any."""
    return _EXTENSIONS.get(extension.lower().lstrip("."))


def kind_for_content_type(content_type: str) -> str | None:
    """The media kind written for a MIME type (``"video/webm"`` -> ``"mp4"``), if any."""
    major, _, minor = content_type.lower().partition(";")[0].strip().partition("/")
    if major == "image":
        if minor in ("jpeg", "jpg", "webp"):
            return "webp" if minor == "webp" else "jpeg"
        return "svg" if minor.startswith("svg") else "png"
    if major == "video":
        return "mp4"
    if major == "audio":
        return "mp3" if minor in ("mpeg", "mp3") else "wav"
    if major == "model":
        return "obj" if minor == "obj" else "glb"
    if major == "text":
        return "text"
    if minor == "json":
        return "json"
    if minor in ("zip", "gzip", "x-tar", "x-zip-compressed"):
        return "zip"
    return None


@dataclass(frozen=True)
class MediaSpec:
    """What to write: a kind, pixel size (images and video) and a colour/tone seed."""

    kind: str
    width: int = 1024
    height: int = 768
    seed: int = 0


@dataclass(frozen=True)
class Media:
    """A written file and the facts an output object reports about it."""

    data: bytes
    content_type: str
    extension: str
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    fps: float | None = None
    num_frames: int | None = None
    sample_rate: int | None = None
    channels: int | None = None
    bitrate: int | None = None


_PICTURES: Final = frozenset({"png", "jpeg", "webp", "svg", "mp4"})
"""Kinds with a pixel size."""


def make_media(spec: MediaSpec) -> Media:
    """Write the file ``spec`` describes (cached: identical specs give identical bytes)."""
    kind = spec.kind if spec.kind in _KINDS else "bin"
    if kind in _PICTURES:
        width = max(1, min(spec.width, MAX_SIDE))
        height = max(1, min(spec.height, MAX_SIDE))
        return _cached(MediaSpec(kind, width, height, spec.seed % len(_PALETTE)))
    return _cached(MediaSpec(kind, 0, 0, spec.seed % 64))


_PALETTE: Final = (
    (231, 76, 60),
    (46, 204, 113),
    (52, 152, 219),
    (241, 196, 15),
    (155, 89, 182),
    (26, 188, 156),
    (230, 126, 34),
    (236, 240, 241),
)


@lru_cache(maxsize=64)
def _cached(spec: MediaSpec) -> Media:
    content_type, extension = _KINDS[spec.kind]
    rgb = _PALETTE[spec.seed % len(_PALETTE)]
    w, h = spec.width, spec.height
    if spec.kind == "png":
        return Media(png(w, h, rgb), content_type, extension, width=w, height=h)
    if spec.kind == "jpeg":
        return Media(jpeg(w, h, rgb), content_type, extension, width=w, height=h)
    if spec.kind == "webp":
        return Media(webp(w, h, rgb), content_type, extension, width=w, height=h)
    if spec.kind == "svg":
        return Media(svg(w, h, rgb), content_type, extension, width=w, height=h)
    if spec.kind == "mp4":
        fps, frames = 24, 24
        return Media(
            mp4_mjpeg(jpeg(w, h, rgb), w, h, fps=fps, frames=frames),
            content_type,
            extension,
            width=w,
            height=h,
            duration=frames / fps,
            fps=float(fps),
            num_frames=frames,
        )
    if spec.kind == "wav":
        rate, seconds = 16_000, 0.5
        data = wav_tone(220.0 + 40.0 * spec.seed, seconds=seconds, rate=rate)
        return Media(
            data,
            content_type,
            extension,
            duration=seconds,
            sample_rate=rate,
            channels=1,
            bitrate=rate * 16,
        )
    if spec.kind == "mp3":
        data, seconds = mp3_silence(0.5)
        return Media(
            data,
            content_type,
            extension,
            duration=seconds,
            sample_rate=_MP3_RATE,
            channels=1,
            bitrate=_MP3_BITRATE,
        )
    writers = {
        "glb": glb,
        "obj": lambda: b"o triangle\nv 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n",
        "json": lambda: b'{"generator": "fal_typed local server"}\n',
        "text": lambda: b"Synthetic output from the fal_typed local server.\n",
        "safetensors": safetensors_empty,
        "zip": zip_readme,
    }
    writer = writers.get(spec.kind)
    data = (
        writer()
        if writer is not None
        else bytes((spec.seed * 31 + i * 7) % 256 for i in range(256))
    )
    return Media(data, content_type, extension)


# -- images ------------------------------------------------------------------------------------


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + tag
        + data
        + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
    )


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A solid-colour 8-bit RGB PNG (compressed in row batches, never the whole raster at once)."""
    row = b"\x00" + bytes(rgb) * width
    compressor = zlib.compressobj(6)
    parts: list[bytes] = []
    batch = max(1, (1 << 20) // len(row))
    for start in range(0, height, batch):
        parts.append(compressor.compress(row * min(batch, height - start)))
    parts.append(compressor.flush())
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", b"".join(parts))
        + _png_chunk(b"IEND", b"")
    )


def _segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def _magnitude_bits(value: int) -> tuple[int, str]:
    """JPEG's (category, extra bits) for a DC difference."""
    if value == 0:
        return 0, ""
    category = abs(value).bit_length()
    raw = value if value > 0 else value + (1 << category) - 1
    return category, format(raw, f"0{category}b")


def jpeg(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A solid-colour baseline JPEG (YCbCr 4:4:4), encoded directly.

    With a unit quantisation table a flat 8x8 block has only a DC coefficient, ``8 * (sample -
    128)``, so after the first block every block codes "DC difference 0, end of block". Two tiny
    Huffman tables (the DC categories used, and EOB alone) are all it needs.
    """
    r, g, b = rgb
    samples = (
        round(0.299 * r + 0.587 * g + 0.114 * b),
        round(128 - 0.168736 * r - 0.331264 * g + 0.5 * b),
        round(128 + 0.5 * r - 0.418688 * g - 0.081312 * b),
    )
    dcs = [8 * (min(255, max(0, s)) - 128) for s in samples]
    categories = sorted({0, *(_magnitude_bits(dc)[0] for dc in dcs)})
    dc_codes = {cat: format(i, "03b") for i, cat in enumerate(categories)}  # all length 3
    eob = "0"  # the AC table's only symbol, 0x00, length 1

    first = "".join(dc_codes[cat] + bits + eob for cat, bits in (_magnitude_bits(dc) for dc in dcs))
    rest = (dc_codes[0] + eob) * 3
    mcus = ((width + 7) // 8) * ((height + 7) // 8)
    bits = first + rest * (mcus - 1)
    bits += "1" * (-len(bits) % 8)
    scan = int(bits, 2).to_bytes(len(bits) // 8, "big").replace(b"\xff", b"\xff\x00")

    dc_counts = bytes(len(categories) if i == 2 else 0 for i in range(16))
    ac_counts = bytes(1 if i == 0 else 0 for i in range(16))
    return b"".join(
        (
            b"\xff\xd8",
            _segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"),
            _segment(0xDB, b"\x00" + b"\x01" * 64),
            _segment(
                0xC0,
                struct.pack(">BHHB", 8, height, width, 3) + b"\x01\x11\x00\x02\x11\x00\x03\x11\x00",
            ),
            _segment(0xC4, b"\x00" + dc_counts + bytes(categories) + b"\x10" + ac_counts + b"\x00"),
            _segment(0xDA, b"\x03\x01\x00\x02\x00\x03\x00\x00\x3f\x00"),
            scan,
            b"\xff\xd9",
        )
    )


class _Bits:
    """Bits packed least significant first, as VP8L reads them."""

    def __init__(self) -> None:
        self.value = 0
        self.count = 0

    def put(self, value: int, width: int) -> None:
        self.value |= (value & ((1 << width) - 1)) << self.count
        self.count += width

    def to_bytes(self) -> bytes:
        return self.value.to_bytes((self.count + 7) // 8, "little")


def _single_symbol_code(bits: _Bits, symbol: int) -> None:
    """A VP8L "simple" prefix code with one symbol: reading it takes no bits at all."""
    bits.put(1, 1)  # simple code
    bits.put(0, 1)  # one symbol
    wide = symbol > 1
    bits.put(int(wide), 1)
    bits.put(symbol, 8 if wide else 1)


def webp(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A solid-colour lossless WebP (VP8L), encoded directly.

    No transform and no colour cache; each of the five prefix codes (green, red, blue, alpha,
    distance) has a single symbol, so every pixel is coded in zero bits: the whole bitstream is
    its header and five tiny codes, whatever the size.
    """
    bits = _Bits()
    bits.put(0x2F, 8)  # VP8L signature
    bits.put(width - 1, 14)
    bits.put(height - 1, 14)
    bits.put(0, 1)  # no alpha
    bits.put(0, 3)  # version 0
    bits.put(0, 1)  # no transform
    bits.put(0, 1)  # no colour cache
    bits.put(0, 1)  # one prefix code group (no meta prefix image)
    red, green, blue = rgb
    for symbol in (green, red, blue, 255, 0):
        _single_symbol_code(bits, symbol)
    payload = bits.to_bytes()
    chunk = b"VP8L" + struct.pack("<I", len(payload)) + payload + b"\x00" * (len(payload) % 2)
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


def svg(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    fill = "#{:02x}{:02x}{:02x}".format(*rgb)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">'
        f'<rect width="100%" height="100%" fill="{fill}"/></svg>\n'
    ).encode()


# -- video -------------------------------------------------------------------------------------


def _box(kind: bytes, *payload: bytes) -> bytes:
    body = b"".join(payload)
    return struct.pack(">I", len(body) + 8) + kind + body


def _full_box(kind: bytes, version: int, flags: int, *payload: bytes) -> bytes:
    return _box(kind, struct.pack(">I", (version << 24) | flags), *payload)


_MATRIX: Final = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)


def _descriptor(tag: int, payload: bytes) -> bytes:
    size = len(payload)
    encoded = bytes(((size >> shift) & 0x7F) | (0x80 if shift else 0) for shift in (21, 14, 7, 0))
    return bytes((tag,)) + encoded + payload


def mp4_mjpeg(frame: bytes, width: int, height: int, *, fps: int, frames: int) -> bytes:
    """An ISO BMFF (MP4) file with one Motion-JPEG track; every sample is ``frame``.

    Layout ``ftyp, mdat, moov``: the single stored frame sits at a known offset and each of the
    ``frames`` chunks points at it, so the file stays small whatever the frame count.
    """
    ftyp = _box(b"ftyp", b"isom", struct.pack(">I", 0x200), b"isomiso2mp41")
    mdat = _box(b"mdat", frame)
    frame_offset = len(ftyp) + 8
    duration_ms = frames * 1000 // fps
    mvhd = _full_box(
        b"mvhd", 0, 0, struct.pack(">IIII", 0, 0, 1000, duration_ms), struct.pack(">IH", 0x10000, 0x100),
        bytes(10), _MATRIX, bytes(24), struct.pack(">I", 2),
    )  # fmt: skip
    tkhd = _full_box(
        b"tkhd", 0, 3, struct.pack(">IIII", 0, 0, 1, 0), struct.pack(">I", duration_ms), bytes(8),
        struct.pack(">HHHH", 0, 0, 0, 0), _MATRIX, struct.pack(">II", width << 16, height << 16),
    )  # fmt: skip
    mdhd = _full_box(
        b"mdhd", 0, 0, struct.pack(">IIII", 0, 0, fps, frames), struct.pack(">HH", 0x55C4, 0)
    )
    hdlr = _full_box(b"hdlr", 0, 0, bytes(4), b"vide", bytes(12), b"VideoHandler\x00")
    vmhd = _full_box(b"vmhd", 0, 1, bytes(8))
    dinf = _box(b"dinf", _full_box(b"dref", 0, 0, struct.pack(">I", 1), _full_box(b"url ", 0, 1)))
    decoder_config = _descriptor(0x04, bytes((0x6C, 0x11)) + bytes(3) + struct.pack(">II", 0, 0))
    es = _descriptor(0x03, struct.pack(">HB", 1, 0) + decoder_config + _descriptor(0x06, b"\x02"))
    sample_entry = _box(
        b"mp4v", bytes(6), struct.pack(">H", 1), bytes(16), struct.pack(">HH", width, height),
        struct.pack(">II", 0x480000, 0x480000), bytes(4), struct.pack(">H", 1), bytes(32),
        struct.pack(">Hh", 0x18, -1), _full_box(b"esds", 0, 0, es),
    )  # fmt: skip
    stbl = _box(
        b"stbl",
        _full_box(b"stsd", 0, 0, struct.pack(">I", 1), sample_entry),
        _full_box(b"stts", 0, 0, struct.pack(">III", 1, frames, 1)),
        _full_box(b"stsc", 0, 0, struct.pack(">IIII", 1, 1, 1, 1)),
        _full_box(b"stsz", 0, 0, struct.pack(">II", len(frame), frames)),
        _full_box(
            b"stco", 0, 0, struct.pack(">I", frames), struct.pack(">I", frame_offset) * frames
        ),
    )
    minf = _box(b"minf", vmhd, dinf, stbl)
    moov = _box(b"moov", mvhd, _box(b"trak", tkhd, _box(b"mdia", mdhd, hdlr, minf)))
    return ftyp + mdat + moov


# -- audio, 3D and the rest --------------------------------------------------------------------


_MP3_RATE: Final = 44_100
_MP3_BITRATE: Final = 128_000
_MP3_SAMPLES_PER_FRAME: Final = 1152
# MPEG-1 Layer III, no CRC; 128 kbit/s, 44.1 kHz, no padding; mono.
_MP3_HEADER: Final = bytes((0xFF, 0xFB, 0x90, 0xC0))
MP3_FRAME_BYTES: Final = 144 * _MP3_BITRATE // _MP3_RATE
"""The length of each frame :func:`mp3_silence` writes (417 bytes)."""


def mp3_silence(seconds: float) -> tuple[bytes, float]:
    """Silent MPEG-1 Layer III frames lasting about ``seconds``, and their exact duration.

    Each frame is a header and zeroed side information (no main data: every granule decodes to
    silence), padded to the frame length.
    """
    frames = max(1, round(seconds * _MP3_RATE / _MP3_SAMPLES_PER_FRAME))
    frame = _MP3_HEADER.ljust(MP3_FRAME_BYTES, b"\x00")
    return frame * frames, frames * _MP3_SAMPLES_PER_FRAME / _MP3_RATE


def wav_tone(frequency: float, *, seconds: float, rate: int) -> bytes:
    """A quiet sine tone as 16-bit mono PCM WAV."""
    count = int(seconds * rate)
    amplitude = 0.2 * 32767
    frames = b"".join(
        struct.pack("<h", round(amplitude * math.sin(2 * math.pi * frequency * i / rate)))
        for i in range(count)
    )
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)
    return buffer.getvalue()


def glb() -> bytes:
    """A glTF 2.0 binary holding an empty scene."""
    document: dict[str, Any] = {
        "asset": {"version": "2.0", "generator": "fal_typed local server"},
        "scene": 0,
        "scenes": [{"nodes": []}],
    }
    chunk = json.dumps(document, separators=(",", ":")).encode()
    chunk += b" " * (-len(chunk) % 4)
    total = 12 + 8 + len(chunk)
    return (
        struct.pack("<4sII", b"glTF", 2, total) + struct.pack("<I4s", len(chunk), b"JSON") + chunk
    )


def safetensors_empty() -> bytes:
    """A valid safetensors file with no tensors (what a LoRA file URL points at)."""
    header = json.dumps({"__metadata__": {"format": "pt"}}, separators=(",", ":")).encode()
    header += b" " * (-len(header) % 8)
    return struct.pack("<Q", len(header)) + header


def zip_readme() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("README.txt", date_time=(2020, 1, 1, 0, 0, 0))
        archive.writestr(info, "Synthetic archive from the fal_typed local server.\n")
    return buffer.getvalue()
