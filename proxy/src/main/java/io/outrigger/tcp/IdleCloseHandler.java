package io.outrigger.tcp;

import io.netty.channel.ChannelHandler.Sharable;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.handler.timeout.IdleStateEvent;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Closes a relayed connection when its {@link io.netty.handler.timeout.IdleStateHandler} reports
 * it idle; the relay then closes the other side. A connection with bytes still queued for it (a peer
 * that stopped reading) is reset: a FIN after the part that got through would tell it the stream
 * ended whole. Stateless and {@code @Sharable}.
 */
@Sharable
final class IdleCloseHandler extends ChannelInboundHandlerAdapter {
    static final IdleCloseHandler INSTANCE = new IdleCloseHandler();
    private static final Logger log = LoggerFactory.getLogger(IdleCloseHandler.class);

    private IdleCloseHandler() {
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof IdleStateEvent) {
            RelayHandler relay = ctx.pipeline().get(RelayHandler.class);
            if (relay != null) {
                relay.closingIdle(); // the other side is closed, not reset (a closed relay side otherwise resets it)
            }
            ChannelOutboundBuffer queued = ctx.channel().unsafe().outboundBuffer();
            if (queued != null && queued.totalPendingWriteBytes() > 0) {
                log.debug("tcp connection {} idle with {} bytes unsent; resetting it and closing the other side",
                        ctx.channel().remoteAddress(), queued.totalPendingWriteBytes());
                RelayHandler.reset(ctx.channel());
                return;
            }
            log.debug("tcp connection {} idle; closing both sides", ctx.channel().remoteAddress());
            ctx.close();
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }
}
