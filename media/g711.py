"""G.711 µ-law (PCMU) and A-law (PCMA) to and from L16, vectorised with lookup tables.

The tables are built once at import from the ITU-T G.711 segment rules (as in the reference
``g711.c`` by Sun Microsystems, the source of most implementations): encoding is one index into
a 65536-entry table, decoding one index into a 256-entry table.
"""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np

logger = logging.getLogger(__name__)

Codec = Literal["PCMU", "PCMA"]

_PCM16 = np.dtype("<i2")
_SEG_END_ULAW = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF])
_SEG_END_ALAW = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF])
_ULAW_BIAS = 0x84
_ULAW_CLIP = 8159


def _all_int16() -> np.ndarray:
    return np.arange(65536, dtype=np.uint32).astype(np.uint16).view(np.int16).astype(np.int32)


def _ulaw_encode_table() -> np.ndarray:
    pcm = _all_int16() >> 2  # 14-bit magnitude domain
    mask = np.where(pcm < 0, 0x7F, 0xFF)
    mag = np.minimum(np.abs(pcm), _ULAW_CLIP) + (_ULAW_BIAS >> 2)
    seg = np.searchsorted(_SEG_END_ULAW, mag)  # first segment whose end >= mag
    code = (seg << 4) | ((mag >> (seg + 1)) & 0x0F)
    return (np.where(seg >= 8, 0x7F, code) ^ mask).astype(np.uint8)


def _ulaw_decode_table() -> np.ndarray:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    t = (((u & 0x0F) << 3) + _ULAW_BIAS) << ((u & 0x70) >> 4)
    return np.where(u & 0x80, _ULAW_BIAS - t, t - _ULAW_BIAS).astype(_PCM16)


def _alaw_encode_table() -> np.ndarray:
    pcm = _all_int16() >> 3  # 13-bit domain
    positive = pcm >= 0
    mask = np.where(positive, 0xD5, 0x55)
    mag = np.where(positive, pcm, -pcm - 1)
    seg = np.searchsorted(_SEG_END_ALAW, mag)
    shift = np.where(seg < 2, 1, seg)
    code = (seg << 4) | ((mag >> shift) & 0x0F)
    return (np.where(seg >= 8, 0x7F, code) ^ mask).astype(np.uint8)


def _alaw_decode_table() -> np.ndarray:
    a = np.arange(256, dtype=np.int32) ^ 0x55
    t = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    t = np.where(seg == 0, t + 8, (t + 0x108) << np.maximum(seg - 1, 0))
    return np.where(a & 0x80, t, -t).astype(_PCM16)


_ULAW_ENC = _ulaw_encode_table()
_ULAW_DEC = _ulaw_decode_table()
_ALAW_ENC = _alaw_encode_table()
_ALAW_DEC = _alaw_decode_table()


def _index(pcm: bytes) -> np.ndarray:
    if len(pcm) % 2:
        raise ValueError(f"L16 PCM must have an even number of bytes, got {len(pcm)}")
    return np.frombuffer(pcm, dtype="<u2")


def ulaw_encode(pcm: bytes) -> bytes:
    """L16 → µ-law, one byte per sample."""
    return _ULAW_ENC[_index(pcm)].tobytes()


def ulaw_decode(data: bytes) -> bytes:
    """µ-law → L16."""
    return _ULAW_DEC[np.frombuffer(data, dtype=np.uint8)].tobytes()


def alaw_encode(pcm: bytes) -> bytes:
    """L16 → A-law, one byte per sample."""
    return _ALAW_ENC[_index(pcm)].tobytes()


def alaw_decode(data: bytes) -> bytes:
    """A-law → L16."""
    return _ALAW_DEC[np.frombuffer(data, dtype=np.uint8)].tobytes()


def encode(pcm: bytes, codec: Codec) -> bytes:
    """L16 → ``codec`` ("PCMU" = µ-law, "PCMA" = A-law)."""
    if codec == "PCMU":
        return ulaw_encode(pcm)
    if codec == "PCMA":
        return alaw_encode(pcm)
    raise ValueError(f"unknown G.711 codec {codec!r}")


def decode(data: bytes, codec: Codec) -> bytes:
    """``codec`` ("PCMU" = µ-law, "PCMA" = A-law) → L16."""
    if codec == "PCMU":
        return ulaw_decode(data)
    if codec == "PCMA":
        return alaw_decode(data)
    raise ValueError(f"unknown G.711 codec {codec!r}")
