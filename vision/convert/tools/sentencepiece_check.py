#!/usr/bin/env python3
"""Compares a converted tokenizer.json with SentencePiece itself.

Rebuilds a SentencePiece BPE model from the GGUF's vocabulary (pieces, scores, types; `▁` restored in user-defined
pieces), encodes a corpus with both, and reports mismatching chunks. Control tokens written literally in the text
(`<bos>`) are expected to differ: the converted tokenizer matches them as special tokens, as Hugging Face does.

    python3 -m venv /tmp/spc && /tmp/spc/bin/pip install sentencepiece protobuf tokenizers
    /tmp/spc/bin/python tools/sentencepiece_check.py MODEL.gguf OUT_DIR/tokenizer.json CORPUS.txt
"""
import struct
import sys

import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as pb
from tokenizers import Tokenizer


def read_metadata(path):
    f = open(path, "rb")

    def r(fmt):
        return struct.unpack("<" + fmt, f.read(struct.calcsize(fmt)))

    magic, version = r("II")
    assert magic == 0x46554747 and version >= 2, "GGUF v2+ expected"
    _, n_kv = r("QQ")
    scalar = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}

    def string():
        (n,) = r("Q")
        return f.read(n).decode("utf8", "replace")

    def value(t):
        if t == 8:
            return string()
        if t == 9:
            (et,) = r("I")
            (n,) = r("Q")
            return [value(et) for _ in range(n)]
        return r(scalar[t])[0]

    meta = {}
    for _ in range(n_kv):
        key = string()
        (t,) = r("I")
        meta[key] = value(t)
    return meta


def main(gguf, tokenizer_json, corpus_path):
    meta = read_metadata(gguf)
    proto = pb.ModelProto()
    proto.trainer_spec.model_type = pb.TrainerSpec.BPE
    proto.trainer_spec.byte_fallback = True
    proto.trainer_spec.vocab_size = len(meta["tokenizer.ggml.tokens"])
    proto.trainer_spec.unk_id = meta.get("tokenizer.ggml.unknown_token_id", 3)
    proto.trainer_spec.bos_id = meta.get("tokenizer.ggml.bos_token_id", 2)
    proto.trainer_spec.eos_id = meta.get("tokenizer.ggml.eos_token_id", 1)
    proto.trainer_spec.pad_id = meta.get("tokenizer.ggml.padding_token_id", 0)
    proto.normalizer_spec.name = "identity"
    proto.normalizer_spec.add_dummy_prefix = bool(meta.get("tokenizer.ggml.add_space_prefix", True))
    proto.normalizer_spec.remove_extra_whitespaces = False
    proto.normalizer_spec.escape_whitespaces = True
    for piece, score, kind in zip(
        meta["tokenizer.ggml.tokens"], meta["tokenizer.ggml.scores"], meta["tokenizer.ggml.token_type"]
    ):
        p = proto.pieces.add()
        p.piece = piece.replace(" ", "\u2581") if kind == 4 else piece
        p.score = score
        p.type = kind
    sp = spm.SentencePieceProcessor(model_proto=proto.SerializeToString())
    tok = Tokenizer.from_file(tokenizer_json)

    lines = open(corpus_path, encoding="utf8").read().split("\n")
    chunks = ["\n".join(lines[i : i + 3]) for i in range(0, len(lines), 3)]
    mismatches, tokens = 0, 0
    for text in chunks:
        a = sp.encode(text)
        b = tok.encode(text, add_special_tokens=False).ids
        tokens += len(a)
        if a != b:
            mismatches += 1
            k = next((j for j in range(min(len(a), len(b))) if a[j] != b[j]), min(len(a), len(b)))
            print("MISMATCH at token", k, [sp.id_to_piece(x) for x in a[k : k + 4]], [sp.id_to_piece(x) for x in b[k : k + 4]])
    print(f"{len(chunks)} chunks, {tokens} tokens, {mismatches} mismatching chunks")


if __name__ == "__main__":
    main(*sys.argv[1:4])
