package dev.finetune.runtime.tokenizer;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.protobuf.CodedInputStream;
import dev.finetune.runtime.FineTuneException;
import dev.finetune.runtime.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A SentencePiece {@code .model} file (ALBERT, XLM-R, T5 assets), read from its protocol buffer and described as the
 * equivalent {@code tokenizer.json}, so that Hugging Face's library runs it ({@link TokenizerJson}): the Unigram
 * pieces and scores, the model's own normalisation table (its precompiled character map), white space collapsed and
 * stripped as SentencePiece does, pieces that start a word marked with {@code ▁}, and the pair template the special
 * pieces imply ({@code [CLS] A [SEP] B [SEP]} for ALBERT, {@code <s> A </s></s> B </s>} for XLM-R, {@code A </s>} for
 * T5), with XLM-R's renumbering where the model needs it. This is what Hugging Face's own converters do for these models.
 */
final class SentencePieceModel {
    private static final int NORMAL = 1;
    private static final int UNKNOWN = 2;
    private static final int CONTROL = 3;
    private static final int USER_DEFINED = 4;
    private static final int UNIGRAM = 1;

    record Piece(String text, float score, int type) {
    }

    private final List<Piece> pieces = new ArrayList<>();
    private int modelType = UNIGRAM;
    private boolean byteFallback;
    private byte[] charsmap = new byte[0];
    private boolean addDummyPrefix = true;
    private boolean removeExtraWhitespaces = true;

    private SentencePieceModel() {
    }

    static SentencePieceModel read(Path file) {
        SentencePieceModel m = new SentencePieceModel();
        try {
            CodedInputStream in = CodedInputStream.newInstance(Files.readAllBytes(file));
            // ModelProto: pieces = 1, trainer_spec = 2, normalizer_spec = 3 (sentencepiece_model.proto).
            for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
                switch (tag >>> 3) {
                    case 1 -> m.pieces.add(piece(in.readBytes().newCodedInput()));
                    case 2 -> m.trainerSpec(in.readBytes().newCodedInput());
                    case 3 -> m.normalizerSpec(in.readBytes().newCodedInput());
                    default -> in.skipField(tag);
                }
            }
        } catch (IOException e) {
            throw new FineTuneException("Cannot read SentencePiece model " + file + ": " + e.getMessage(), e);
        }
        if (m.pieces.isEmpty()) {
            throw new FineTuneException(file + " is not a SentencePiece model: it holds no pieces.");
        }
        if (m.modelType != UNIGRAM) {
            throw new FineTuneException("SentencePiece model " + file + " is of type " + (m.modelType == 2 ? "BPE" : m.modelType)
                    + "; only Unigram models (ALBERT, XLM-R, T5) are read. Give the model's tokenizer.json instead "
                    + "(<tokenizer>), which Hugging Face writes for BPE SentencePiece models.");
        }
        return m;
    }

    private static Piece piece(CodedInputStream in) throws IOException {
        String text = "";
        float score = 0;
        int type = NORMAL;
        for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
            switch (tag >>> 3) {
                case 1 -> text = in.readStringRequireUtf8();
                case 2 -> score = in.readFloat();
                case 3 -> type = in.readEnum();
                default -> in.skipField(tag);
            }
        }
        return new Piece(text, score, type);
    }

    private void trainerSpec(CodedInputStream in) throws IOException {
        for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
            switch (tag >>> 3) {
                case 3 -> modelType = in.readEnum();
                case 35 -> byteFallback = in.readBool();
                default -> in.skipField(tag);
            }
        }
    }

    private void normalizerSpec(CodedInputStream in) throws IOException {
        for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
            switch (tag >>> 3) {
                case 2 -> charsmap = in.readByteArray();
                case 3 -> addDummyPrefix = in.readBool();
                case 4 -> removeExtraWhitespaces = in.readBool();
                default -> in.skipField(tag);
            }
        }
    }

    List<Piece> pieces() {
        return pieces;
    }

    /**
     * Whether the model was trained on lower-cased text: at most 1% of its ordinary pieces hold an upper-case letter
     * (normalisation makes a few even then, such as "TM" from ™; special pieces such as [CLS] do not count).
     */
    boolean trainedLowerCased() {
        long normal = pieces.stream().filter(p -> p.type() == NORMAL).count();
        long upper = pieces.stream().filter(p -> p.type() == NORMAL && !p.text().equals(p.text().toLowerCase(java.util.Locale.ROOT)))
                .count();
        return normal > 0 && upper * 100 <= normal;
    }

    /**
     * Whether the pieces are numbered as SentencePiece numbers them by default ({@code <unk> <s> </s>} first), which
     * fairseq-trained models (XLM-R) renumber for their embedding table: see {@link #fairseqNumbering()}.
     */
    boolean defaultSpecialPieces() {
        return pieces.size() > 3 && pieces.get(0).text().equals("<unk>") && pieces.get(1).text().equals("<s>")
                && pieces.get(2).text().equals("</s>");
    }

    /**
     * The pieces as fairseq-trained models (XLM-R) number their embedding rows: {@code <s> <pad> </s> <unk>}, then
     * every other piece one higher than in the file, then {@code <mask>}; what Hugging Face's XLM-R converter and the
     * original tokenizer's fairseq offset do.
     */
    List<Piece> fairseqNumbering() {
        List<Piece> out = new ArrayList<>(pieces.size() + 2);
        out.add(new Piece("<s>", 0, CONTROL));
        out.add(new Piece("<pad>", 0, CONTROL));
        out.add(new Piece("</s>", 0, CONTROL));
        out.add(new Piece("<unk>", 0, UNKNOWN));
        out.addAll(pieces.subList(3, pieces.size()));
        out.add(new Piece("<mask>", 0, USER_DEFINED));
        return out;
    }

    /**
     * The {@code tokenizer.json} that tokenizes as this model does; {@code lowerCase} lower-cases first (ALBERT's habit);
     * {@code fairseq} numbers the pieces as fairseq-trained models do ({@link #fairseqNumbering()}).
     */
    String toTokenizerJson(boolean lowerCase, boolean fairseq) {
        List<Piece> pieces = fairseq ? fairseqNumbering() : this.pieces;
        Map<String, Integer> ids = new HashMap<>();
        int unk = 0;
        ObjectNode root = Json.MAPPER.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        ArrayNode vocab = Json.MAPPER.createArrayNode();
        for (int i = 0; i < pieces.size(); i++) {
            Piece p = pieces.get(i);
            ids.putIfAbsent(p.text(), i);
            vocab.addArray().add(p.text()).add(p.score());
            if (p.type() == UNKNOWN) {
                unk = i;
            }
            if (p.type() == USER_DEFINED) {
                // SentencePiece keeps user-defined symbols whole wherever they occur in the text.
                added.addObject().put("id", i).put("content", p.text()).put("single_word", false).put("lstrip", false)
                        .put("rstrip", false).put("normalized", false).put("special", false);
            }
        }
        ArrayNode normalizers = root.putObject("normalizer").put("type", "Sequence").putArray("normalizers");
        if (lowerCase) {
            normalizers.addObject().put("type", "Lowercase");
        }
        if (charsmap.length > 0) {
            normalizers.addObject().put("type", "Precompiled").put("precompiled_charsmap", Base64.getEncoder().encodeToString(charsmap));
        }
        if (removeExtraWhitespaces) {
            normalizers.addObject().put("type", "Strip").put("strip_left", true).put("strip_right", true);
            ObjectNode replace = normalizers.addObject().put("type", "Replace");
            replace.putObject("pattern").put("Regex", " {2,}");
            replace.put("content", " ");
        }
        root.putObject("pre_tokenizer").put("type", "Metaspace").put("replacement", "▁")
                .put("prepend_scheme", addDummyPrefix ? "always" : "never").put("split", true);
        root.set("post_processor", template(ids));
        root.putObject("decoder").put("type", "Metaspace").put("replacement", "▁")
                .put("prepend_scheme", addDummyPrefix ? "always" : "never").put("split", true);
        ObjectNode model = root.putObject("model").put("type", "Unigram").put("unk_id", unk);
        model.set("vocab", vocab);
        model.put("byte_fallback", byteFallback);
        return root.toString();
    }

    /** The pair template the model's control pieces imply; null (no special tokens) when it has none of them. */
    private ObjectNode template(Map<String, Integer> ids) {
        List<String> single;
        List<String> pair;
        if (ids.containsKey("[CLS]") && ids.containsKey("[SEP]")) {
            single = List.of("[CLS]:0", "$A:0", "[SEP]:0");
            pair = List.of("[CLS]:0", "$A:0", "[SEP]:0", "$B:1", "[SEP]:1");
        } else if (ids.containsKey("<s>") && ids.containsKey("</s>")) {
            single = List.of("<s>:0", "$A:0", "</s>:0");
            pair = List.of("<s>:0", "$A:0", "</s>:0", "</s>:0", "$B:0", "</s>:0");
        } else if (ids.containsKey("</s>")) {
            single = List.of("$A:0", "</s>:0");
            pair = List.of("$A:0", "</s>:0", "$B:0", "</s>:0");
        } else {
            return null;
        }
        ObjectNode t = Json.MAPPER.createObjectNode().put("type", "TemplateProcessing");
        t.set("single", pieces(single));
        t.set("pair", pieces(pair));
        ObjectNode specials = t.putObject("special_tokens");
        for (String s : pair) {
            String token = s.substring(0, s.lastIndexOf(':'));
            if (!token.startsWith("$")) {
                ObjectNode entry = specials.putObject(token);
                entry.put("id", token);
                entry.putArray("ids").add(ids.get(token));
                entry.putArray("tokens").add(token);
            }
        }
        return t;
    }

    private static ArrayNode pieces(List<String> template) {
        ArrayNode out = Json.MAPPER.createArrayNode();
        for (String s : template) {
            String name = s.substring(0, s.lastIndexOf(':'));
            int typeId = Integer.parseInt(s.substring(s.lastIndexOf(':') + 1));
            if (name.startsWith("$")) {
                out.addObject().putObject("Sequence").put("id", name.substring(1)).put("type_id", typeId);
            } else {
                out.addObject().putObject("SpecialToken").put("id", name).put("type_id", typeId);
            }
        }
        return out;
    }
}
