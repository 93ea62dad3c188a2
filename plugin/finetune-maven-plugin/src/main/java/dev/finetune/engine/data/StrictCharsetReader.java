package dev.finetune.engine.data;

import java.io.IOException;
import java.io.InputStream;
import java.io.Reader;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.Charset;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.file.Path;

/**
 * Decoding in one charset (UTF-8, windows-1252, ...) that refuses bytes the charset does not define and reports
 * them only after every good character before them has been read. Why not InputStreamReader: it throws as soon as a
 * bad byte is in the chunk it decodes, so the reader above it cannot tell on which line the bad byte is.
 */
final class StrictCharsetReader extends Reader {
    /** A byte that is not valid in the charset, with its offset in the file. */
    static final class MalformedByteException extends IOException {
        final int value;
        final long offset;
        final Charset charset;

        MalformedByteException(int value, long offset, Charset charset) {
            super(String.format("byte 0x%02X at offset %d is not valid %s", value, offset, charset.name()));
            this.value = value;
            this.offset = offset;
            this.charset = charset;
        }

        /** The error to report: the byte, the line it is on and the charset to save the file in. */
        DataException at(Path file, long line) {
            return DataException.at(file, line, null, getMessage() + "; save the file as " + charset.name() + ".");
        }
    }

    private final InputStream in;
    private final Charset charset;
    private final CharsetDecoder decoder;
    private final ByteBuffer bytes = ByteBuffer.allocate(1 << 16).flip();
    private long consumed;
    private boolean eof;
    private boolean flushed;
    private MalformedByteException pending;

    StrictCharsetReader(InputStream in, Charset charset) {
        this.in = in;
        this.charset = charset;
        this.decoder = charset.newDecoder().onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
    }

    @Override
    public int read(char[] cbuf, int off, int len) throws IOException {
        if (pending != null) {
            throw pending;
        }
        if (flushed) {
            return -1;
        }
        if (len == 0) {
            return 0;
        }
        CharBuffer out = CharBuffer.wrap(cbuf, off, len);
        while (true) {
            int before = bytes.position();
            CoderResult r = decoder.decode(bytes, out, eof);
            consumed += bytes.position() - before;
            if (r.isError()) {
                MalformedByteException e = new MalformedByteException(bytes.get(bytes.position()) & 0xFF, consumed, charset);
                if (out.position() > off) {
                    pending = e;
                    return out.position() - off;
                }
                throw e;
            }
            if (out.position() > off && (r.isOverflow() || bytes.remaining() == 0)) {
                return out.position() - off;
            }
            if (eof) {
                decoder.flush(out);
                flushed = true;
                return out.position() == off ? -1 : out.position() - off;
            }
            bytes.compact();
            int n = in.read(bytes.array(), bytes.position(), bytes.remaining());
            if (n < 0) {
                eof = true;
            } else {
                bytes.position(bytes.position() + n);
            }
            bytes.flip();
        }
    }

    @Override
    public void close() throws IOException {
        in.close();
    }
}
