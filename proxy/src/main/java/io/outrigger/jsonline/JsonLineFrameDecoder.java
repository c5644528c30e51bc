package io.outrigger.jsonline;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;

import java.util.List;

/**
 * Splits bytes into lines ({@code \n} or {@code \r\n}), like Netty's {@code LineBasedFrameDecoder}
 * without fail-fast: a line longer than {@code maxLineBytes} is skipped whole and becomes one
 * {@link OversizedLine} (carrying its {@code src}, {@code dest} and {@code msg_id}, read by an
 * {@link EnvelopeScanner} as its bytes pass), and the line after it is still read.
 * Blank lines are dropped. At end of input ({@code ChannelInputShutdownEvent}) a last line
 * without a delimiter is still emitted.
 *
 * <pre>
 *   ByteBuf --> [JsonLineFrameDecoder] --> ByteBuf (one line, delimiter stripped) | OversizedLine
 * </pre>
 *
 * Emitted line buffers are owned by the next handler. Not sharable: it keeps the partial line.
 */
public final class JsonLineFrameDecoder extends ByteToMessageDecoder {
    /** The default limit: 1 MiB per line. */
    public static final int DEFAULT_MAX_LINE_BYTES = 1 << 20;

    private final int maxLineBytes;
    /** Bytes after the reader index already searched for a delimiter. */
    private int scanned;
    /** Non-null while the rest of an oversized line is being skipped: reads what it tells as it passes. */
    private EnvelopeScanner discarding;
    private long discardedBytes;
    /** Whether the last byte skipped of an oversized line was a CR: the first half of its CRLF, maybe. */
    private boolean discardedCr;

    public JsonLineFrameDecoder() {
        this(DEFAULT_MAX_LINE_BYTES);
    }

    public JsonLineFrameDecoder(int maxLineBytes) {
        if (maxLineBytes <= 0) {
            throw new IllegalArgumentException("maxLineBytes: " + maxLineBytes + " (expected: > 0)");
        }
        this.maxLineBytes = maxLineBytes;
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        for (;;) {
            int start = in.readerIndex();
            int eol = in.indexOf(start + scanned, in.writerIndex(), (byte) '\n');
            if (eol < 0) {
                scanned = in.readableBytes();
                if (discarding != null) {
                    discard(in);
                    scanned = 0;
                } else if (stripCr(in, start, in.readableBytes()) > maxLineBytes) {
                    // A trailing CR may be the first half of a CRLF whose LF has not arrived yet: not part of the line.
                    discarding = new EnvelopeScanner(maxLineBytes);
                    discardedBytes = 0;
                    discard(in);
                    scanned = 0;
                }
                return;
            }
            scanned = 0;
            int length = eol - start;
            if (discarding != null) {
                in.forEachByte(start, length, discarding);
                out.add(new OversizedLine(discarding.result(), discardedLength(in, start, length), maxLineBytes));
                discarding = null;
                discardedBytes = 0;
                in.readerIndex(eol + 1);
                continue;
            }
            emit(in, stripCr(in, start, length), out);
            in.readerIndex(eol + 1);
        }
    }

    @Override
    protected void decodeLast(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        decode(ctx, in, out);
        if (discarding != null) {
            in.forEachByte(in.readerIndex(), in.readableBytes(), discarding);
            out.add(new OversizedLine(discarding.result(), discardedLength(in, in.readerIndex(), in.readableBytes()), maxLineBytes));
            discarding = null;
        } else if (in.isReadable()) {
            emit(in, stripCr(in, in.readerIndex(), in.readableBytes()), out);
        }
        in.skipBytes(in.readableBytes());
        scanned = 0;
    }

    /** Skips what came of an oversized line (once the scanner read it), noting whether it ended in a CR. */
    private void discard(ByteBuf in) {
        if (!in.isReadable()) {
            return;
        }
        in.forEachByte(discarding);
        discardedCr = in.getByte(in.writerIndex() - 1) == '\r';
        discardedBytes += in.readableBytes();
        in.skipBytes(in.readableBytes());
    }

    /**
     * The length of the oversized line being skipped, whose last {@code length} bytes from {@code start} are
     * still in {@code in}: without its CR when that came as the last byte before the LF (or the end of input)
     * in an earlier read, as for a line that came whole.
     */
    private long discardedLength(ByteBuf in, int start, int length) {
        return length == 0 && discardedCr ? discardedBytes - 1 : discardedBytes + stripCr(in, start, length);
    }

    private void emit(ByteBuf in, int length, List<Object> out) {
        int start = in.readerIndex();
        if (length > maxLineBytes) {
            EnvelopeScanner scanner = new EnvelopeScanner(maxLineBytes);
            in.forEachByte(start, length, scanner);
            out.add(new OversizedLine(scanner.result(), length, maxLineBytes));
        } else if (!isBlank(in, start, length)) {
            out.add(in.retainedSlice(start, length));
        }
    }

    private static int stripCr(ByteBuf in, int start, int length) {
        return length > 0 && in.getByte(start + length - 1) == '\r' ? length - 1 : length;
    }

    private static boolean isBlank(ByteBuf in, int start, int length) {
        for (int i = start; i < start + length; i++) {
            byte b = in.getByte(i);
            if (b != ' ' && b != '\t' && b != '\r') {
                return false;
            }
        }
        return true;
    }
}
