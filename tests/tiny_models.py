"""Tiny, randomly initialised speech models that the tests and the benchmark build themselves.

They run the *real* loading and inference code of openai-whisper and faster-whisper without any
download: the weights are random (the words are nonsense), everything else is genuine.

- :func:`whisper_checkpoint` writes an openai-whisper ``.pt`` checkpoint. Every parameter is
  initialised from a seeded generator (``TextDecoder.positional_embedding`` would otherwise
  start as uninitialised memory and make the output differ run to run); the buffers are
  deterministic already.
- :func:`faster_whisper_model` converts the *same* weights into a CTranslate2 model folder
  (``model.bin``, ``vocabulary.json``, ``config.json``) plus a ``tokenizer.json`` rebuilt from
  whisper's bundled ``multilingual.tiktoken`` (token ids match exactly), so faster-whisper never
  tries to download a tokenizer. Same weights in both makes timing comparisons fair.
- :func:`coqui_vits` builds a random tiny VITS voice with the Coqui environment's interpreter.
- :func:`cached_model_dir` builds each model once per test session in a temporary folder.

Sizes: ``micro`` (64-wide, 1 layer; 14 MB, for tests), ``tiny``, ``base`` and ``small`` (the
real whisper dimensions; 150 / 290 / 970 MB, for benchmarks). ``eot_bias`` makes the
decoder lean towards end-of-text so a transcription ends after a token or two (fast tests); with
``0`` a random model rarely stops and decodes up to its token limit (benchmarks pass a fixed
token count instead).
"""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Any

MULTILINGUAL_VOCAB = 51865  # whisper's multilingual vocabulary incl. special/timestamp tokens

SIZES: dict[str, dict[str, int]] = {
    "micro": dict(n_mels=80, n_audio_ctx=1500, n_audio_state=64, n_audio_head=1,
                  n_audio_layer=1, n_vocab=MULTILINGUAL_VOCAB, n_text_ctx=448,
                  n_text_state=64, n_text_head=1, n_text_layer=1),
    "tiny": dict(n_mels=80, n_audio_ctx=1500, n_audio_state=384, n_audio_head=6,
                 n_audio_layer=4, n_vocab=MULTILINGUAL_VOCAB, n_text_ctx=448,
                 n_text_state=384, n_text_head=6, n_text_layer=4),
    # whisper-base / -small dimensions (290 / 970 MB): only for benchmarks of real model sizes
    "base": dict(n_mels=80, n_audio_ctx=1500, n_audio_state=512, n_audio_head=8,
                 n_audio_layer=6, n_vocab=MULTILINGUAL_VOCAB, n_text_ctx=448,
                 n_text_state=512, n_text_head=8, n_text_layer=6),
    "small": dict(n_mels=80, n_audio_ctx=1500, n_audio_state=768, n_audio_head=12,
                  n_audio_layer=12, n_vocab=MULTILINGUAL_VOCAB, n_text_ctx=448,
                  n_text_state=768, n_text_head=12, n_text_layer=12),
}


def _whisper_encoding():
    """whisper's multilingual tiktoken encoding (whisper leaves its vocab file open: silenced)."""
    from whisper.tokenizer import get_encoding

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        return get_encoding(name="multilingual", num_languages=99)  # keywords: same cache key


def _random_whisper(size: str, seed: int, eot_bias: float) -> tuple[Any, Any]:
    import torch
    from whisper.model import ModelDimensions, Whisper

    dims = ModelDimensions(**SIZES[size])
    model = Whisper(dims)
    generator = torch.Generator().manual_seed(seed)
    eot = _whisper_encoding().eot_token
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith(".bias"):
                param.zero_()
            elif param.dim() == 1:  # layer-norm gains
                param.fill_(1.0)
            else:
                param.copy_(torch.randn(param.shape, generator=generator) * 0.02)
        if eot_bias:
            # logits = ln(x) @ token_embedding.T: a final-norm bias along the end-of-text
            # embedding makes that token win once blank suppression allows it.
            direction = model.decoder.token_embedding.weight[eot]
            model.decoder.ln.bias.copy_(direction / direction.norm() * eot_bias)
    return dims, model


def whisper_checkpoint(directory: Path, *, size: str = "micro", seed: int = 0,
                       eot_bias: float = 8.0) -> Path:
    """Write a random openai-whisper checkpoint that ``whisper.load_model(path)`` loads."""
    import torch

    dims, model = _random_whisper(size, seed, eot_bias)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"whisper-{size}.pt"
    torch.save({"dims": dims.__dict__, "model_state_dict": model.state_dict()}, path)
    return path


# ---------------------------------------------------------------- faster-whisper / CTranslate2

def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte → printable character map, as byte-level BPE uses it."""
    printable = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
                 + list(range(ord("®"), ord("ÿ") + 1)))
    chars = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, map(chr, chars), strict=True))


def _merge_parts(ranks: dict[bytes, int], token: bytes, max_rank: int) -> list[bytes]:
    parts = [bytes([b]) for b in token]
    while True:
        best: tuple[int, int] | None = None
        for i in range(len(parts) - 1):
            rank = ranks.get(parts[i] + parts[i + 1])
            if rank is not None and rank < max_rank and (best is None or rank < best[1]):
                best = (i, rank)
        if best is None:
            return parts
        i = best[0]
        parts = parts[:i] + [parts[i] + parts[i + 1]] + parts[i + 2:]


def _whisper_tokenizer_and_vocab() -> tuple[str, list[str]]:
    """tokenizer.json text and the id-ordered token strings, from whisper's tiktoken file."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    encoding = _whisper_encoding()
    ranks: dict[bytes, int] = encoding._mergeable_ranks
    specials: dict[str, int] = encoding._special_tokens
    to_char = _bytes_to_unicode()

    def text(token: bytes) -> str:
        return "".join(to_char[b] for b in token)

    vocab = {text(token): rank for token, rank in ranks.items()}
    merges: list[tuple[int, tuple[str, str]]] = []
    for token, rank in ranks.items():
        if len(token) > 1:
            left, right = _merge_parts(ranks, token, rank)
            merges.append((rank, (text(left), text(right))))
    merges.sort()
    vocab.update(specials)
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=[pair for _, pair in merges]))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens(
        [AddedToken(t, special=True, normalized=False) for t in sorted(specials, key=specials.get)]
    )
    by_id = sorted(vocab.items(), key=lambda item: item[1])
    assert [i for _, i in by_id] == list(range(len(by_id))), "token ids must be contiguous"
    return tokenizer.to_str(), [t for t, _ in by_id]


def _set_linear(spec, state: dict, prefix: str) -> None:
    spec.weight = state[prefix + ".weight"]
    if prefix + ".bias" in state:
        spec.bias = state[prefix + ".bias"]


def _set_norm(spec, state: dict, prefix: str) -> None:
    spec.gamma = state[prefix + ".weight"]
    spec.beta = state[prefix + ".bias"]


def _set_attention(spec, state: dict, prefix: str, *, self_attention: bool) -> None:
    import numpy as np

    q_w, k_w, v_w = (state[f"{prefix}.{n}.weight"] for n in ("query", "key", "value"))
    q_b, v_b = state[f"{prefix}.query.bias"], state[f"{prefix}.value.bias"]
    k_b = np.zeros_like(q_b)  # whisper's key projection has no bias
    if self_attention:
        spec.linear[0].weight = np.concatenate([q_w, k_w, v_w])
        spec.linear[0].bias = np.concatenate([q_b, k_b, v_b])
    else:
        spec.linear[0].weight, spec.linear[0].bias = q_w, q_b
        spec.linear[1].weight = np.concatenate([k_w, v_w])
        spec.linear[1].bias = np.concatenate([k_b, v_b])
    _set_linear(spec.linear[-1], state, f"{prefix}.out")


def _set_block(layer, state: dict, prefix: str, *, cross: bool) -> None:
    _set_attention(layer.self_attention, state, f"{prefix}.attn", self_attention=True)
    _set_norm(layer.self_attention.layer_norm, state, f"{prefix}.attn_ln")
    if cross:
        _set_attention(layer.attention, state, f"{prefix}.cross_attn", self_attention=False)
        _set_norm(layer.attention.layer_norm, state, f"{prefix}.cross_attn_ln")
    _set_linear(layer.ffn.linear_0, state, f"{prefix}.mlp.0")
    _set_linear(layer.ffn.linear_1, state, f"{prefix}.mlp.2")
    _set_norm(layer.ffn.layer_norm, state, f"{prefix}.mlp_ln")


def faster_whisper_model(directory: Path, *, size: str = "micro", seed: int = 0,
                         eot_bias: float = 8.0) -> Path:
    """Write a CTranslate2 Whisper model folder that ``faster_whisper.WhisperModel`` loads."""
    from ctranslate2.specs import whisper_spec
    from whisper.tokenizer import LANGUAGES

    dims, model = _random_whisper(size, seed, eot_bias)
    state = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    spec = whisper_spec.WhisperSpec(dims.n_audio_layer, dims.n_audio_head,
                                    dims.n_text_layer, dims.n_text_head)
    enc, dec = spec.encoder, spec.decoder
    _set_linear(enc.conv1, state, "encoder.conv1")
    _set_linear(enc.conv2, state, "encoder.conv2")
    enc.position_encodings.encodings = state["encoder.positional_embedding"]
    _set_norm(enc.layer_norm, state, "encoder.ln_post")
    for i, layer in enumerate(enc.layer):
        _set_block(layer, state, f"encoder.blocks.{i}", cross=False)
    dec.embeddings.weight = state["decoder.token_embedding.weight"]
    dec.position_encodings.encodings = state["decoder.positional_embedding"]
    _set_norm(dec.layer_norm, state, "decoder.ln")
    dec.projection.weight = state["decoder.token_embedding.weight"]  # tied, as in whisper
    for i, layer in enumerate(dec.layer):
        _set_block(layer, state, f"decoder.blocks.{i}", cross=True)

    tokenizer_json, tokens = _cached_tokenizer()
    ids = {t["content"]: t["id"] for t in json.loads(tokenizer_json)["added_tokens"]}
    lang_ids = [ids[f"<|{code}|>"] for code in list(LANGUAGES)[:99]]
    spec.config.suppress_ids = []
    spec.config.suppress_ids_begin = [220, 50257]  # " " and <|endoftext|>, as whisper does
    spec.config.lang_ids = sorted(lang_ids)
    spec.config.alignment_heads = [(dims.n_text_layer // 2 + i, h)
                                   for i in range(dims.n_text_layer - dims.n_text_layer // 2)
                                   for h in range(dims.n_text_head)]
    spec.register_vocabulary(tokens)
    spec.validate()
    spec.optimize(quantization=None)
    directory.mkdir(parents=True, exist_ok=True)
    spec.save(str(directory))
    (directory / "tokenizer.json").write_text(tokenizer_json, encoding="utf-8")
    return directory


_tokenizer_lock = threading.Lock()
_tokenizer_cache: tuple[str, list[str]] | None = None


def _cached_tokenizer() -> tuple[str, list[str]]:
    global _tokenizer_cache
    with _tokenizer_lock:
        if _tokenizer_cache is None:
            _tokenizer_cache = _whisper_tokenizer_and_vocab()
        return _tokenizer_cache


# ------------------------------------------------------------------------------ Coqui VITS

_TINY_VITS = """
import sys
import torch
from TTS.config.shared_configs import BaseAudioConfig
from TTS.tts.configs.shared_configs import CharactersConfig
from TTS.tts.configs.vits_config import VitsArgs, VitsConfig
from TTS.tts.models.vits import Vits

torch.manual_seed(int(sys.argv[2]))
characters = CharactersConfig(
    characters_class="TTS.tts.models.vits.VitsCharacters", pad="<PAD>", eos="<EOS>",
    bos="<BOS>", blank="<BLNK>", phonemes=None, punctuations="!'(),-.:;? ",
    characters="abcdefghijklmnopqrstuvwxyzäöüßABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÜ")
args = VitsArgs(
    hidden_channels=32, hidden_channels_ffn_text_encoder=64, num_heads_text_encoder=1,
    num_layers_text_encoder=1, num_layers_flow=1, num_layers_posterior_encoder=1,
    resblock_kernel_sizes_decoder=[3], resblock_dilation_sizes_decoder=[[1, 3, 5]],
    upsample_rates_decoder=[8, 8, 4], upsample_initial_channel_decoder=32,
    upsample_kernel_sizes_decoder=[16, 16, 8], use_sdp=False, init_discriminator=False)
config = VitsConfig(model_args=args, characters=characters, use_phonemes=False,
                    text_cleaner="multilingual_cleaners", phoneme_language="de",
                    audio=BaseAudioConfig(sample_rate=16000))
model = Vits(config)
torch.save({"model": model.state_dict()}, sys.argv[1] + "/model.pth")
config.save_json(sys.argv[1] + "/config.json")
"""


def coqui_vits(directory: Path, python: Path, *, seed: int = 0) -> Path:
    """A random tiny VITS voice (``model.pth`` + ``config.json``, 1.4 MB, 16 kHz), built with the
    Coqui environment's interpreter ``python`` (coqui-tts does not load in the node's env)."""
    import subprocess

    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run([str(python), "-c", _TINY_VITS, str(directory), str(seed)], check=True,
                   capture_output=True, timeout=300)
    return directory


# -------------------------------------------------------------------------- session cache

_session_dir: Path | None = None
_built: dict[tuple[str, str, int, float], Path] = {}
_build_lock = threading.Lock()


def _session_root() -> Path:
    global _session_dir
    if _session_dir is None:
        _session_dir = Path(tempfile.mkdtemp(prefix="voicegate-tiny-models-"))
        atexit.register(shutil.rmtree, _session_dir, True)
    return _session_dir


def cached_model_dir(kind: str, *, size: str = "micro", seed: int = 0,
                     eot_bias: float = 8.0) -> Path:
    """Build (once per process) and return a tiny model.

    ``kind`` ``whisper`` gives a ``.pt`` file path, ``faster-whisper`` and ``coqui`` (built with
    ``.venv-coqui``; see scripts/coqui_env.sh) a model folder.
    """
    key = (kind, size, seed, eot_bias)
    with _build_lock:
        if key not in _built:
            target = _session_root() / f"{kind}-{size}-{seed}-{eot_bias:g}"
            if kind == "whisper":
                _built[key] = whisper_checkpoint(target, size=size, seed=seed, eot_bias=eot_bias)
            elif kind == "faster-whisper":
                _built[key] = faster_whisper_model(target, size=size, seed=seed,
                                                   eot_bias=eot_bias)
            elif kind == "coqui":
                from media.tts.coqui import DEFAULT_PYTHON

                _built[key] = coqui_vits(target, DEFAULT_PYTHON, seed=seed)
            else:
                raise ValueError(f"unknown model kind {kind!r}")
        return _built[key]
