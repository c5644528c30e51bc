package io.outrigger.listener;

import io.netty.channel.IoHandle;
import io.netty.channel.IoHandler;
import io.netty.channel.IoHandlerContext;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.IoRegistration;
import io.netty.util.concurrent.ThreadAwareExecutor;

import java.util.function.UnaryOperator;

/**
 * An event loop's I/O handler that hands every call to the one it wraps; a subclass changes what it
 * needs (usually {@link #run}). Used on the event loop's own thread only, like the handler it wraps.
 */
abstract class ForwardingIoHandler implements IoHandler {
    private final IoHandler handler;

    ForwardingIoHandler(IoHandler handler) {
        this.handler = handler;
    }

    /** {@code factory}'s handlers, each wrapped by {@code wrap}. */
    static IoHandlerFactory wrapEach(IoHandlerFactory factory, UnaryOperator<IoHandler> wrap) {
        return new IoHandlerFactory() {
            @Override
            public IoHandler newHandler(ThreadAwareExecutor executor) {
                return wrap.apply(factory.newHandler(executor));
            }

            @Override
            public boolean isChangingThreadSupported() {
                return factory.isChangingThreadSupported();
            }
        };
    }

    @Override
    public int run(IoHandlerContext context) {
        return handler.run(context);
    }

    @Override
    public void initialize() {
        handler.initialize();
    }

    @Override
    public void prepareToDestroy() {
        handler.prepareToDestroy();
    }

    @Override
    public void destroy() {
        handler.destroy();
    }

    @Override
    public IoRegistration register(IoHandle handle) throws Exception {
        return handler.register(handle);
    }

    @Override
    public void wakeup() {
        handler.wakeup();
    }

    @Override
    public boolean isCompatible(Class<? extends IoHandle> handleType) {
        return handler.isCompatible(handleType);
    }
}
