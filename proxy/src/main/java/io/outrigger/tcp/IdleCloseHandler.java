package io.outrigger.tcp;

import io.netty.channel.ChannelHandler.Sharable;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.timeout.IdleStateEvent;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Closes a relayed connection when its {@link io.netty.handler.timeout.IdleStateHandler} reports
 * it idle; the relay then closes the other side. Stateless and {@code @Sharable}.
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
            log.debug("tcp connection {} idle; closing both sides", ctx.channel().remoteAddress());
            ctx.close();
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }
}
