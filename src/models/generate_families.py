#!/usr/bin/env python3
"""Makes small transformer SavedModels of several families, each with its own trained tokenizer.

Run with TensorFlow 2.21 (Keras 3), `tokenizers` and `sentencepiece` (all install offline here):

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install tensorflow-cpu==2.21.0 tokenizers sentencepiece
    /tmp/venv/bin/python src/models/generate_families.py [src/models/tokenizer-training-texts.txt]

The models use stock Keras 3 layers only (Embedding, MultiHeadAttention, LayerNormalization, Dense, Dropout
and keras.ops in a functional model), exported the way users export them. It writes, under families/ (see
families/README.md for the inputs, outputs and tokenizer of each):
  bert-keras/ roberta-keras/ gpt-keras/ albert-keras/ distilbert-keras/   keras Model.export(format="tf_saved_model")
  gpt-ids-only/  the GPT-style decoder taking token ids alone (no attention-mask input)
  bert-garden/   tf.saved_model.save of a tf.Module holding a Keras encoder (TF-Model-Garden style); its signature
                 flattens the encoder_outputs list to encoder_outputs_0/_1 (TensorFlow refuses a list there)
  reference-outputs.json   fixed inputs of each model and every output of its serving_default signature,
                 as Python TensorFlow computes it after tf.saved_model.load
Weights, tokenizers and reference outputs are the same on every run; the saved_model.pb and variables files of
the Keras exports are not byte-identical (Keras orders its `_all_variables` copies by object identity).

The training texts are Debian package descriptions (short line plus long description, " ." lines dropped),
a seeded selection committed as tokenizer-training-texts.txt. To make that file again (this image's apt has
Acquire::Languages "none", so the long descriptions come from Translation-en, fetched into /tmp only):

    mkdir -p /tmp/aptlists/partial && echo 'deb http://deb.debian.org/debian bookworm main' > /tmp/bookworm.list
    apt-get update -o Dir::State::Lists=/tmp/aptlists -o Dir::Etc::SourceList=/tmp/bookworm.list \\
        -o Dir::Etc::SourceParts=/nonexistent -o Acquire::Languages=en
    /usr/lib/apt/apt-helper cat-file /tmp/aptlists/*_i18n_Translation-en.lz4 > /tmp/translation-en.txt
    /tmp/venv/bin/python src/models/generate_families.py --extract-texts /tmp/translation-en.txt

(`apt-cache dumpavail` output works too with --extract-texts, but there it holds only the short lines.)
"""
import json
import os
import random
import re
import shutil
import sys
import tempfile

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402
from keras import layers, ops  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "families")
TEXTS = os.path.join(HERE, "tokenizer-training-texts.txt")

HIDDEN, LAYERS, HEADS, INTERMEDIATE, MAX_POS, TYPES = 32, 2, 2, 64, 64, 2
SEED = 20261124
DROPOUT = 0.1
BERT_NAMES = ["input_word_ids", "input_mask", "input_type_ids"]
FAMILIES = ["bert-keras", "roberta-keras", "gpt-keras", "gpt-ids-only", "albert-keras", "distilbert-keras", "bert-garden"]


# ---------------------------------------------------------------------------------------------- texts

def extract_texts(stanza_file, out_path=TEXTS, max_bytes=950_000, max_chars=1000):
    """Description texts of a Packages/Translation file, one a line: sorted by package, seeded sample."""
    with open(stanza_file, encoding="utf-8") as f:
        stanzas = f.read().split("\n\n")
    by_package = {}
    for s in stanzas:
        pkg = re.search(r"^Package: (\S+)", s, re.M)
        desc = re.search(r"^Description(?:-en)?: (.*(?:\n .*)*)", s, re.M)
        if pkg and desc:
            lines = [line.strip() for line in desc.group(1).split("\n")]
            text = " ".join(line for line in lines if line and line != ".")
            if 40 <= len(text) <= max_chars:
                by_package.setdefault(pkg.group(1), text)
    unique = list(dict.fromkeys(by_package[pkg] for pkg in sorted(by_package)))
    random.Random(SEED).shuffle(unique)
    chosen, size = [], 0
    for text in unique:
        n = len(text.encode("utf-8")) + 1
        if size + n > max_bytes:
            break
        chosen.append(text)
        size += n
    with open(out_path, "w", encoding="utf-8") as f:
        f.write("\n".join(chosen) + "\n")
    print(f"wrote {len(chosen)} of {len(unique)} unique descriptions ({size} bytes) to {out_path}")


# ----------------------------------------------------------------------------------------- tokenizers

def train_wordpiece(texts, lowercase, vocab_size, alphabet_size=100):
    """BertWordPieceTokenizer trained on texts, made deterministic: the trainer numbers "##x" pieces in hash-map
    order (which changes merges that tie), so the alphabet and its ## pieces are given up front, sorted."""
    from collections import Counter
    from tokenizers import BertWordPieceTokenizer
    tok = BertWordPieceTokenizer(lowercase=lowercase)
    with open(texts, encoding="utf-8") as f:
        counts = Counter(c for line in f for c in tok.normalizer.normalize_str(line) if not c.isspace())
    alphabet = sorted(sorted(counts, key=lambda c: (-counts[c], c))[:alphabet_size])
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok.train([texts], vocab_size=vocab_size, min_frequency=2, limit_alphabet=alphabet_size, initial_alphabet=alphabet,
              special_tokens=specials + ["##" + c for c in alphabet], show_progress=False)
    # Ordered like BERT's (specials, characters, ##characters, learned pieces) and rebuilt from the vocabulary so
    # that only the five specials are added tokens; the rebuilt tokenizer has BERT's post-processor.
    vocab = sorted(tok.get_vocab().items(), key=lambda kv: (
        0 if kv[0] in specials else 1 if len(kv[0]) == 1 else 2 if kv[0][2:] in alphabet else 3, kv[1]))
    return BertWordPieceTokenizer({t: i for i, (t, _) in enumerate(vocab)}, lowercase=lowercase)


def train_bytelevel_bpe(texts, vocab_size, specials, roberta):
    from tokenizers import ByteLevelBPETokenizer
    from tokenizers.processors import RobertaProcessing
    tok = ByteLevelBPETokenizer(add_prefix_space=False, trim_offsets=True)
    tok.train([texts], vocab_size=vocab_size, min_frequency=2, special_tokens=specials, show_progress=False)
    if roberta:
        tok.post_processor = RobertaProcessing(("</s>", tok.token_to_id("</s>")), ("<s>", tok.token_to_id("<s>")),
                                               trim_offsets=True, add_prefix_space=False)
    return tok


def train_sentencepiece(texts, prefix, vocab_size):
    """ALBERT-like unigram model: <pad>=0 <unk>=1 [CLS]=2 [SEP]=3 [MASK]=4, no BOS/EOS, trained lower-cased."""
    import sentencepiece as spm
    spm.set_random_generator_seed(SEED)
    with open(texts, encoding="utf-8") as f, tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False,
                                                                          encoding="utf-8") as low:
        low.write(f.read().lower())
    try:
        spm.SentencePieceTrainer.train(
            input=low.name, model_prefix=prefix, model_type="unigram", vocab_size=vocab_size,
            pad_id=0, pad_piece="<pad>", unk_id=1, unk_piece="<unk>", bos_id=-1, eos_id=-1,
            control_symbols=["[CLS]", "[SEP]", "[MASK]"], character_coverage=1.0, num_threads=1,
            shuffle_input_sentence=False, minloglevel=2)
    finally:
        os.unlink(low.name)
    from sentencepiece import sentencepiece_model_pb2
    model = sentencepiece_model_pb2.ModelProto()
    with open(prefix + ".model", "rb") as f:
        model.ParseFromString(f.read())
    model.trainer_spec.input[:] = [os.path.basename(texts) + " (lower-cased)"]  # not the temporary paths
    model.trainer_spec.model_prefix = "spiece"
    with open(prefix + ".model", "wb") as f:
        f.write(model.SerializeToString())
    return prefix + ".model"


# ---------------------------------------------------------------------------------------------- model

def ids_input(name, dtype="int32"):
    return keras.Input(shape=(None,), dtype=dtype, name=name)


def count_positions(ids):
    return ops.cumsum(ops.ones_like(ids), axis=1) - 1


def padding_mask(mask):
    """(batch, 1, keys) booleans: Keras' MultiHeadAttention broadcasts it over queries and heads."""
    return ops.cast(ops.expand_dims(mask, 1), "bool")


def make_block(prefix, eps):
    return {
        "attention": layers.MultiHeadAttention(HEADS, HIDDEN // HEADS, dropout=DROPOUT, name=prefix + "attention"),
        "attention_dropout": layers.Dropout(DROPOUT, name=prefix + "attention_dropout"),
        "attention_norm": layers.LayerNormalization(epsilon=eps, name=prefix + "attention_norm"),
        "intermediate": layers.Dense(INTERMEDIATE, activation="gelu", name=prefix + "intermediate"),
        "output": layers.Dense(HIDDEN, name=prefix + "output"),
        "output_dropout": layers.Dropout(DROPOUT, name=prefix + "output_dropout"),
        "output_norm": layers.LayerNormalization(epsilon=eps, name=prefix + "output_norm"),
    }


def post_ln_block(b, x, attention_mask):
    """BERT's block: attention, add, norm, feed-forward, add, norm."""
    a = b["attention"](x, x, attention_mask=attention_mask)
    x = b["attention_norm"](x + b["attention_dropout"](a))
    h = b["output"](b["intermediate"](x))
    return b["output_norm"](x + b["output_dropout"](h))


def pre_ln_block(b, x, attention_mask):
    """GPT-2's block: norm, causal attention, add, norm, feed-forward, add."""
    h = b["attention_norm"](x)
    x = x + b["attention_dropout"](b["attention"](h, h, attention_mask=attention_mask, use_causal_mask=True))
    h = b["output_norm"](x)
    return x + b["output_dropout"](b["output"](b["intermediate"](h)))


def encoder(vocab, ids, mask, types=None, positions=count_positions, pos_size=MAX_POS, emb_dim=HIDDEN,
            shared=False, eps=1e-12):
    """Embeddings (factorised when emb_dim < HIDDEN) and LAYERS post-LN blocks; returns each block's output."""
    x = layers.Embedding(vocab, emb_dim, name="word_embeddings")(ids)
    x = x + layers.Embedding(pos_size, emb_dim, name="position_embeddings")(positions(ids, mask))
    if types is not None:
        x = x + layers.Embedding(TYPES, emb_dim, name="type_embeddings")(types)
    x = layers.Dropout(DROPOUT, name="embeddings_dropout")(layers.LayerNormalization(
        epsilon=eps, name="embeddings_norm")(x))
    if emb_dim != HIDDEN:
        x = layers.Dense(HIDDEN, name="embedding_projection")(x)
    blocks = [make_block("layer_", eps)] * LAYERS if shared else [make_block(f"layer_{i}_", eps) for i in range(LAYERS)]
    outputs = []
    for b in blocks:
        x = post_ln_block(b, x, padding_mask(mask))
        outputs.append(x)
    return outputs


def pooler(seq):
    return layers.Dense(HIDDEN, activation="tanh", name="pooler")(seq[:, 0, :])


def bert_model(vocab, emb_dim=HIDDEN, shared=False, all_layers=False):
    keras.utils.set_random_seed(SEED)
    ids, mask, types = (ids_input(n) for n in BERT_NAMES)
    outs = encoder(vocab, ids, mask, types, positions=lambda i, m: count_positions(i), emb_dim=emb_dim, shared=shared)
    result = {"pooled_output": pooler(outs[-1]), "sequence_output": outs[-1]}
    if all_layers:
        result["encoder_outputs"] = outs
    return keras.Model([ids, mask, types], result, name="albert" if shared else "bert")


def roberta_model(vocab, pad_id):
    keras.utils.set_random_seed(SEED)
    ids, mask = ids_input("input_ids", "int64"), ids_input("attention_mask", "int64")

    def positions(_, m):  # RoBERTa: pad_id + 1 + index for tokens, pad_id for padding
        return ops.cumsum(m, axis=1) * m + pad_id

    outs = encoder(vocab, ids, mask, positions=positions, pos_size=MAX_POS + pad_id + 1, eps=1e-5)
    return keras.Model([ids, mask], {"sequence_output": outs[-1]}, name="roberta")


def distilbert_model(vocab):
    keras.utils.set_random_seed(SEED)
    ids, mask = ids_input("input_ids"), ids_input("attention_mask")
    outs = encoder(vocab, ids, mask, positions=lambda i, m: count_positions(i))
    return keras.Model([ids, mask], {"last_hidden_state": outs[-1]}, name="distilbert")


def gpt_model(vocab, mask_input=True):
    """A GPT-2-style decoder; without mask_input it takes token ids alone (the causal mask keeps padding at the end
    out of every real token's view, so a caller that pads on the right needs none)."""
    keras.utils.set_random_seed(SEED)
    ids = ids_input("input_ids")
    mask = ids_input("attention_mask") if mask_input else None
    x = layers.Embedding(vocab, HIDDEN, name="token_embeddings")(ids)
    x = x + layers.Embedding(MAX_POS, HIDDEN, name="position_embeddings")(count_positions(ids))
    x = layers.Dropout(DROPOUT, name="embeddings_dropout")(x)
    for i in range(LAYERS):
        x = pre_ln_block(make_block(f"layer_{i}_", 1e-5), x, padding_mask(mask) if mask_input else None)
    x = layers.LayerNormalization(epsilon=1e-5, name="final_norm")(x)
    return keras.Model([ids, mask] if mask_input else [ids], {"last_hidden_state": x}, name="gpt")


GARDEN_SPEC = [{n: tf.TensorSpec([None, None], tf.int32, name=n) for n in BERT_NAMES}]


class GardenEncoder(tf.Module):
    """Like a TF-Model-Garden export: the object takes one dict and returns encoder_outputs as a list."""

    def __init__(self, model):
        super().__init__()
        self.encoder = model

    @tf.function(input_signature=GARDEN_SPEC)
    def __call__(self, inputs):
        out = self.encoder([inputs[n] for n in BERT_NAMES], training=False)
        return {"pooled_output": out["pooled_output"], "sequence_output": out["sequence_output"],
                "encoder_outputs": list(out["encoder_outputs"])}

    @tf.function(input_signature=GARDEN_SPEC)
    def serve(self, inputs):
        out = self.__call__(inputs)
        flat = {k: v for k, v in out.items() if k != "encoder_outputs"}
        flat.update({f"encoder_outputs_{i}": t for i, t in enumerate(out["encoder_outputs"])})
        return flat


# --------------------------------------------------------------------------------------------- export

def keras_export(model, name, assets):
    path = os.path.join(OUT, name)
    model.export(path, format="tf_saved_model", verbose=False)
    add_assets(path, assets)
    return path


def add_assets(path, assets):
    os.makedirs(os.path.join(path, "assets"), exist_ok=True)
    for target, source in assets.items():
        shutil.copy(source, os.path.join(path, "assets", target))


def build_all(texts, work):
    bert_tok = train_wordpiece(texts, lowercase=True, vocab_size=1500)
    bert_tok.save_model(work)  # vocab.txt
    vocab_txt = os.path.join(work, "vocab.txt")
    cased_tok = train_wordpiece(texts, lowercase=False, vocab_size=1500)
    cased_tok.save(os.path.join(work, "distilbert.json"))
    roberta_tok = train_bytelevel_bpe(texts, 1500, ["<s>", "<pad>", "</s>", "<unk>", "<mask>"], roberta=True)
    roberta_tok.save(os.path.join(work, "roberta.json"))
    gpt_tok = train_bytelevel_bpe(texts, 1200, ["<|endoftext|>"], roberta=False)
    gpt_tok.save(os.path.join(work, "gpt.json"))
    sp_vocab = 1000
    spiece = train_sentencepiece(texts, os.path.join(work, "spiece"), sp_vocab)

    bert_vocab = bert_tok.get_vocab_size()
    dirs = {
        "bert-keras": keras_export(bert_model(bert_vocab), "bert-keras", {"vocab.txt": vocab_txt}),
        "roberta-keras": keras_export(roberta_model(roberta_tok.get_vocab_size(), roberta_tok.token_to_id("<pad>")),
                                      "roberta-keras", {"tokenizer.json": os.path.join(work, "roberta.json")}),
        "gpt-keras": keras_export(gpt_model(gpt_tok.get_vocab_size()), "gpt-keras",
                                  {"tokenizer.json": os.path.join(work, "gpt.json")}),
        "gpt-ids-only": keras_export(gpt_model(gpt_tok.get_vocab_size(), mask_input=False), "gpt-ids-only",
                                     {"tokenizer.json": os.path.join(work, "gpt.json")}),
        "albert-keras": keras_export(bert_model(sp_vocab, emb_dim=16, shared=True), "albert-keras",
                                     {"spiece.model": spiece}),
        "distilbert-keras": keras_export(distilbert_model(cased_tok.get_vocab_size()), "distilbert-keras",
                                         {"tokenizer.json": os.path.join(work, "distilbert.json")}),
    }
    garden = GardenEncoder(bert_model(bert_vocab, all_layers=True))
    dirs["bert-garden"] = os.path.join(OUT, "bert-garden")
    tf.saved_model.save(garden, dirs["bert-garden"], signatures={"serving_default": garden.serve})
    add_assets(dirs["bert-garden"], {"vocab.txt": vocab_txt})
    return dirs


def load_tokenizer(name):
    """The tokenizer of an exported model, read back from its assets (a SentencePiece model stays a path)."""
    from tokenizers import BertWordPieceTokenizer, Tokenizer
    assets = os.path.join(OUT, name, "assets")
    if os.path.exists(os.path.join(assets, "vocab.txt")):
        return BertWordPieceTokenizer(os.path.join(assets, "vocab.txt"), lowercase=True)
    if os.path.exists(os.path.join(assets, "tokenizer.json")):
        return Tokenizer.from_file(os.path.join(assets, "tokenizer.json"))
    return os.path.join(assets, "spiece.model")


# ------------------------------------------------------------------------------ reference and checks

ROW_TEXTS = ["Command line tools for the network", "Games and puzzles"]


def reference_inputs(name):
    """Batch of 2, length 6: real token ids of ROW_TEXTS, lengths 5 and 3, padding at the end."""
    tok = load_tokenizer(name)
    if isinstance(tok, str):  # SentencePiece model file; ALBERT lower-cases first
        import sentencepiece as spm
        sp = spm.SentencePieceProcessor(model_file=tok)
        content = [sp.encode(t.lower()) for t in ROW_TEXTS]
        cls, sep, pad = sp.piece_to_id("[CLS]"), sp.piece_to_id("[SEP]"), sp.pad_id()
    else:
        content = [tok.encode(t, add_special_tokens=False).ids for t in ROW_TEXTS]
        specials = {"roberta-keras": ("<s>", "</s>", "<pad>"), "gpt-keras": (None, None, "<|endoftext|>"),
                    "gpt-ids-only": (None, None, "<|endoftext|>")}
        cls, sep, pad = (tok.token_to_id(s) if s else None for s in specials.get(name, ("[CLS]", "[SEP]", "[PAD]")))
    lengths = [5, 3]
    rows = []
    for c, n in zip(content, lengths):
        c = c[:n] if cls is None else [cls] + c[:n - 2] + [sep]
        rows.append(c + [pad] * (6 - n))
    ids = np.array(rows)
    mask = np.array([[1] * n + [0] * (6 - n) for n in lengths])
    types = np.array([[0] * 6, [0, 1, 1, 0, 0, 0]])
    sig = tf.saved_model.load(os.path.join(OUT, name)).signatures["serving_default"]
    feeds = {}
    for key, spec in sig.structured_input_signature[1].items():
        value = ids if key in ("input_word_ids", "input_ids") else mask if "mask" in key else types
        feeds[key] = tf.constant(value, dtype=spec.dtype)
    return sig, feeds


def reference_outputs(dirs):
    ref = {"generator": "src/models/generate_families.py", "texts": ROW_TEXTS, "models": {}}
    for name in dirs:
        sig, feeds = reference_inputs(name)
        out = sig(**feeds)
        ref["models"][name] = {
            "inputs": {k: {"dtype": v.dtype.name, "value": v.numpy().tolist()} for k, v in sorted(feeds.items())},
            "outputs": {k: {"dtype": v.dtype.name, "shape": v.shape.as_list(), "value": v.numpy().tolist()}
                        for k, v in sorted(out.items())},
        }
    return ref


def op_types(path):
    from tensorflow.core.protobuf import saved_model_pb2
    sm = saved_model_pb2.SavedModel()
    with open(os.path.join(path, "saved_model.pb"), "rb") as f:
        sm.ParseFromString(f.read())
    graph = sm.meta_graphs[0].graph_def
    return sorted({n.op for fn in graph.library.function for n in fn.node_def} | {n.op for n in graph.node})


def check(dirs):
    for name, path in dirs.items():
        sig, feeds = reference_inputs(name)
        out = sig(**feeds)
        assert all(np.isfinite(v.numpy()).all() for v in out.values()), name
        for what, specs in [("inputs", sig.structured_input_signature[1]), ("outputs", sig.structured_outputs)]:
            print(f"{name}: {what}", {k: (v.dtype.name, v.shape.as_list()) for k, v in sorted(specs.items())})
        print(f"{name}: ops", " ".join(op_types(path)))
        seq = "sequence_output" if "sequence_output" in out else "last_hidden_state"
        ids = "input_ids" if "input_ids" in feeds else "input_word_ids"

        def change(position):  # seq output of row 0 after setting its token at position to 7
            changed = dict(feeds, **{ids: tf.tensor_scatter_nd_update(feeds[ids], [[0, position]],
                                                                          tf.constant([7], feeds[ids].dtype))})
            return sig(**changed)[seq].numpy()[0]
        moved = np.abs(change(3)[0] - out[seq].numpy()[0, 0]).max()
        leak = np.abs(change(5)[:5] - out[seq].numpy()[0, :5]).max()
        print(f"{name}: changing token 3 moves {seq}[0, 0] by {moved:.3g}; "
              f"changing padded token 5 moves [0, :5] by {leak:.3g}")
        assert leak == 0.0, name
        assert (moved == 0.0) == name.startswith("gpt-"), name


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--extract-texts":
        extract_texts(sys.argv[2])
        return
    texts = sys.argv[1] if len(sys.argv) > 1 else TEXTS
    for name in FAMILIES:  # README.md stays
        shutil.rmtree(os.path.join(OUT, name), ignore_errors=True)
    os.makedirs(OUT, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        dirs = build_all(texts, work)
    with open(os.path.join(OUT, "reference-outputs.json"), "w") as f:
        json.dump(reference_outputs(dirs), f)
    check(dirs)
    print("wrote", ", ".join(dirs))


if __name__ == "__main__":
    main()
