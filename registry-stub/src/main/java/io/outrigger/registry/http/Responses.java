package io.outrigger.registry.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;

import java.nio.charset.StandardCharsets;

/** Builds and writes JSON responses. Stateless and thread-safe. */
public final class Responses {
    public static final ObjectMapper JSON = new ObjectMapper();

    private Responses() {
    }

    /** A response with {@code body} serialised as JSON. */
    public static FullHttpResponse json(HttpResponseStatus status, Object body) {
        byte[] bytes;
        try {
            bytes = JSON.writeValueAsBytes(body);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialise a response", e);
        }
        FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, Unpooled.wrappedBuffer(bytes));
        res.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON)
                .setInt(HttpHeaderNames.CONTENT_LENGTH, bytes.length);
        return res;
    }

    /** {@code {"error": message}} with the status. */
    public static FullHttpResponse error(HttpResponseStatus status, String message) {
        ObjectNode body = JSON.createObjectNode().put("error", message);
        return json(status, body);
    }

    /** A plain-text response, as Consul answers errors. */
    public static FullHttpResponse text(HttpResponseStatus status, String text) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, Unpooled.wrappedBuffer(bytes));
        res.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.TEXT_PLAIN + "; charset=utf-8")
                .setInt(HttpHeaderNames.CONTENT_LENGTH, bytes.length);
        return res;
    }

    /** Writes {@code res} if the channel is still open (else releases it), keeping the connection alive when asked. */
    public static void send(ChannelHandlerContext ctx, boolean keepAlive, FullHttpResponse res) {
        if (!ctx.channel().isActive()) {
            res.release();
            return;
        }
        HttpUtil.setKeepAlive(res, keepAlive);
        ctx.writeAndFlush(res);
    }
}
